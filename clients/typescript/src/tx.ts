/**
 * Transactions exactly as `specs/node.md` defines them: borsh encoding, `blake3` hash, ed25519
 * signature over `"opmeter/tx/v1" ‖ hash`, and the signed wire bytes.
 *
 * ```text
 * Transaction { chain_id: String, public_key: [u8; 32], nonce: u64, gas_limit: u64,
 *               gas_price: U256, payload: Payload }
 * Payload = Transfer { to, amount: U256 }                                      (tag 0)
 *         | Deploy { code: Vec<u8>, init_input: Vec<u8>, salt: Vec<u8>, value } (tag 1)
 *         | Call { contract, method: String, input: Vec<u8>, value: U256 }     (tag 2)
 *         | RegisterName { name: String, target, salt: Vec<u8> }           (tag 3)
 *         | PointName { name: String, target, salt: Vec<u8> }              (tag 4)
 *         | TransferName { name: String, new_owner }                       (tag 5)
 * SignedTransaction { tx: Transaction, signature: [u8; 64] }
 * ```
 *
 * @module
 */

import { blake3 } from '@noble/hashes/blake3.js';

import { BorshReader, BorshWriter } from './borsh.js';
import {
  nameRule,
  concatBytes,
  toAmount,
  toBytes,
  toHex,
  toHex32,
  U64_MAX,
  utf8,
  type Amount,
  type BytesLike,
  type Hex,
} from './bytes.js';
import type { JsonInput } from './codec.js';
import { EncodingError } from './errors.js';
import { addressFromPublicKey, verifySignature, type TransactionKey } from './keys.js';
import { stringifyJson } from './transport.js';

/** Domain separator prepended to the hash an account signs. */
export const TX_SIGNING_DOMAIN: Uint8Array = utf8('opmeter/tx/v1');

/** Moves `amount` from the sender to `to`. */
export interface TransferPayload {
  /** Discriminant. */
  readonly kind: 'transfer';
  /** Recipient address. */
  readonly to: Hex;
  /** Amount. */
  readonly amount: bigint;
}

/** Uploads `code` and creates a contract at {@link contractAddress}, running `init`. */
export interface DeployPayload {
  /** Discriminant. */
  readonly kind: 'deploy';
  /** The original wasm. */
  readonly code: Uint8Array;
  /** Input of `init` (JSON for sdk contracts). */
  readonly initInput: Uint8Array;
  /** Salt of the address derivation. */
  readonly salt: Uint8Array;
  /** Value moved to the new contract. */
  readonly value: bigint;
}

/** Calls `method` of `contract`. */
export interface CallPayload {
  /** Discriminant. */
  readonly kind: 'call';
  /** The contract. */
  readonly contract: Hex;
  /** The exported method. */
  readonly method: string;
  /** Input bytes (JSON for sdk contracts). */
  readonly input: Uint8Array;
  /** Value moved to the contract before the call. */
  readonly value: bigint;
}

/**
 * Registers a free `name` for `target`, a contract the sender deployed with `salt`
 * (`specs/names.md`).
 */
export interface RegisterNamePayload {
  /** Discriminant. */
  readonly kind: 'registerName';
  /** The name: 3–32 of `a-z`, `0-9` and `-`, no leading or trailing `-`, not starting with `0x`. */
  readonly name: string;
  /** The contract it names. */
  readonly target: Hex;
  /** The salt the sender deployed `target` with. */
  readonly salt: Uint8Array;
}

/** Re-points a name the sender owns to `target`, another contract it deployed with `salt`. */
export interface PointNamePayload {
  /** Discriminant. */
  readonly kind: 'pointName';
  /** The name. */
  readonly name: string;
  /** The contract it names from now on. */
  readonly target: Hex;
  /** The salt the sender deployed `target` with. */
  readonly salt: Uint8Array;
}

/** Gives a name the sender owns to `newOwner`. */
export interface TransferNamePayload {
  /** Discriminant. */
  readonly kind: 'transferName';
  /** The name. */
  readonly name: string;
  /** Its next owner. */
  readonly newOwner: Hex;
}

