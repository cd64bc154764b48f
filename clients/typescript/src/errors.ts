/**
 * Every error this package throws. All extend {@link OpmeterError}; errors the node returned are
 * {@link RpcError}s carrying its stable numeric `code` and `data` (see `specs/rpc.md`), with a
 * subclass where the code has structured data.
 *
 * ```ts
 * try {
 *   await signer.transfer(to, 5n);
 * } catch (e) {
 *   if (e instanceof AdmissionError && e.reason === 'insufficientBalance') { … }
 *   else if (e instanceof RateLimitedError) { await sleep(e.retryAfterMs); … }
 *   else throw e;
 * }
 * ```
 *
 * @module
 */

/** The base class of every error thrown by this package. */
export class OpmeterError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value given to this package cannot be encoded (bad hex, an amount out of range, …). */
export class EncodingError extends OpmeterError {}

/**
 * The node could not be reached or did not answer with JSON-RPC: network failure, timeout,
 * an HTTP status without a JSON-RPC body (e.g. 413, 429), a closed WebSocket.
 */
export class TransportError extends OpmeterError {
  /** The HTTP status, when there was an HTTP response. */
  readonly status: number | null;

  constructor(message: string, options?: { cause?: unknown; status?: number | null }) {
    super(message, options);
    this.status = options?.status ?? null;
  }
}

/**
 * The node answered something this client does not understand (a result that does not match the
 * API's schema). `path` locates the offending value, e.g. `chain_head.result.height`.
 */
export class ProtocolError extends OpmeterError {
  /** Where in the answer. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/** The stable error codes of the API (`specs/rpc.md`, "Errors"). */
export const ErrorCode = {
  /** The body is not JSON. */
  parseError: -32700,
  /** JSON, but not a JSON-RPC request. */
  invalidRequest: -32600,
  /** No such method. */
  methodNotFound: -32601,
  /** Wrong parameter count or types, bad hex, bad decimal, … */
  invalidParams: -32602,
  /** The node failed (storage, invariant); not the caller's fault. */
  internal: -32603,
  /** More subscriptions on one WebSocket than allowed. */
  tooManySubscriptions: -32006,
  /** The body exceeds `--rpc-max-body-bytes`. */
  oversizedRequest: -32007,
  /** The response would exceed `--rpc-max-response-bytes`. */
  oversizedResponse: -32008,
  /** A batch longer than `--rpc-max-batch`. */
  batchTooLarge: -32010,
  /** A height above the head. */
  unknownBlock: 2001,
  /** `contract_call` asked for more than `callGasMax`; `data.callGasMax`. */
  callGasAboveMax: 2002,
  /** The client's read-only budget is used up; `data.retryAfterMs`. */
  rateLimited: 2003,
  /** `contract_estimateGas`: the transaction fails at any limit (or a gateway call failed); `data` is that execution. */
  executionFailed: 2004,
  /** `dev_fund` on a chain that is not a development chain. */
  devOnly: 2005,
  /** `tx_sendRawAndWait` / `dev_fund`: still pending after the wait. */
  receiptTimeout: 2006,
  /** `proof_prove`, `contract_provability`: no contract at that address in the state read. */
  unknownContract: 2007,
  /** `proof_get`, `subscribe_proofJob`: no prove job with that id. */
  unknownProofJob: 2008,
  /** A read-only execution ran past the server's time limit and was stopped; `data.timeLimitMs`. */
  executionTimeout: 2009,
  /** HTTP gateway only: no such route, transaction or name. */
  notFound: 2010,
  /** The contract spent its daily read-only gas (rolling 24 h); `data.retryAfterMs`, `data.dailyGas`. */
  quotaExhausted: 2011,
  /** The request body did not arrive within the server's body timeout (HTTP 408; the socket is closed); `data.timeLimitMs`. */
  bodyTimeout: 2012,
} as const;

/** The name of a fixed error code. */
export type ErrorName = keyof typeof ErrorCode;

/** Admission codes are `ADMISSION_CODE_BASE + n` for refusal `n` of {@link ADMISSION_REASONS}. */
export const ADMISSION_CODE_BASE = 1000;

/**
 * The admission refusals in order: refusal `n` (1-based) is `ADMISSION_REASONS[n - 1]` and has
 * code `1000 + n` (`specs/node.md`, "Admission").
 */
export const ADMISSION_REASONS = [
  'tooLarge',
  'malformed',
  'wrongChainId',
  'badSignature',
  'gasLimitAboveBlockLimit',
  'gasLimitBelowIntrinsic',
  'gasPriceTooLow',
  'nonceTooLow',
  'nonceTooHigh',
  'insufficientBalance',
  'invalidCode',
  'alreadyKnown',
  'nonceTaken',
  'mempoolFull',
  'invalidName',
] as const;

/** Why the node refused a transaction (`data.reason` of codes 1001–1015). */
export type AdmissionReason = (typeof ADMISSION_REASONS)[number];

/** Proof errors are `PROVER_CODE_BASE + n` for prover error `n` of {@link PROVER_REASONS}. */
export const PROVER_CODE_BASE = 3000;

/**
 * The prover's errors in order: error `n` (1-based) is `PROVER_REASONS[n - 1]` and has code
 * `3000 + n` (`specs/proofs.md`, "Errors").
 */
export const PROVER_REASONS = [
  'notProvable',
  'profileTooSmall',
  'stepBoundExceeded',
  'unknownProfile',
  'keysMissing',
  'keysCorrupt',
  'malformedProof',
  'invalidProof',
  'executionTrapped',
  'wrongArguments',
  'proverBusy',
  'keysIo',
  'proverInternal',
  'proverInterrupted',
] as const;

/** Why proving or verifying failed (`data.reason` of codes 3001–3014, `name` of a job's error). */
export type ProverReason = (typeof PROVER_REASONS)[number];

/** The code of a prover error: `proverCode('proverBusy') === 3011`. */
export function proverCode(reason: ProverReason): number {
  return PROVER_CODE_BASE + PROVER_REASONS.indexOf(reason) + 1;
}

/** The code of an admission refusal: `admissionCode('nonceTooLow') === 1008`. */
export function admissionCode(reason: AdmissionReason): number {
  return ADMISSION_CODE_BASE + ADMISSION_REASONS.indexOf(reason) + 1;
}

/**
 * The name of a code: a key of {@link ErrorCode}, `admission`, `prover`, or `null` when unknown.
 */
export function errorName(code: number): ErrorName | 'admission' | 'prover' | null {
  if (code > ADMISSION_CODE_BASE && code <= ADMISSION_CODE_BASE + ADMISSION_REASONS.length) {
    return 'admission';
  }
  if (code > PROVER_CODE_BASE && code <= PROVER_CODE_BASE + PROVER_REASONS.length) {
    return 'prover';
  }
  for (const [name, value] of Object.entries(ErrorCode)) {
    if (value === code) return name as ErrorName;
  }
  return null;
}

/** An error the node returned for a request: its stable `code`, `message` and `data`. */
export class RpcError extends OpmeterError {
  /** The JSON-RPC error code (see {@link ErrorCode}; 1001–1015 are admission refusals). */
  readonly code: number;
  /** The code's name, or `null` for a code this client does not know. */
  readonly codeName: ErrorName | 'admission' | 'prover' | null;
  /** The error's `data`, as sent (`undefined` when absent). */
  readonly data: unknown;
  /** The method that failed. */
  readonly method: string;

