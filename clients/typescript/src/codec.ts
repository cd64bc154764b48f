/**
 * Codecs between the JSON wire format and the API's values, each with a {@link Shape}: the
 * description that `test/unit/openrpc.test.ts` compares with `specs/openrpc.json`, so a type this
 * client decodes cannot drift from the node's document without a test failing.
 *
 * Decoding checks every value (a wrong answer is a {@link ProtocolError} naming where); in
 * strict mode fields the client does not know are errors too. Encoding checks the caller's values
 * ({@link EncodingError}).
 *
 * @module
 * @internal
 */

import {
  fromHex,
  isHex,
  parseDecimal,
  toAmount,
  toBytes,
  toHex,
  U64_MAX,
  isName,
  type AddressOrName,
  type Amount,
  type BytesLike,
  type Hex,
} from './bytes.js';
import { EncodingError, ProtocolError } from './errors.js';

/** How a string field is read: plain text, a `0x` identifier, `0x` bytes, or a decimal number. */
export type StringFormat = 'text' | 'hex' | 'bytes' | 'decimal';

/** The structure of a wire value (what the OpenRPC document describes). */
export type Shape =
  | { readonly kind: 'string'; readonly format: StringFormat }
  | { readonly kind: 'const'; readonly value: string }
  | { readonly kind: 'integer'; readonly format: 'uint8' | 'uint32' | 'uint64' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'json' }
  | { readonly kind: 'array'; readonly items: Shape }
  | { readonly kind: 'map'; readonly values: Shape }
  | { readonly kind: 'nullable'; readonly inner: Shape }
  | { readonly kind: 'ref'; readonly name: string }
  | ObjectShape
  | { readonly kind: 'oneOf'; readonly variants: readonly ObjectShape[] }
  | { readonly kind: 'anyOf'; readonly options: readonly Shape[] };

/** An object's fields, and whether unknown fields are refused by the node (`closed`). */
export interface ObjectShape {
  readonly kind: 'object';
  readonly fields: Readonly<Record<string, { readonly shape: Shape; readonly required: boolean }>>;
  readonly closed: boolean;
}

/** Decoding options. */
export interface DecodeContext {
  /** Refuse fields the client does not know (tests run strict; dapps need not). */
  readonly strict: boolean;
}

/** Converts one wire value to and from its API value. */
export interface Codec<T> {
  /** The wire structure. */
  readonly shape: Shape;
  /** Reads a wire value. @throws {@link ProtocolError} */
  decode(wire: unknown, path: string, ctx: DecodeContext): T;
  /** Writes an API value. @throws {@link EncodingError} */
  encode(value: T, path: string): unknown;
}

/** A JSON value. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** JSON given by a caller: as {@link JsonValue}, but `bigint` is allowed and written exactly. */
export type JsonInput =
  | null
  | boolean
  | number
  | bigint
  | string
  | readonly JsonInput[]
  | { readonly [key: string]: JsonInput | undefined };