/** What a transaction does. */
export type Payload =
  | TransferPayload
  | DeployPayload
  | CallPayload
  | RegisterNamePayload
  | PointNamePayload
  | TransferNamePayload;

function checkedName(name: string, what: string): string {
  if (typeof name !== 'string') throw new EncodingError(`${what}: the name must be a string`);
  const rule = nameRule(name);
  if (rule !== null) throw new EncodingError(`${what}: invalid name ${JSON.stringify(name)} (${rule})`);
  return name;
}

/** Registers `name` for `target`, a contract the sender deployed with `salt` (default empty). */
export function registerName(name: string, target: BytesLike, salt: BytesLike = new Uint8Array()): RegisterNamePayload {
  return {
    kind: 'registerName',
    name: checkedName(name, 'registerName'),
    target: toHex32(target, 'target'),
    salt: toBytes(salt, 'salt'),
  };
}

/** Re-points `name` (owned by the sender) to `target`, deployed by the sender with `salt`. */
export function pointName(name: string, target: BytesLike, salt: BytesLike = new Uint8Array()): PointNamePayload {
  return {
    kind: 'pointName',
    name: checkedName(name, 'pointName'),
    target: toHex32(target, 'target'),
    salt: toBytes(salt, 'salt'),
  };
}

/** Gives `name` (owned by the sender) to `newOwner`. */
export function transferName(name: string, newOwner: BytesLike): TransferNamePayload {
  return { kind: 'transferName', name: checkedName(name, 'transferName'), newOwner: toHex32(newOwner, 'newOwner') };
}

/** An unsigned transaction. */
export interface Transaction {
  /** The chain it is valid on. */
  readonly chainId: string;
  /** The sender's ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
  /** The sender's next nonce (`u64`). */
  readonly nonce: bigint;
  /** Most gas it may use, intrinsic gas included (`u64`). */
  readonly gasLimit: bigint;
  /** Price of one unit of gas (`U256`). */
  readonly gasPrice: bigint;
  /** What it does. */
  readonly payload: Payload;
}

/** A transaction with its sender's signature: what travels and what blocks contain. */
export interface SignedTransaction {
  /** The transaction. */
  readonly tx: Transaction;
  /** Ed25519 signature (64 bytes) over `TX_SIGNING_DOMAIN ‖ hash`. */
  readonly signature: Uint8Array;
}

/**
 * The input bytes of JSON arguments, as the Rust client and the CLI send them: the compact JSON
 * text, nothing for `null`/`undefined`. `bigint`s are written as exact integers.
 */
export function encodeJsonInput(args: JsonInput | undefined): Uint8Array {
  if (args === undefined || args === null) return new Uint8Array();
  return utf8(stringifyJson(args));
}

/** A value transfer. */
export function transfer(to: BytesLike, amount: Amount): TransferPayload {
  return { kind: 'transfer', to: toHex32(to, 'to'), amount: toAmount(amount, 'amount') };
}

/** Options of {@link deploy}. */
export interface DeployOptions {
  /** `init` arguments as JSON (encoded with {@link encodeJsonInput}). */
  args?: JsonInput;
  /** Raw `init` input, instead of `args`. */
  initInput?: BytesLike;
  /** Salt (default empty): deploy the same code twice with different salts. */
  salt?: BytesLike;
  /** Value moved to the contract (default 0). */
  value?: Amount;
}

/** A deployment of `code`. */
export function deploy(code: BytesLike, options: DeployOptions = {}): DeployPayload {
  if (options.args !== undefined && options.initInput !== undefined) {
    throw new EncodingError('deploy: give args or initInput, not both');
  }
  return {
    kind: 'deploy',
    code: toBytes(code, 'code'),
    initInput:
      options.initInput !== undefined ? toBytes(options.initInput, 'initInput') : encodeJsonInput(options.args),
    salt: options.salt !== undefined ? toBytes(options.salt, 'salt') : new Uint8Array(),
    value: toAmount(options.value ?? 0n, 'value'),
  };
}

