/**
 * Keys and addresses: ed25519 keypairs (`@noble/curves`), account addresses
 * (`blake3(public key)`) and contract addresses
 * (`blake3("opmeter/contract-address/v1" ‖ deployer ‖ code hash ‖ salt)`), as in `specs/node.md`.
 *
 * @module
 */

import { ed25519 } from '@noble/curves/ed25519.js';
import { blake3 } from '@noble/hashes/blake3.js';

import { concatBytes, toBytes, toHex, utf8, type BytesLike, type Hex } from './bytes.js';

/**
 * What signs transactions: a public key and a signing function. {@link Keypair} is one; a wallet
 * that keeps its key elsewhere (a browser extension, a hardware device) can be another, as long
 * as it signs with ed25519 (RFC 8032).
 */
export interface TransactionKey {
  /** The 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The 64-byte ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/**
 * The secret key of the development account that `opmeter node` funds on development chains
 * (`opmeter-dev`). Public on purpose: anyone can sign for it, so never fund it elsewhere.
 */
export const DEV_SECRET_KEY: Hex = toHex(utf8('opmeter development account 0001'));

/** An ed25519 keypair: the 32-byte secret key (RFC 8032 seed) and its public key. */
export class Keypair implements TransactionKey {
  readonly publicKey: Uint8Array;
  /** The account address: `blake3(publicKey)`. */
  readonly address: Hex;
  readonly #secretKey: Uint8Array;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKey = ed25519.getPublicKey(secretKey);
    this.address = addressFromPublicKey(this.publicKey);
  }

  /** A new random keypair (the platform's `crypto.getRandomValues`). */
  static generate(): Keypair {
    return new Keypair(ed25519.utils.randomSecretKey());
  }

  /**
   * The keypair of a 32-byte secret key (what `opmeter keys` stores, and Rust's
   * `SigningKey::from_bytes`).
   *
   * @throws {@link EncodingError} unless it is exactly 32 bytes.
   */
  static fromSecretKey(secretKey: BytesLike): Keypair {
    return new Keypair(toBytes(secretKey, 'secret key', 32));
  }

  /** The development account's keypair ({@link DEV_SECRET_KEY}); development chains only. */
  static dev(): Keypair {
    return Keypair.fromSecretKey(DEV_SECRET_KEY);
  }

  /** The public key as hex. */
  get publicKeyHex(): Hex {
    return toHex(this.publicKey);
  }

  /** The secret key (keep it secret). */
  exportSecretKey(): Hex {
    return toHex(this.#secretKey);
  }

  /** The ed25519 signature of `message` (deterministic, RFC 8032). */
  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#secretKey);
  }
}

/** The account address of an ed25519 public key: `blake3(publicKey)`. */
export function addressFromPublicKey(publicKey: BytesLike): Hex {
  return toHex(blake3(toBytes(publicKey, 'public key', 32)));
}

/** The code hash of a module: `blake3(code)`. */
export function codeHash(code: BytesLike): Hex {
  return toHex(blake3(toBytes(code, 'code')));
}

/**
 * The address a contract deployed by `deployer` from `code` with `salt` will have:
 * `blake3("opmeter/contract-address/v1" ‖ deployer ‖ blake3(code) ‖ salt)`.
 */
export function contractAddress(deployer: BytesLike, code: BytesLike, salt: BytesLike = new Uint8Array()): Hex {
  return toHex(
    blake3(
      concatBytes(
        utf8('opmeter/contract-address/v1'),
        toBytes(deployer, 'deployer', 32),
        blake3(toBytes(code, 'code')),
        toBytes(salt, 'salt'),
      ),
    ),
  );
}

/**
 * Whether `signature` is a valid ed25519 signature of `message` by `publicKey`, with RFC 8032's
 * strict encoding rules (not ZIP-215). The node's own check (`verify_strict`) is authoritative.
 */
export function verifySignature(publicKey: BytesLike, message: Uint8Array, signature: BytesLike): boolean {
  try {
    return ed25519.verify(toBytes(signature, 'signature', 64), message, toBytes(publicKey, 'public key', 32), {
      zip215: false,
    });
  } catch {
    return false;
  }
}
