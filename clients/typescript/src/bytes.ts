/**
 * Bytes, hex and decimal conventions of the API.
 *
 * - Variable-length data (code, input, output, event data, proofs, storage values) is a
 *   `Uint8Array`.
 * - Fixed-size identifiers (addresses, hashes, roots, topics, public keys, signatures) are
 *   {@link Hex} strings: `0x` followed by lowercase hex digits, so they compare with `===`.
 * - Gas and amounts are `bigint` (the wire carries them as decimal strings).
 *
 * @module
 */

import { EncodingError } from './errors.js';

/** `0x`-prefixed hex text. Values returned by this package are always lowercase. */
export type Hex = `0x${string}`;

/** Bytes given either as a `Uint8Array` or as `0x` hex. */
export type BytesLike = Uint8Array | Hex;

/** The largest `u64`: 2^64 − 1. */
export const U64_MAX: bigint = (1n << 64n) - 1n;
/** The largest `u256`: 2^256 − 1. */
export const U256_MAX: bigint = (1n << 256n) - 1n;

const HEX_DIGITS = '0123456789abcdef';
const HEX_RE = /^0x(?:[0-9a-fA-F]{2})*$/;

/** `0x`-prefixed lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): Hex {
  let out = '0x';
  for (const byte of bytes) {
    out += HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 15]!;
  }
  return out as Hex;
}

/** Whether `text` is `0x` followed by an even number of hex digits. */
export function isHex(text: unknown): text is Hex {
  return typeof text === 'string' && HEX_RE.test(text);
}

/**
 * Decodes `0x`-prefixed hex (either case).
 *
 * @param what - names the value in the error message.
 * @param length - the exact number of bytes expected, if any.
 * @throws {@link EncodingError} without `0x`, with an odd number of digits, a non-hex character
 *   or the wrong length.
 */
export function fromHex(text: string, what = 'hex', length?: number): Uint8Array {
  if (!isHex(text)) {
    throw new EncodingError(`${what}: expected 0x followed by an even number of hex digits`);
  }
  const out = new Uint8Array((text.length - 2) / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = Number.parseInt(text.slice(2 + 2 * i, 4 + 2 * i), 16);
  }
  if (length !== undefined && out.length !== length) {
    throw new EncodingError(`${what}: expected ${length} bytes, got ${out.length}`);
  }
  return out;
}

/**
 * The bytes of a {@link BytesLike}: a copy of a `Uint8Array`, or decoded hex.
 *
 * @throws {@link EncodingError} for malformed hex, the wrong length, or another type.
 */
export function toBytes(value: BytesLike, what = 'bytes', length?: number): Uint8Array {
  if (value instanceof Uint8Array) {
    if (length !== undefined && value.length !== length) {
      throw new EncodingError(`${what}: expected ${length} bytes, got ${value.length}`);
    }
    return Uint8Array.from(value);
  }
  if (typeof value === 'string') {
    return fromHex(value, what, length);
  }
  throw new EncodingError(`${what}: expected a Uint8Array or 0x hex`);
}

/**
 * A 32-byte identifier (address, hash) as lowercase {@link Hex}.
 *
 * @throws {@link EncodingError} when it is not exactly 32 bytes.
 */
export function toHex32(value: BytesLike, what = 'hash'): Hex {
  return toHex(toBytes(value, what, 32));
}

/** The concatenation of `parts`. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Whether two byte arrays are equal. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * The text of UTF-8 `bytes`.
 *
 * @throws {@link EncodingError} when the bytes are not valid UTF-8.
 */
export function fromUtf8(bytes: Uint8Array, what = 'text'): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    throw new EncodingError(`${what}: not valid UTF-8`);
  }
}

/** The text of UTF-8 `bytes`, or `null` when they are not valid UTF-8. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

const DECIMAL_RE = /^[0-9]+$/;

/**
 * Parses a decimal integer string as the wire carries gas and amounts.
 *
 * @throws {@link EncodingError} for anything but ASCII digits, or a value above `max`.
 */
export function parseDecimal(text: string, what = 'decimal', max: bigint = U256_MAX): bigint {
  if (typeof text !== 'string' || !DECIMAL_RE.test(text)) {
    throw new EncodingError(`${what}: expected a decimal integer string`);
  }
  const value = BigInt(text);
  if (value > max) {
    throw new EncodingError(`${what}: ${text} is above ${max}`);
  }
  return value;
}

/** Amounts and gas accepted as input: a non-negative `bigint`, or a safe non-negative integer. */
export type Amount = bigint | number;

/**
 * An {@link Amount} as `bigint`, checked to lie in `0..=max`.
 *
 * @throws {@link EncodingError} for negative, fractional, unsafe or too large values.
 */
export function toAmount(value: Amount, what = 'amount', max: bigint = U256_MAX): bigint {
  let big: bigint;
  if (typeof value === 'bigint') {
    big = value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    big = BigInt(value);
  } else {
    throw new EncodingError(`${what}: expected a bigint or a safe integer, got ${String(value)}`);
  }
  if (big < 0n || big > max) {
    throw new EncodingError(`${what}: ${big} is outside 0..=${max}`);
  }
  return big;
}

/** Fewest bytes of a name. */
export const NAME_LEN_MIN = 3;
/** Most bytes of a name. */
export const NAME_LEN_MAX = 32;

/** The naming rules, in the order the node checks them (`specs/names.md`). */
export type NameRule = 'tooShort' | 'tooLong' | 'badCharacter' | 'edgeHyphen' | 'addressPrefix';

/** The first naming rule `name` breaks, `null` when it is a well-formed name. */
export function nameRule(name: string): NameRule | null {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length < NAME_LEN_MIN) return 'tooShort';
  if (bytes.length > NAME_LEN_MAX) return 'tooLong';
  if (!/^[a-z0-9-]*$/.test(name)) return 'badCharacter';
  if (name.startsWith('-') || name.endsWith('-')) return 'edgeHyphen';
  if (name.startsWith('0x')) return 'addressPrefix';
  return null;
}

/** Whether `text` is a well-formed name (as opposed to an address or anything else). */
export function isName(text: string): boolean {
  return nameRule(text) === null;
}

/**
 * A contract or account given by its `0x` address or by its registered name: accepted wherever
 * the API takes an address (`specs/names.md`). Names never start with `0x`, so the two never
 * overlap.
 */
export type AddressOrName = string;