/** Options of {@link call}. */
export interface CallOptions {
  /** Raw input, instead of JSON arguments. */
  input?: BytesLike;
  /** Value moved to the contract (default 0). */
  value?: Amount;
}

/** A call of `method` on `contract` with JSON `args` (or raw `options.input`). */
export function call(contract: BytesLike, method: string, args?: JsonInput, options: CallOptions = {}): CallPayload {
  if (args !== undefined && options.input !== undefined) {
    throw new EncodingError('call: give args or input, not both');
  }
  if (typeof method !== 'string') throw new EncodingError('call: method must be a string');
  return {
    kind: 'call',
    contract: toHex32(contract, 'contract'),
    method,
    input: options.input !== undefined ? toBytes(options.input, 'input') : encodeJsonInput(args),
    value: toAmount(options.value ?? 0n, 'value'),
  };
}

/** The fields of {@link buildTransaction}. */
export interface TransactionFields {
  /** The chain id (`chainInfo().chainId`). */
  chainId: string;
  /** The sender's public key. */
  publicKey: BytesLike;
  /** The nonce (`accountGet(address).pendingNonce`). */
  nonce: Amount;
  /** Gas limit (`u64`). */
  gasLimit: Amount;
  /** Gas price (at least `chainInfo().minGasPrice`). */
  gasPrice: Amount;
  /** What it does. */
  payload: Payload;
}

/**
 * A transaction, its fields checked: 32-byte public key, `u64` nonce and gas limit, `U256`
 * price and amounts.
 *
 * @throws {@link EncodingError} for a field out of range.
 */
export function buildTransaction(fields: TransactionFields): Transaction {
  if (typeof fields.chainId !== 'string') throw new EncodingError('chainId must be a string');
  const tx: Transaction = {
    chainId: fields.chainId,
    publicKey: toBytes(fields.publicKey, 'publicKey', 32),
    nonce: toAmount(fields.nonce, 'nonce', U64_MAX),
    gasLimit: toAmount(fields.gasLimit, 'gasLimit', U64_MAX),
    gasPrice: toAmount(fields.gasPrice, 'gasPrice'),
    payload: fields.payload,
  };
  encodeTransaction(tx);
  return tx;
}

function writePayload(writer: BorshWriter, payload: Payload): void {
  switch (payload.kind) {
    case 'transfer':
      writer.u8(0).fixed(toBytes(payload.to, 'to', 32), 32).u256(payload.amount);
      return;
    case 'deploy':
      writer.u8(1).bytes(payload.code).bytes(payload.initInput).bytes(payload.salt).u256(payload.value);
      return;
    case 'call':
      writer
        .u8(2)
        .fixed(toBytes(payload.contract, 'contract', 32), 32)
        .string(payload.method)
        .bytes(payload.input)
        .u256(payload.value);
      return;
    case 'registerName':
      writer.u8(3).string(payload.name).fixed(toBytes(payload.target, 'target', 32), 32).bytes(payload.salt);
      return;
    case 'pointName':
      writer.u8(4).string(payload.name).fixed(toBytes(payload.target, 'target', 32), 32).bytes(payload.salt);
      return;
    case 'transferName':
      writer.u8(5).string(payload.name).fixed(toBytes(payload.newOwner, 'newOwner', 32), 32);
      return;
    default:
      throw new EncodingError(`unknown payload kind ${String((payload as { kind?: unknown }).kind)}`);
  }
}

function writeTransaction(writer: BorshWriter, tx: Transaction): void {
  writer
    .string(tx.chainId)
    .fixed(tx.publicKey, 32)
    .u64(tx.nonce)
    .u64(tx.gasLimit)
    .u256(tx.gasPrice);
  writePayload(writer, tx.payload);
}

/** The canonical encoding: `borsh(Transaction)`. */
export function encodeTransaction(tx: Transaction): Uint8Array {
  const writer = new BorshWriter();
  writeTransaction(writer, tx);
  return writer.finish();
}

