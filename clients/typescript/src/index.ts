/**
 * `@opmeter/client`: build, sign, send, watch and check Opmeter transactions from Node.js and the
 * browser.
 *
 * ```text
 * Keypair ──▶ Signer ──estimate, nonce, sign──▶ OpmeterClient ──JSON-RPC──▶ node
 *                                                   │  HTTP or WebSocket
 *                      receipts, calls, proofs ◀────┤
 *                      subscriptions (async iterators) ◀── WebSocket
 * ```
 *
 * - {@link OpmeterClient}: every JSON-RPC method, typed (`specs/rpc.md`).
 * - {@link Signer}: estimate, sign, send and wait, with nonces tracked across concurrent sends.
 * - {@link Keypair}, {@link transfer}, {@link deploy}, {@link call}, {@link encodeSignedTransaction}:
 *   transactions exactly as `specs/node.md` defines them.
 * - {@link verifyStorageProof}: check a value against a state root without trusting the node.
 * - {@link gasReport}: a receipt's gas breakdown, checked to the unit.
 *
 * @packageDocumentation
 */

export * from './bytes.js';
export * from './errors.js';
export * from './keys.js';
export * from './tx.js';
export * from './proof.js';
export * from './gas.js';
export * from './schemas.js';
export type { DecodeContext, JsonInput, JsonValue } from './codec.js';
export {
  HttpTransport,
  RawSubscription,
  WebSocketTransport,
  stringifyJson,
  type HttpTransportOptions,
  type JsonRpcErrorObject,
  type RpcFailure,
  type RpcResponse,
  type RpcSuccess,
  type SubscribeResult,
  type SubscribeSuccess,
  type SubscribeOptions,
  type SubscriptionTransport,
  type Transport,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketTransportOptions,
} from './transport.js';
export { OpmeterClient, Subscription, toRpcError, type ClientOptions, type WaitOptions } from './client.js';
export {
  Signer,
  type PendingTransaction,
  type SendOptions,
  type SignedPayload,
  type SignerOptions,
} from './signer.js';