function fail(path: string, message: string): never {
  throw new ProtocolError(path, message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value).slice(0, 80)}` : typeof value;
}

function expectString(wire: unknown, path: string): string {
  if (typeof wire !== 'string') fail(path, `expected a string, got ${describe(wire)}`);
  return wire;
}

/** Plain text. */
export const text: Codec<string> = {
  shape: { kind: 'string', format: 'text' },
  decode: (wire, path) => expectString(wire, path),
  encode: (value, path) => {
    if (typeof value !== 'string') throw new EncodingError(`${path}: expected a string`);
    return value;
  },
};

/** A fixed string (a tag such as `"transfer"`). */
export function constant<V extends string>(value: V): Codec<V> {
  return {
    shape: { kind: 'const', value },
    decode: (wire, path) => {
      if (wire !== value) fail(path, `expected ${JSON.stringify(value)}, got ${describe(wire)}`);
      return value;
    },
    encode: () => value,
  };
}

/**
 * A `0x` identifier kept as lowercase {@link Hex}; `bytes` fixes its length (32 for addresses
 * and hashes).
 */
export function hex(bytes?: number): Codec<Hex> {
  return {
    shape: { kind: 'string', format: 'hex' },
    decode: (wire, path) => {
      const value = expectString(wire, path);
      if (!isHex(value)) fail(path, `expected 0x hex, got ${describe(wire)}`);
      if (bytes !== undefined && value.length !== 2 + 2 * bytes) {
        fail(path, `expected ${bytes} bytes of hex, got ${(value.length - 2) / 2}`);
      }
      return value.toLowerCase() as Hex;
    },
    encode: (value, path) => toHex(toBytes(value, path, bytes)),
  };
}

/** A 32-byte identifier: addresses, hashes, roots, topics. */
export const hex32: Codec<Hex> = hex(32);

/**
 * A contract or account as the API takes it: a registered name as is, anything else as a
 * 32-byte `0x` address (`specs/names.md`).
 */
export const addressOrName: Codec<AddressOrName> = {
  shape: { kind: 'string', format: 'text' },
  decode: (wire, path, ctx) => {
    const value = expectString(wire, path);
    return isName(value) ? value : hex32.decode(value, path, ctx);
  },
  encode: (value, path) => {
    if (typeof value === 'string' && isName(value)) return value;
    return hex32.encode(value as Hex, path);
  },
};

/** `0x` bytes as a `Uint8Array`. */
export const bytes: Codec<Uint8Array> = {
  shape: { kind: 'string', format: 'bytes' },
  decode: (wire, path) => {
    const value = expectString(wire, path);
    if (!isHex(value)) fail(path, `expected 0x hex, got ${describe(wire)}`);
    return fromHex(value);
  },
  encode: (value, path) => toHex(toBytes(value, path)),
};

/** `0x` bytes given by a caller as a `Uint8Array` or hex. */
export const bytesInput: Codec<BytesLike> = {
  shape: bytes.shape,
  decode: (wire, path, ctx) => bytes.decode(wire, path, ctx),
  encode: (value, path) => toHex(toBytes(value, path)),
};

/** A decimal string as `bigint` (gas, amounts: up to 2^256 − 1). */
export const decimal: Codec<bigint> = {
  shape: { kind: 'string', format: 'decimal' },
  decode: (wire, path) => {
    const value = expectString(wire, path);
    try {
      return parseDecimal(value, path);
    } catch (e) {
      return fail(path, (e as Error).message);
    }
  },
  encode: (value, path) => toAmount(value, path).toString(),
};

/** A decimal string given by a caller as `bigint` or a safe integer. */
export const amount: Codec<Amount> = {
  shape: decimal.shape,
  decode: (wire, path, ctx) => decimal.decode(wire, path, ctx),
  encode: (value, path) => toAmount(value, path).toString(),
};

/** A decimal string that must fit a `u64` (gas limits). */
export const gasAmount: Codec<Amount> = {
  shape: decimal.shape,
  decode: (wire, path, ctx) => {
    const value = decimal.decode(wire, path, ctx);
    if (value > U64_MAX) fail(path, `${value} does not fit in u64`);
    return value;
  },
  encode: (value, path) => toAmount(value, path, U64_MAX).toString(),
};

const INTEGER_MAX = { uint8: 0xff, uint32: 0xffff_ffff, uint64: Number.MAX_SAFE_INTEGER } as const;

function integer(format: 'uint8' | 'uint32' | 'uint64'): Codec<number> {
  const max = INTEGER_MAX[format];
  const check = (value: unknown): value is number =>
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
  return {
    shape: { kind: 'integer', format },
    decode: (wire, path) => {
      if (!check(wire)) fail(path, `expected a ${format} (0..=${max}), got ${describe(wire)}`);
      return wire;
    },
    encode: (value, path) => {
      if (!check(value)) throw new EncodingError(`${path}: expected an integer in 0..=${max}`);
      return value;
    },
  };
}

/** A JSON number that fits `u8`. */
export const u8: Codec<number> = integer('uint8');
/** A JSON number that fits `u32`. */
export const u32: Codec<number> = integer('uint32');
/**
 * A JSON number of a `u64` field. Heights, nonces and counts never reach 2^53 (`specs/rpc.md`);
 * a larger one is refused rather than rounded.
 */
export const u64: Codec<number> = integer('uint64');

/** `true` or `false`. */
export const boolean: Codec<boolean> = {
  shape: { kind: 'boolean' },
  decode: (wire, path) => {
    if (typeof wire !== 'boolean') fail(path, `expected a boolean, got ${describe(wire)}`);
    return wire;
  },
  encode: (value, path) => {
    if (typeof value !== 'boolean') throw new EncodingError(`${path}: expected a boolean`);
    return value;
  },
};

/** Any JSON value, as parsed. */
export const json: Codec<JsonValue> = {
  shape: { kind: 'json' },
  decode: (wire) => wire as JsonValue,
  encode: (value) => value,
};

/** Any JSON value given by a caller (`bigint` written exactly). */
export const jsonInput: Codec<JsonInput> = {
  shape: { kind: 'json' },
  decode: (wire) => wire as JsonInput,
  encode: (value) => value,
};

/** A JSON array. */
export function array<T>(item: Codec<T>): Codec<T[]> {
  return {
    shape: { kind: 'array', items: item.shape },
    decode: (wire, path, ctx) => {
      if (!Array.isArray(wire)) fail(path, `expected an array, got ${describe(wire)}`);
      return wire.map((element, i) => item.decode(element, `${path}[${i}]`, ctx));
    },
    encode: (value, path) => {
      if (!Array.isArray(value)) throw new EncodingError(`${path}: expected an array`);
      return value.map((element, i) => item.encode(element, `${path}[${i}]`));
    },
  };
}

function isObject(wire: unknown): wire is Record<string, unknown> {
  return typeof wire === 'object' && wire !== null && !Array.isArray(wire);
}

/** A JSON object used as a map (`additionalProperties`), e.g. a gas breakdown. */
export function map<T>(value: Codec<T>): Codec<Record<string, T>> {
  return {
    shape: { kind: 'map', values: value.shape },
    decode: (wire, path, ctx) => {
      if (!isObject(wire)) fail(path, `expected an object, got ${describe(wire)}`);
      const out: Record<string, T> = {};
      for (const [key, element] of Object.entries(wire)) {
        out[key] = value.decode(element, `${path}.${key}`, ctx);
      }
      return out;
    },
    encode: (input, path) => {
      const out: Record<string, unknown> = {};
      for (const [key, element] of Object.entries(input)) {
        out[key] = value.encode(element, `${path}.${key}`);
      }
      return out;
    },
  };
}

/** `null` or a value. */
export function nullable<T>(inner: Codec<T>): Codec<T | null> {
  return {
    shape: { kind: 'nullable', inner: inner.shape },
    decode: (wire, path, ctx) => (wire === null ? null : inner.decode(wire, path, ctx)),
    encode: (value, path) => (value === null ? null : inner.encode(value, path)),
  };
}

/** One field of an object: its codec and whether the wire must carry it. */
export interface Field<T> {
  /** The field's wire structure. */
  readonly shape: Shape;
  /** Whether the field must be present. */
  readonly required: boolean;
  /** Reads the field (`present`: whether the key was in the object). */
  decode(wire: unknown, present: boolean, path: string, ctx: DecodeContext): T;
  /** Writes the field; `undefined` omits it. */
  encode(value: T, path: string): unknown;
}

/** A field the wire always carries. */
export function required<T>(codec: Codec<T>): Field<T> {
  return {
    shape: codec.shape,
    required: true,
    decode: (wire, present, path, ctx) => {
      if (!present) fail(path, 'missing');
      return codec.decode(wire, path, ctx);
    },
    encode: (value, path) => codec.encode(value, path),
  };
}

/** A field that may be absent: `undefined` in the API, omitted on the wire. */
export function optional<T>(codec: Codec<T>): Field<T | undefined> {
  return {
    shape: codec.shape,
    required: false,
    decode: (wire, present, path, ctx) =>
      present && wire !== undefined ? codec.decode(wire, path, ctx) : undefined,
    encode: (value, path) => (value === undefined ? undefined : codec.encode(value, path)),
  };
}

/** A field that may be absent on the wire and reads as `fallback` then. */
export function defaulted<T>(codec: Codec<T>, fallback: T): Field<T> {
  return {
    shape: codec.shape,
    required: false,
    decode: (wire, present, path, ctx) =>
      present && wire !== undefined ? codec.decode(wire, path, ctx) : fallback,
    encode: (value, path) => codec.encode(value, path),
  };
}

/** The field codecs of an object type: exactly its keys, each with a codec of its type. */
export type Fields<T> = { readonly [K in keyof T]-?: Field<T[K]> };

/**
 * A JSON object with known fields. `closed`: the node refuses unknown fields (its type is
 * `deny_unknown_fields`), which the OpenRPC document says as `additionalProperties: false`.
 */
export function object<T>(fields: Fields<T>, options: { closed?: boolean } = {}): Codec<T> & {
  readonly shape: ObjectShape;
} {
  const entries = Object.entries(fields) as [string, Field<unknown>][];
  const shapeFields: Record<string, { shape: Shape; required: boolean }> = {};
  for (const [key, field] of entries) {
    shapeFields[key] = { shape: field.shape, required: field.required };
  }
  return {
    shape: { kind: 'object', fields: shapeFields, closed: options.closed ?? false },
    decode: (wire, path, ctx) => {
      if (!isObject(wire)) fail(path, `expected an object, got ${describe(wire)}`);
      const out: Record<string, unknown> = {};
      for (const [key, field] of entries) {
        out[key] = field.decode(wire[key], Object.hasOwn(wire, key), `${path}.${key}`, ctx);
      }
      if (ctx.strict) {
        for (const key of Object.keys(wire)) {
          if (!Object.hasOwn(fields, key)) fail(`${path}.${key}`, 'a field this client does not know');
        }
      }
      return out as T;
    },
    encode: (value, path) => {
      if (typeof value !== 'object' || value === null) {
        throw new EncodingError(`${path}: expected an object`);
      }
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(fields, key) && input[key] !== undefined) {
          throw new EncodingError(`${path}.${key}: unknown field`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, field] of entries) {
        const encoded = field.encode(input[key], `${path}.${key}`);
        if (encoded !== undefined) out[key] = encoded;
      }
      return out;
    },
  };
}

/** The variant codecs of a {@link oneOf}, by their `kind`. */
export type Variants<T extends { kind: string }> = {
  readonly [K in T['kind']]: Codec<Extract<T, { kind: K }>> & { readonly shape: ObjectShape };
};

/** A union of objects told apart by their constant `kind` field. */
export function oneOf<T extends { kind: string }>(variants: Variants<T>): Codec<T> {
  const byKind = new Map<string, Codec<unknown>>();
  const shapes: ObjectShape[] = [];
  for (const [kind, variant] of Object.entries(variants) as [string, Codec<unknown>][]) {
    const shape = variant.shape as ObjectShape;
    const tag = shape.fields['kind']?.shape;
    if (tag?.kind !== 'const' || tag.value !== kind) {
      throw new Error(`oneOf: variant ${kind} needs the constant field kind = ${kind}`);
    }
    byKind.set(kind, variant);
    shapes.push(shape);
  }
  const kinds = [...byKind.keys()].join(', ');
  return {
    shape: { kind: 'oneOf', variants: shapes },
    decode: (wire, path, ctx) => {
      const kind = isObject(wire) ? wire['kind'] : undefined;
      const variant = typeof kind === 'string' ? byKind.get(kind) : undefined;
      if (!variant) fail(`${path}.kind`, `expected one of ${kinds}, got ${describe(kind)}`);
      return variant.decode(wire, path, ctx) as T;
    },
    encode: (value, path) => {
      const kind: unknown = (value as { kind?: unknown } | null)?.kind;
      const variant = typeof kind === 'string' ? byKind.get(kind) : undefined;
      if (!variant) throw new EncodingError(`${path}.kind: expected one of ${kinds}`);
      return variant.encode(value, path);
    },
  };
}

/** The wire structure of every named schema, by name (filled as the schemas are defined). */
export const SCHEMA_SHAPES: Map<string, Shape> = new Map();

/**
 * A named schema (a `components.schemas` entry of the document): used elsewhere as a reference
 * to `name`. `define` may refer to the result through a getter (recursive types).
 */
export function named<T>(name: string, define: () => Codec<T>): Codec<T> {
  let codec: Codec<T> | undefined;
  const get = (): Codec<T> => {
    if (!codec) {
      codec = define();
      SCHEMA_SHAPES.set(name, codec.shape);
    }
    return codec;
  };
  queueDefinition(get);
  return {
    shape: { kind: 'ref', name },
    decode: (wire, path, ctx) => get().decode(wire, path, ctx),
    encode: (value, path) => get().encode(value, path),
  };
}

const pending: (() => unknown)[] = [];

function queueDefinition(get: () => unknown): void {
  pending.push(get);
}

/** Defines every named schema (so {@link SCHEMA_SHAPES} is complete). */
export function defineAll(): void {
  for (const get of pending.splice(0)) get();
}