function readTransaction(reader: BorshReader): Transaction {
  const chainId = reader.string();
  const publicKey = reader.fixed(32);
  const nonce = reader.u64();
  const gasLimit = reader.u64();
  const gasPrice = reader.u256();
  let payload: Payload;
  switch (reader.tag(6, 'payload')) {
    case 0:
      payload = { kind: 'transfer', to: toHex(reader.fixed(32)), amount: reader.u256() };
      break;
    case 1:
      payload = {
        kind: 'deploy',
        code: reader.bytes(),
        initInput: reader.bytes(),
        salt: reader.bytes(),
        value: reader.u256(),
      };
      break;
    case 2:
      payload = {
        kind: 'call',
        contract: toHex(reader.fixed(32)),
        method: reader.string(),
        input: reader.bytes(),
        value: reader.u256(),
      };
      break;
    case 3:
      payload = { kind: 'registerName', name: reader.string(), target: toHex(reader.fixed(32)), salt: reader.bytes() };
      break;
    case 4:
      payload = { kind: 'pointName', name: reader.string(), target: toHex(reader.fixed(32)), salt: reader.bytes() };
      break;
    default:
      payload = { kind: 'transferName', name: reader.string(), newOwner: toHex(reader.fixed(32)) };
  }
  return { chainId, publicKey, nonce, gasLimit, gasPrice, payload };
}

/**
 * Decodes `borsh(Transaction)`; trailing bytes are an error.
 *
 * @throws {@link EncodingError} when the bytes are not exactly one transaction.
 */
export function decodeTransaction(bytes: BytesLike): Transaction {
  const reader = new BorshReader(toBytes(bytes, 'transaction'), 'transaction');
  const tx = readTransaction(reader);
  reader.end();
  return tx;
}

/** The transaction hash: `blake3(borsh(tx))`. */
export function transactionHash(tx: Transaction): Hex {
  return toHex(blake3(encodeTransaction(tx)));
}

/** The bytes a sender signs: `"opmeter/tx/v1" ‖ hash`. */
export function signingBytes(hash: BytesLike): Uint8Array {
  return concatBytes(TX_SIGNING_DOMAIN, toBytes(hash, 'hash', 32));
}

/** The sender's address: `blake3(publicKey)`. */
export function senderAddress(tx: Transaction): Hex {
  return addressFromPublicKey(tx.publicKey);
}

/**
 * Signs `tx` with `key`, whose public key must be `tx.publicKey`.
 *
 * @throws {@link EncodingError} when the key does not match, or returns a signature that does
 *   not verify.
 */
export async function signTransaction(tx: Transaction, key: TransactionKey): Promise<SignedTransaction> {
  if (toHex(key.publicKey) !== toHex(tx.publicKey)) {
    throw new EncodingError("the key's public key is not the transaction's");
  }
  const message = signingBytes(transactionHash(tx));
  const signature = toBytes(await key.sign(message), 'signature', 64);
  if (!verifySignature(tx.publicKey, message, signature)) {
    throw new EncodingError('the key returned a signature that does not verify');
  }
  return { tx, signature };
}

/** The wire encoding: `borsh(SignedTransaction)`, what `tx_sendRaw` takes. */
export function encodeSignedTransaction(signed: SignedTransaction): Uint8Array {
  const writer = new BorshWriter();
  writeTransaction(writer, signed.tx);
  writer.fixed(signed.signature, 64);
  return writer.finish();
}

/**
 * Decodes wire bytes; trailing bytes are an error (as the node's `malformed`).
 *
 * @throws {@link EncodingError} when the bytes are not exactly one signed transaction.
 */
export function decodeSignedTransaction(bytes: BytesLike): SignedTransaction {
  const reader = new BorshReader(toBytes(bytes, 'signed transaction'), 'signed transaction');
  const tx = readTransaction(reader);
  const signature = reader.fixed(64);
  reader.end();
  return { tx, signature };
}

/** Whether the signature verifies for the transaction's public key (strict RFC 8032). */
export function verifySignedTransaction(signed: SignedTransaction): boolean {
  return verifySignature(signed.tx.publicKey, signingBytes(transactionHash(signed.tx)), signed.signature);
}
