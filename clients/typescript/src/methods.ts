/**
 * Every JSON-RPC method of the API: its parameters (names, order, codecs), result codec, the
 * error codes it documents, and for subscriptions the notification and unsubscribe names.
 * `test/unit/openrpc.test.ts` checks this table against `specs/openrpc.json` both ways.
 *
 * @module
 * @internal
 */

import {
  addressOrName,
  boolean,
  bytesInput,
  amount,
  hex32,
  json,
  text,
  nullable,
  u64,
  type Codec,
} from './codec.js';
import { ADMISSION_CODE_BASE, ErrorCode, PROVER_CODE_BASE } from './errors.js';
import {
  AccountViewCodec,
  BlockIdCodec,
  BlockViewCodec,
  BundleCodec,
  CallArgsCodec,
  CallResultViewCodec,
  ChainInfoCodec,
  CommitViewCodec,
  CodeViewCodec,
  EstimateArgsCodec,
  EstimateViewCodec,
  EventFilterCodec,
  EventNoticeCodec,
  FundViewCodec,
  NameViewCodec,
  QuotaViewCodec,
  HeaderViewCodec,
  ProofJobViewCodec,
  ProofVerifyViewCodec,
  ProofViewCodec,
  ProvabilityViewCodec,
  ProveArgsCodec,
  ReceiptViewCodec,
  ReplayReportCodec,
  StorageProofViewCodec,
  TraceArgsCodec,
  TraceViewCodec,
  TxViewCodec,
  ValidationViewCodec,
} from './schemas.js';

/** One parameter. */
export interface ParamSpec {
  /** Its name (for named parameters). */
  readonly name: string;
  /** Whether it must be given. */
  readonly required: boolean;
  /** How it is written. */
  readonly codec: Codec<never>;
}

/** One method. */
export interface MethodSpec<R = unknown> {
  /** The JSON-RPC name. */
  readonly name: string;
  /** Parameters, in positional order. */
  readonly params: readonly ParamSpec[];
  /** How the result is read. */
  readonly result: Codec<R>;
  /**
   * Codes the document lists for it (`1000` stands for the admission range 1001–1015, `3000`
   * for the prover range 3001–3014).
   */
  readonly errors: readonly number[];
  /** For subscriptions: the notification's method name and the unsubscribe method. */
  readonly subscription?: { readonly notification: string; readonly unsubscribe: string };
}

function param(name: string, codec: Codec<never>, required = true): ParamSpec {
  return { name, codec, required };
}

function optionalParam(name: string, codec: Codec<never>): ParamSpec {
  return param(name, codec, false);
}

const E = ErrorCode;
const ADMISSION = ADMISSION_CODE_BASE;
const PROVER = PROVER_CODE_BASE;
const jobId = param('id', u64 as Codec<never>);
const hash = param('hash', hex32 as Codec<never>);
const height = optionalParam('height', u64 as Codec<never>);
const c = <T>(codec: Codec<T>): Codec<never> => codec as unknown as Codec<never>;

