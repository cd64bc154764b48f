/**
 * The subset of borsh (https://borsh.io) the wire format uses: little-endian integers, `u256` as
 * 32 little-endian bytes, fixed arrays as raw bytes, `Vec<u8>` and `String` as a `u32` length
 * followed by the bytes, `Option` and enums as a one-byte tag.
 *
 * @module
 */

import { EncodingError } from './errors.js';
import { fromUtf8, U256_MAX, U64_MAX, utf8 } from './bytes.js';

/** Most bytes one `Vec<u8>`/`String` may announce: its `u32` length prefix allows no more. */
const U32_MAX = 0xffff_ffff;

/** Appends borsh values to a growing buffer. */
export class BorshWriter {
  private buffer = new Uint8Array(256);
  private length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** One byte. */
  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new EncodingError(`u8 out of range: ${value}`);
    }
    this.reserve(1);
    this.buffer[this.length++] = value;
    return this;
  }

  /** Four bytes, little-endian. */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      throw new EncodingError(`u32 out of range: ${value}`);
    }
    return this.uint(BigInt(value), 4);
  }

  /** Eight bytes, little-endian. */
  u64(value: bigint): this {
    if (value < 0n || value > U64_MAX) throw new EncodingError(`u64 out of range: ${value}`);
    return this.uint(value, 8);
  }

  /** 32 bytes, little-endian (the wire's `U256`). */
  u256(value: bigint): this {
    if (value < 0n || value > U256_MAX) throw new EncodingError(`u256 out of range: ${value}`);
    return this.uint(value, 32);
  }

  private uint(value: bigint, bytes: number): this {
    this.reserve(bytes);
    let rest = value;
    for (let i = 0; i < bytes; i++) {
      this.buffer[this.length++] = Number(rest & 0xffn);
      rest >>= 8n;
    }
    return this;
  }

  /** Raw bytes (a fixed-size array: no length prefix). */
  fixed(bytes: Uint8Array, size: number): this {
    if (bytes.length !== size) {
      throw new EncodingError(`expected ${size} bytes, got ${bytes.length}`);
    }
    this.reserve(size);
    this.buffer.set(bytes, this.length);
    this.length += size;
    return this;
  }

  /** A `Vec<u8>`: `u32` length, then the bytes. */
  bytes(bytes: Uint8Array): this {
    this.u32(bytes.length);
    return this.fixed(bytes, bytes.length);
  }

  /** A `String`: its UTF-8 bytes as a `Vec<u8>`. */
  string(text: string): this {
    return this.bytes(utf8(text));
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/** Reads borsh values; every read checks the remaining length. */
export class BorshReader {
  private at = 0;

  /** @param what - names the value in error messages. */
  constructor(
    private readonly input: Uint8Array,
    private readonly what = 'borsh',
  ) {}

  private take(n: number): Uint8Array {
    if (this.at + n > this.input.length) {
      throw new EncodingError(
        `${this.what}: unexpected end at byte ${this.at} (needs ${n} more, ${this.input.length - this.at} left)`,
      );
    }
    const out = this.input.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  private uint(bytes: number): bigint {
    const raw = this.take(bytes);
    let value = 0n;
    for (let i = bytes - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]!);
    return value;
  }

  /** One byte. */
  u8(): number {
    return this.take(1)[0]!;
  }

  /** A little-endian `u32`. */
  u32(): number {
    return Number(this.uint(4));
  }

  /** A little-endian `u64`. */
  u64(): bigint {
    return this.uint(8);
  }

  /** A little-endian `U256`. */
  u256(): bigint {
    return this.uint(32);
  }

  /** `size` raw bytes (a copy). */
  fixed(size: number): Uint8Array {
    return this.take(size).slice();
  }

  /** A `Vec<u8>` (a copy). */
  bytes(): Uint8Array {
    return this.fixed(this.u32());
  }

  /** A `String`; invalid UTF-8 is an error, as in Rust. */
  string(): string {
    return fromUtf8(this.bytes(), `${this.what}: string`);
  }

  /** A one-byte tag, checked to be below `count`. */
  tag(count: number, of: string): number {
    const tag = this.u8();
    if (tag >= count) throw new EncodingError(`${this.what}: invalid ${of} tag ${tag}`);
    return tag;
  }

  /** Bytes not read yet. */
  remaining(): number {
    return this.input.length - this.at;
  }

  /** Checks that every byte was read (trailing bytes are malformed, as in Rust's `from_slice`). */
  end(): void {
    if (this.at !== this.input.length) {
      throw new EncodingError(`${this.what}: ${this.input.length - this.at} trailing bytes`);
    }
  }
}