  constructor(method: string, code: number, message: string, data: unknown) {
    super(`${method}: ${message} (code ${code})`);
    this.method = method;
    this.code = code;
    this.codeName = errorName(code);
    this.data = data;
  }
}

/** One broken validation rule of a deployment's code (as in `code_validate`). */
export interface Violation {
  /** The rule's stable name. */
  rule: string;
  /** The limit, when the rule has one. */
  limit: number | null;
  /** The value found. */
  actual: number | null;
  /** Where in the module. */
  location: string | null;
  /** What is wrong. */
  message: string;
}

/** The node refused a transaction (codes 1001–1015); nothing was stored. */
export class AdmissionError extends RpcError {
  /** Which refusal (`data.reason`). */
  readonly reason: AdmissionReason;
  /** Every violation, for `invalidCode`; empty otherwise. */
  readonly violations: Violation[];

  constructor(
    method: string,
    code: number,
    message: string,
    data: unknown,
    reason: AdmissionReason,
    violations: Violation[],
  ) {
    super(method, code, message, data);
    this.reason = reason;
    this.violations = violations;
  }
}

/** The client's read-only execution budget is used up (2003); retry after `retryAfterMs`. */
export class RateLimitedError extends RpcError {
  /** When to retry, in milliseconds. */
  readonly retryAfterMs: number;

  constructor(method: string, code: number, message: string, data: unknown, retryAfterMs: number) {
    super(method, code, message, data);
    this.retryAfterMs = retryAfterMs;
  }
}

/** The failing execution of {@link ExecutionFailedError}. */
export interface FailedExecution {
  /** Status name (`revert`, `trap`, `outOfGas`, …). */
  status: string;
  /** Stable status code (as in receipts). */
  statusCode: number;
  /** Trap code when trapped. */
  trapCode: number | null;
  /** Output or revert data. */
  output: Uint8Array;
  /** The output as text when it is UTF-8 (a revert message). */
  outputText: string | null;
  /** Gas it used. */
  gasUsed: bigint;
}

/** `contract_estimateGas`: the transaction fails at any gas limit (2004). */
export class ExecutionFailedError extends RpcError {
  /** The execution at the cap. */
  readonly execution: FailedExecution;

  constructor(
    method: string,
    code: number,
    message: string,
    data: unknown,
    execution: FailedExecution,
  ) {
    super(method, code, message, data);
    this.execution = execution;
  }
}

/** A read-only call asked for more gas than the server allows (2002). */
export class CallGasAboveMaxError extends RpcError {
  /** The server's maximum. */
  readonly callGasMax: bigint;

  constructor(method: string, code: number, message: string, data: unknown, callGasMax: bigint) {
    super(method, code, message, data);
    this.callGasMax = callGasMax;
  }
}

/** Why a Merkle proof was refused. */
export type ProofErrorKind = 'malformed' | 'mismatch';

/**
 * A state proof did not verify: `malformed` (not a borsh `SparseMerkleProof`, or inconsistent
 * with the response it came in) or `mismatch` (it does not lead from the key and value to the
 * trusted root).
 */
export class ProofError extends OpmeterError {
  /** Which kind of failure. */
  readonly kind: ProofErrorKind;

  constructor(kind: ProofErrorKind, message: string) {
    super(`${kind === 'malformed' ? 'malformed proof' : 'the proof does not match'}: ${message}`);
    this.kind = kind;
  }
}

/** A wait (for a receipt, a notification) ran out of time. */
export class TimeoutError extends OpmeterError {}

/** A subscription's consumer fell further behind than its buffer allows; it was closed. */
export class SubscriptionOverflowError extends OpmeterError {}