/** The methods, by JSON-RPC name. */
export const METHODS = {
  chain_info: { name: 'chain_info', params: [], result: ChainInfoCodec, errors: [E.internal] },
  chain_getBlock: {
    name: 'chain_getBlock',
    params: [param('block', c(BlockIdCodec)), optionalParam('withTransactions', c(boolean))],
    result: nullable(BlockViewCodec),
    errors: [E.invalidParams, E.internal],
  },
  chain_getCommit: {
    name: 'chain_getCommit',
    params: [param('height', u64 as Codec<never>)],
    result: nullable(CommitViewCodec),
    errors: [E.invalidParams, E.internal],
  },
  chain_head: { name: 'chain_head', params: [], result: HeaderViewCodec, errors: [E.internal] },
  account_get: {
    name: 'account_get',
    params: [param('address', c(addressOrName)), height],
    result: AccountViewCodec,
    errors: [E.invalidParams, E.unknownBlock, E.notFound, E.internal],
  },
  name_get: {
    name: 'name_get',
    params: [param('name', c(text)), height],
    result: NameViewCodec,
    errors: [E.invalidParams, E.unknownBlock, E.internal],
  },
  code_get: {
    name: 'code_get',
    params: [optionalParam('codeHash', c(hex32)), optionalParam('address', c(addressOrName))],
    result: nullable(CodeViewCodec),
    errors: [E.invalidParams, E.internal],
  },
  code_validate: {
    name: 'code_validate',
    params: [param('code', c(bytesInput))],
    result: ValidationViewCodec,
    errors: [E.invalidParams, E.internal],
  },
  tx_sendRaw: {
    name: 'tx_sendRaw',
    params: [param('tx', c(bytesInput))],
    result: hex32,
    errors: [E.invalidParams, ADMISSION, E.internal],
  },
  tx_sendRawAndWait: {
    name: 'tx_sendRawAndWait',
    params: [param('tx', c(bytesInput))],
    result: ReceiptViewCodec,
    errors: [E.invalidParams, ADMISSION, E.receiptTimeout, E.internal],
  },
  tx_get: {
    name: 'tx_get',
    params: [hash],
    result: nullable(TxViewCodec),
    errors: [E.invalidParams, E.internal],
  },
  tx_receipt: {
    name: 'tx_receipt',
    params: [hash],
    result: nullable(ReceiptViewCodec),
    errors: [E.invalidParams, E.internal],
  },
  audit_replay: {
    name: 'audit_replay',
    params: [hash],
    result: nullable(ReplayReportCodec),
    errors: [E.invalidParams, E.rateLimited, E.internal],
  },
  audit_bundle: {
    name: 'audit_bundle',
    params: [hash],
    result: nullable(BundleCodec),
    errors: [E.invalidParams, E.rateLimited, E.internal],
  },
  audit_trace: {
    name: 'audit_trace',
    params: [hash, optionalParam('options', c(TraceArgsCodec))],
    result: nullable(TraceViewCodec),
    errors: [E.invalidParams, E.rateLimited, E.internal],
  },
  contract_traceCall: {
    name: 'contract_traceCall',
    params: [param('call', c(CallArgsCodec)), height, optionalParam('options', c(TraceArgsCodec))],
    result: TraceViewCodec,
    errors: [
      E.invalidParams,
      E.callGasAboveMax,
      E.rateLimited,
      E.quotaExhausted,
      E.executionTimeout,
      E.unknownBlock,
      E.notFound,
      E.internal,
    ],
  },
  contract_call: {
    name: 'contract_call',
    params: [param('call', c(CallArgsCodec)), height],
    result: CallResultViewCodec,
    errors: [
      E.invalidParams,
      E.callGasAboveMax,
      E.rateLimited,
      E.quotaExhausted,
      E.executionTimeout,
      E.unknownBlock,
      E.notFound,
      E.internal,
    ],
  },
  contract_estimateGas: {
    name: 'contract_estimateGas',
    params: [param('args', c(EstimateArgsCodec))],
    result: EstimateViewCodec,
    errors: [E.invalidParams, E.notFound, E.executionFailed, E.rateLimited, E.quotaExhausted, E.executionTimeout, E.internal],
  },
  contract_quota: {
    name: 'contract_quota',
    params: [param('contract', c(addressOrName))],
    result: QuotaViewCodec,
    errors: [E.invalidParams, E.notFound, E.internal],
  },
  contract_storage: {
    name: 'contract_storage',
    params: [param('contract', c(addressOrName)), param('key', c(bytesInput)), height],
    result: StorageProofViewCodec,
    errors: [E.invalidParams, E.unknownBlock, E.notFound, E.internal],
  },
  subscribe_newHeads: {
    name: 'subscribe_newHeads',
    params: [],
    result: HeaderViewCodec,
    errors: [E.tooManySubscriptions],
    subscription: { notification: 'newHead', unsubscribe: 'unsubscribe_newHeads' },
  },
  subscribe_events: {
    name: 'subscribe_events',
    params: [optionalParam('filter', c(EventFilterCodec))],
    result: EventNoticeCodec,
    errors: [E.invalidParams, E.tooManySubscriptions],
    subscription: { notification: 'event', unsubscribe: 'unsubscribe_events' },
  },
  proof_prove: {
    name: 'proof_prove',
    params: [param('args', c(ProveArgsCodec))],
    result: ProofJobViewCodec,
    errors: [E.invalidParams, E.unknownBlock, E.notFound, E.unknownContract, PROVER, E.internal],
  },
  proof_job: {
    name: 'proof_job',
    params: [jobId],
    result: nullable(ProofJobViewCodec),
    errors: [E.invalidParams, E.internal],
  },
  proof_get: {
    name: 'proof_get',
    params: [jobId],
    result: nullable(ProofViewCodec),
    errors: [E.invalidParams, E.unknownProofJob, PROVER, E.internal],
  },
  proof_verify: {
    name: 'proof_verify',
    params: [param('proof', c(ProofViewCodec))],
    result: ProofVerifyViewCodec,
    errors: [E.invalidParams, PROVER, E.internal],
  },
  contract_provability: {
    name: 'contract_provability',
    params: [param('contract', c(addressOrName)), height],
    result: ProvabilityViewCodec,
    errors: [E.invalidParams, E.unknownBlock, E.notFound, E.unknownContract, E.internal],
  },
  subscribe_proofJob: {
    name: 'subscribe_proofJob',
    params: [jobId],
    result: ProofJobViewCodec,
    errors: [E.invalidParams, E.unknownProofJob, E.tooManySubscriptions],
    subscription: { notification: 'proofJob', unsubscribe: 'unsubscribe_proofJob' },
  },
  dev_fund: {
    name: 'dev_fund',
    params: [param('address', c(addressOrName)), param('amount', c(amount))],
    result: FundViewCodec,
    errors: [E.invalidParams, E.devOnly, ADMISSION, E.receiptTimeout, E.internal],
  },
  'rpc.discover': { name: 'rpc.discover', params: [], result: json, errors: [] },
} as const satisfies Record<string, MethodSpec>;

/** A JSON-RPC method name of the API. */
export type MethodName = keyof typeof METHODS;

/**
 * The client's function for a JSON-RPC method: `namespace_method` becomes `namespaceMethod`
 * (`chain_getBlock` → `chainGetBlock`, `rpc.discover` → `rpcDiscover`).
 */
export function clientMethodName(rpcName: string): string {
  return rpcName.replace(/[._]([a-zA-Z])/g, (_, letter: string) => letter.toUpperCase());
}
