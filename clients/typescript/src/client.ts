/**
 * The client: one typed function per JSON-RPC method (`chain_getBlock` → `chainGetBlock`), over
 * HTTP or WebSocket; subscriptions as async iterators over a WebSocket it opens when needed.
 *
 * ```ts
 * const client = new OpmeterClient({ url: 'http://127.0.0.1:8645' });
 * const head = await client.chainHead();
 * for await (const header of await client.subscribeNewHeads()) { … }
 * ```
 *
 * @module
 */

import { toBytes, type AddressOrName, type Amount, type BytesLike, type Hex } from './bytes.js';
import { decimal, text, u8, u64, bytes, nullable, type Codec, type DecodeContext, type JsonValue } from './codec.js';
import {
  ADMISSION_CODE_BASE,
  ADMISSION_REASONS,
  AdmissionError,
  CallGasAboveMaxError,
  ErrorCode,
  ExecutionFailedError,
  ProtocolError,
  RateLimitedError,
  RpcError,
  TimeoutError,
  type AdmissionReason,
  type Violation,
} from './errors.js';
import { METHODS, type MethodSpec } from './methods.js';
import { nameStateKey, verifyStateProof, verifyStorageProof } from './proof.js';
import {
  ViolationViewCodec,
  type AccountView,
  type BlockId,
  type BlockView,
  type Bundle,
  type CallArgs,
  type CallResultView,
  type ChainInfo,
  type CodeView,
  type CommitView,
  type EstimateArgs,
  type EstimateView,
  type EventFilter,
  type EventNotice,
  type FundView,
  type NameView,
  type QuotaView,
  type HeaderView,
  type ProofJobView,
  type ProofVerifyView,
  type ProofView,
  type ProvabilityView,
  type ProveArgs,
  type ReceiptView,
  type ReplayReport,
  type StorageProofView,
  type TraceArgs,
  type TraceView,
  type TxView,
  type ValidationView,
} from './schemas.js';
import {
  HttpTransport,
  WebSocketTransport,
  type JsonRpcErrorObject,
  type RawSubscription,
  type SubscribeOptions,
  type SubscriptionTransport,
  type Transport,
  type WebSocketConstructor,
} from './transport.js';
import { encodeSignedTransaction, type SignedTransaction } from './tx.js';

/** Options of {@link OpmeterClient}. */
export interface ClientOptions {
  /**
   * The node: `http://host:port` (requests over HTTP, subscriptions over a WebSocket to the same
   * host, opened when first needed) or `ws://host:port` (everything over one WebSocket).
   */
  url?: string;
  /** The WebSocket URL for subscriptions (default: `url` with `http` → `ws`). */
  wsUrl?: string;
  /** A transport for requests instead of `url`. */
  transport?: Transport;
  /** A transport for subscriptions instead of `wsUrl`. */
  subscriptionTransport?: SubscriptionTransport;
  /** The WebSocket constructor (default: the global one, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** Per-request timeout in milliseconds (default 60,000). */
  timeoutMs?: number;
  /**
   * Refuse answers with fields this client does not know, and error `data` of an unexpected
   * shape (default `false`: new fields from a newer node are ignored). Tests run strict.
   */
  strict?: boolean;
}

/**
 * A typed subscription: an async iterator of notifications. `break` out of a `for await`, or call
 * {@link Subscription.unsubscribe}, to stop it.
 */
export class Subscription<T> implements AsyncIterableIterator<T> {
  /** @internal */
  constructor(
    private readonly raw: RawSubscription,
    private readonly decode: (wire: unknown, index: number) => T,
  ) {}

  private received = 0;

  /** The node's subscription id. */
  get id(): string {
    return this.raw.id;
  }

  /** The next notification, decoded; ends when unsubscribed or the socket closes. */
  async next(): Promise<IteratorResult<T>> {
    const item = await this.raw.next();
    if (item.done) return { value: undefined, done: true };
    try {
      return { value: this.decode(item.value, this.received++), done: false };
    } catch (e) {
      await this.raw.unsubscribe().catch(() => undefined);
      throw e;
    }
  }

  /** Unsubscribes (what `break` in a `for await` calls). */
  async return(): Promise<IteratorResult<T>> {
    await this.raw.unsubscribe();
    return { value: undefined, done: true };
  }

  /** Tells the node to stop sending, and ends the iteration. */
  unsubscribe(): Promise<void> {
    return this.raw.unsubscribe();
  }

  /**
   * The next notification that satisfies `predicate`, skipping others. Then unsubscribes, unless
   * `keep` (a match found leaves the subscription open for more).
   *
   * @throws {@link TimeoutError} when none arrives within `timeoutMs`, or the subscription ends
   *   first; the subscription is closed then, whatever `keep` (a read in progress cannot be
   *   taken back, so nothing more could be read from it reliably).
   */
  async find(predicate: (item: T) => boolean, options: { timeoutMs?: number; keep?: boolean } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`subscription ${this.id}: nothing matched within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const search = (async () => {
      for (;;) {
        const item = await this.next();
        if (item.done) throw new TimeoutError(`subscription ${this.id} ended before a match`);
        if (predicate(item.value)) return item.value;
      }
    })();
    // Whichever loses the race settles later, unobserved.
    search.catch(() => undefined);
    let found = false;
    try {
      const item = await Promise.race([search, timeout]);
      found = true;
      return item;
    } finally {
      clearTimeout(timer);
      if (!found || !options.keep) await this.unsubscribe().catch(() => undefined);
    }
  }

  /** Itself: a subscription is its own iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }
}

const executionData: Codec<{
  status: string;
  statusCode: number;
  trapCode: number | null;
  output: Uint8Array;
  outputText: string | null;
  gasUsed: bigint;
}> = {
  shape: { kind: 'json' },
  decode: (wire, path, ctx) => {
    const data = wire as Record<string, unknown>;
    if (typeof data !== 'object' || data === null) throw new ProtocolError(path, 'expected an object');
    return {
      status: text.decode(data['status'], `${path}.status`, ctx),
      statusCode: u8.decode(data['statusCode'], `${path}.statusCode`, ctx),
      trapCode: nullable(u8).decode(data['trapCode'] ?? null, `${path}.trapCode`, ctx),
      output: bytes.decode(data['output'], `${path}.output`, ctx),
      outputText: nullable(text).decode(data['outputText'] ?? null, `${path}.outputText`, ctx),
      gasUsed: decimal.decode(data['gasUsed'], `${path}.gasUsed`, ctx),
    };
  },
  encode: (value) => value,
};

function field(data: unknown, key: string): unknown {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[key] : undefined;
}

/**
 * The typed error of a JSON-RPC error object: {@link AdmissionError} for 1001–1015,
 * {@link RateLimitedError}, {@link ExecutionFailedError}, {@link CallGasAboveMaxError}, else
 * {@link RpcError}. A `data` of an unexpected shape gives a plain {@link RpcError} (or, strict,
 * a {@link ProtocolError}).
 */
export function toRpcError(method: string, error: JsonRpcErrorObject, ctx: DecodeContext = { strict: false }): RpcError {
  const { code, message, data } = error;
  const path = `${method}.error.data`;
  try {
    if (code > ADMISSION_CODE_BASE && code <= ADMISSION_CODE_BASE + ADMISSION_REASONS.length) {
      const reason: AdmissionReason = ADMISSION_REASONS[code - ADMISSION_CODE_BASE - 1]!;
      const sent = text.decode(field(data, 'reason'), `${path}.reason`, ctx);
      if (sent !== reason) throw new ProtocolError(`${path}.reason`, `${sent} is not the reason of code ${code} (${reason})`);
      let violations: Violation[] = [];
      if (reason === 'invalidCode') {
        const list = field(data, 'violations');
        if (!Array.isArray(list)) throw new ProtocolError(`${path}.violations`, 'expected an array');
        violations = list.map((v, i) => ViolationViewCodec.decode(v, `${path}.violations[${i}]`, ctx));
      }
      return new AdmissionError(method, code, message, data, reason, violations);
    }
    switch (code) {
      case ErrorCode.rateLimited:
        return new RateLimitedError(
          method,
          code,
          message,
          data,
          u64.decode(field(data, 'retryAfterMs'), `${path}.retryAfterMs`, ctx),
        );
      case ErrorCode.executionFailed:
        return new ExecutionFailedError(method, code, message, data, executionData.decode(data, path, ctx));
      case ErrorCode.callGasAboveMax:
        return new CallGasAboveMaxError(
          method,
          code,
          message,
          data,
          decimal.decode(field(data, 'callGasMax'), `${path}.callGasMax`, ctx),
        );
      default:
        return new RpcError(method, code, message, data);
    }
  } catch (e) {
    if (e instanceof ProtocolError && !ctx.strict) return new RpcError(method, code, message, data);
    throw e;
  }
}

/** Options of {@link OpmeterClient.waitForReceipt}. */
export interface WaitOptions {
  /** Give up after this long (default 60,000 ms). */
  timeoutMs?: number;
  /** Poll `tx_receipt` this often (default 250 ms). */
  intervalMs?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A node's JSON-RPC API, every method typed. See `specs/rpc.md` for what each does. */
export class OpmeterClient {
  private readonly transport: Transport;
  private subscriptionTransport: SubscriptionTransport | null;
  private readonly ctx: DecodeContext;
  private readonly wsUrl: string | null;
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
    this.ctx = { strict: options.strict ?? false };
    const url = options.url;
    if (options.transport) {
      this.transport = options.transport;
    } else if (url && /^wss?:/i.test(url)) {
      this.transport = new WebSocketTransport(url, this.wsOptions());
    } else if (url && /^https?:/i.test(url)) {
      this.transport = new HttpTransport(url, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
    } else {
      throw new TypeError('OpmeterClient: give url (http://, https://, ws:// or wss://) or transport');
    }
    this.subscriptionTransport =
      options.subscriptionTransport ?? (this.transport instanceof WebSocketTransport ? this.transport : null);
    this.wsUrl = options.wsUrl ?? (url && /^https?:/i.test(url) ? url.replace(/^http/i, 'ws') : null);
  }

  private wsOptions(): { WebSocket?: WebSocketConstructor; timeoutMs?: number } {
    const out: { WebSocket?: WebSocketConstructor; timeoutMs?: number } = {};
    if (this.options.WebSocket) out.WebSocket = this.options.WebSocket;
    if (this.options.timeoutMs !== undefined) out.timeoutMs = this.options.timeoutMs;
    return out;
  }

  private subscriptions(): SubscriptionTransport {
    if (this.subscriptionTransport === null) {
      if (this.wsUrl === null) throw new TypeError('subscriptions need a WebSocket: give wsUrl');
      this.subscriptionTransport = new WebSocketTransport(this.wsUrl, this.wsOptions());
    }
    return this.subscriptionTransport;
  }

  private encodeParams(spec: MethodSpec, args: readonly unknown[]): unknown[] {
    const params = spec.params.map((param, i) => {
      const value = args[i];
      if (value === undefined) {
        if (param.required) throw new TypeError(`${spec.name}: ${param.name} is required`);
        return undefined;
      }
      return (param.codec as Codec<unknown>).encode(value, `${spec.name}.${param.name}`);
    });
    while (params.length > 0 && params[params.length - 1] === undefined) params.pop();
    return params.map((p) => (p === undefined ? null : p));
  }

  private async invoke<R>(spec: MethodSpec<R>, args: readonly unknown[]): Promise<R> {
    const response = await this.transport.request(spec.name, this.encodeParams(spec, args));
    if (!response.ok) throw toRpcError(spec.name, response.error, this.ctx);
    return spec.result.decode(response.result, `${spec.name}.result`, this.ctx);
  }

  private async subscribe<T>(spec: MethodSpec<T>, args: readonly unknown[], options?: SubscribeOptions): Promise<Subscription<T>> {
    const subscription = spec.subscription;
    if (!subscription) throw new TypeError(`${spec.name} is not a subscription`);
    const answer = await this.subscriptions().subscribe(
      spec.name,
      this.encodeParams(spec, args),
      subscription.unsubscribe,
      options,
    );
    if (!answer.ok) throw toRpcError(spec.name, answer.error, this.ctx);
    return new Subscription(answer.subscription, (wire, i) =>
      spec.result.decode(wire, `${subscription.notification}[${i}]`, this.ctx),
    );
  }

  /**
   * Calls any method by name with raw JSON parameters; the result is returned as parsed.
   *
   * @throws {@link RpcError} (typed as in {@link toRpcError}) when the node returns an error.
   */
  async request(method: string, params: readonly unknown[] = []): Promise<unknown> {
    const response = await this.transport.request(method, params);
    if (!response.ok) throw toRpcError(method, response.error, this.ctx);
    return response.result;
  }

  /** `chain_info`: chain id, head, gas schedule, and the server's call limits. */
  chainInfo(): Promise<ChainInfo> {
    return this.invoke(METHODS.chain_info, []);
  }

  /** `chain_getBlock`: a block by height, hash or `"latest"`; `null` when unknown. */
  chainGetBlock(block: BlockId, withTransactions?: boolean): Promise<BlockView | null> {
    return this.invoke(METHODS.chain_getBlock, [block, withTransactions]);
  }

  /** `chain_getCommit`: the commit certificate of block `height` on a replicated chain (the
   * validators' precommits for its hash); `null` on a single-node chain or for an unknown block. */
  chainGetCommit(height: number): Promise<CommitView | null> {
    return this.invoke(METHODS.chain_getCommit, [height]);
  }

  /** `chain_head`: the last committed header. */
  chainHead(): Promise<HeaderView> {
    return this.invoke(METHODS.chain_head, []);
  }

  /**
   * `account_get`: balance, nonces and code hash at the head or `height`.
   *
   * @throws {@link RpcError} `unknownBlock` (2001) for a height above the head.
   */
  accountGet(address: AddressOrName, height?: number): Promise<AccountView> {
    return this.invoke(METHODS.account_get, [address, height]);
  }

  /**
   * `name_get`: a name's record (owner, target contract, registering block) at the head or
   * `height`, with its Merkle proof; `registered: false` when nobody holds it. Every method that
   * takes an address also takes a name ({@link AddressOrName}).
   *
   * @throws {@link RpcError} `invalidParams` (-32602) for a malformed name (`data.rule`).
   */
  nameGet(name: string, height?: number): Promise<NameView> {
    return this.invoke(METHODS.name_get, [name, height]);
  }

  /**
   * `name_get`, proven against a state root the dapp trusts: the contract `name` points at, or
   * `null` when proven free.
   *
   * @throws {@link ProofError} when the node's answer does not prove the record.
   */
  async verifiedName(
    name: string,
    trusted: { readonly height: number; readonly stateRoot: Hex },
  ): Promise<NameView | null> {
    const answer = await this.nameGet(name, trusted.height);
    verifyStateProof(trusted.stateRoot, nameStateKey(name), answer.value, answer.proof);
    return answer.registered ? answer : null;
  }

  /** `code_get`: code by hash, or the code of the contract at an address; `null` when unknown. */
  codeGet(target: { codeHash: Hex } | { address: AddressOrName }): Promise<CodeView | null> {
    return 'codeHash' in target
      ? this.invoke(METHODS.code_get, [target.codeHash])
      : this.invoke(METHODS.code_get, [undefined, target.address]);
  }

  /** `code_validate`: every violation of the deployment rules by a module. */
  codeValidate(code: BytesLike): Promise<ValidationView> {
    return this.invoke(METHODS.code_validate, [code]);
  }

  /**
   * `tx_sendRaw`: admits a signed transaction; resolves with its hash once pending and persisted.
   *
   * @throws {@link AdmissionError} (1001–1015) when the node refuses it.
   */
  txSendRaw(tx: BytesLike | SignedTransaction): Promise<Hex> {
    return this.invoke(METHODS.tx_sendRaw, [rawTransaction(tx)]);
  }

  /**
   * `tx_sendRawAndWait`: admits a signed transaction and waits (up to 30 s) for its receipt.
   *
   * @throws {@link AdmissionError} when refused; {@link RpcError} `receiptTimeout` (2006) when
   *   still pending after the wait (then use {@link OpmeterClient.waitForReceipt}).
   */
  txSendRawAndWait(tx: BytesLike | SignedTransaction): Promise<ReceiptView> {
    return this.invoke(METHODS.tx_sendRawAndWait, [rawTransaction(tx)]);
  }

  /** `tx_get`: a pending or committed transaction; `null` when unknown. */
  txGet(hash: Hex): Promise<TxView | null> {
    return this.invoke(METHODS.tx_get, [hash]);
  }

  /** `tx_receipt`: the receipt of a committed transaction; `null` when pending or unknown. */
  txReceipt(hash: Hex): Promise<ReceiptView | null> {
    return this.invoke(METHODS.tx_receipt, [hash]);
  }

  /**
   * `contract_call`: runs a call read-only (nothing written). A revert, trap or out of gas is a
   * result (its `status`), never an error.
   *
   * @throws {@link CallGasAboveMaxError}, {@link RateLimitedError}, `unknownBlock`.
   */
  contractCall(call: CallArgs, height?: number): Promise<CallResultView> {
    return this.invoke(METHODS.contract_call, [call, height]);
  }

  /**
   * `contract_estimateGas`: the smallest gas limit at which the transaction succeeds, verified by
   * executing at exactly that limit.
   *
   * @throws {@link ExecutionFailedError} (2004) when it fails at any limit; {@link RateLimitedError}.
   */
  contractEstimateGas(args: EstimateArgs): Promise<EstimateView> {
    return this.invoke(METHODS.contract_estimateGas, [args]);
  }

  /**
   * `contract_storage`: a storage value with its Merkle proof against a block's state root.
   * Check it with {@link OpmeterClient.verifiedStorage} or {@link verifyStorageProof}.
   */
  contractStorage(contract: AddressOrName, key: BytesLike, height?: number): Promise<StorageProofView> {
    return this.invoke(METHODS.contract_storage, [contract, key, height]);
  }

  /** `contract_quota`: a contract's daily quota of read-only gas: budget, used, left. */
  contractQuota(contract: AddressOrName): Promise<QuotaView> {
    return this.invoke(METHODS.contract_quota, [contract]);
  }

  /** `contract_traceCall`: `contract_call` with the gas trace of the execution. */
  contractTraceCall(call: CallArgs, height?: number, options?: TraceArgs): Promise<TraceView> {
    return this.invoke(METHODS.contract_traceCall, [call, height, options]);
  }

  /** `audit_replay`: re-executes a committed transaction and compares its receipt field by field. */
  auditReplay(hash: Hex): Promise<ReplayReport | null> {
    return this.invoke(METHODS.audit_replay, [hash]);
  }

  /** `audit_trace`: where every unit of a committed transaction's gas went. */
  auditTrace(hash: Hex, options?: TraceArgs): Promise<TraceView | null> {
    return this.invoke(METHODS.audit_trace, [hash, options]);
  }

  /** `audit_bundle`: a self-contained bundle to verify a committed transaction offline. */
  auditBundle(hash: Hex): Promise<Bundle | null> {
    return this.invoke(METHODS.audit_bundle, [hash]);
  }

  /**
   * `dev_fund`: development chains only, moves `amount` from the development account, resolving
   * once committed.
   *
   * @throws {@link RpcError} `devOnly` (2005) on other chains.
   */
  devFund(address: AddressOrName, amount: Amount): Promise<FundView> {
    return this.invoke(METHODS.dev_fund, [address, amount]);
  }

  /**
   * `proof_prove`: starts proving a provable method of a contract (code read from one committed
   * state) on the node's bounded prover queue; resolves with the job at once. Follow it with
   * {@link OpmeterClient.proofJob}, {@link OpmeterClient.subscribeProofJob} or
   * {@link OpmeterClient.waitForProof}.
   *
   * @throws {@link RpcError} `3000 + n` (`codeName` `prover`, `data.reason`: `notProvable`,
   * `stepBoundExceeded`, `keysMissing`, `proverBusy`, …), `unknownContract`, `unknownBlock`.
   */
  proofProve(args: ProveArgs): Promise<ProofJobView> {
    return this.invoke(METHODS.proof_prove, [args]);
  }

  /** `proof_job`: a prove job's state and progress, with its proof or error once finished; `null` when unknown. */
  proofJob(id: number): Promise<ProofJobView | null> {
    return this.invoke(METHODS.proof_job, [id]);
  }

  /**
   * `proof_get`: a job's proof once done, `null` while it runs.
   *
   * @throws {@link RpcError} the failed job's prover error (`3000 + n`); `unknownProofJob`.
   */
  proofGet(id: number): Promise<ProofView | null> {
    return this.invoke(METHODS.proof_get, [id]);
  }

  /** `proof_verify`: whether a proof verifies with the node's verifying key, or a typed reason why not. */
  proofVerify(proof: ProofView): Promise<ProofVerifyView> {
    return this.invoke(METHODS.proof_verify, [proof]);
  }

  /** `contract_provability`: per `provable:` export of a contract, whether it can be proven and why not. */
  contractProvability(contract: AddressOrName, height?: number): Promise<ProvabilityView> {
    return this.invoke(METHODS.contract_provability, [contract, height]);
  }

  /** `subscribe_proofJob`: a prove job's progress until it is done or failed (WebSocket). */
  subscribeProofJob(id: number, options?: SubscribeOptions): Promise<Subscription<ProofJobView>> {
    return this.subscribe(METHODS.subscribe_proofJob, [id], options);
  }

  /**
   * Polls `proof_job` until the job finishes; resolves with its proof.
   *
   * @throws {@link RpcError} with the job's prover error when it failed; {@link TimeoutError}.
   */
  async waitForProof(id: number, options: WaitOptions = {}): Promise<ProofView> {
    const timeoutMs = options.timeoutMs ?? 600_000;
    const intervalMs = options.intervalMs ?? 250;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.proofJob(id);
      if (job === null) throw new RpcError('proof_job', ErrorCode.unknownProofJob, `no prove job ${id}`, undefined);
      if (job.state === 'done' && job.proof !== null) return job.proof;
      if (job.state === 'failed' && job.error !== null) {
        throw new RpcError('proof_prove', job.error.code, job.error.message, { reason: job.error.name });
      }
      if (Date.now() >= deadline) throw new TimeoutError(`prove job ${id} did not finish within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /** `rpc.discover`: the node's OpenRPC document. */
  rpcDiscover(): Promise<JsonValue> {
    return this.invoke(METHODS['rpc.discover'], []);
  }

  /** `subscribe_newHeads`: every new block header, as it commits (WebSocket). */
  subscribeNewHeads(options?: SubscribeOptions): Promise<Subscription<HeaderView>> {
    return this.subscribe(METHODS.subscribe_newHeads, [], options);
  }

  /**
   * `subscribe_events`: events matching `filter` (a contract, topic prefixes with `null` for
   * any), in block order as their blocks commit (WebSocket).
   */
  subscribeEvents(filter?: EventFilter, options?: SubscribeOptions): Promise<Subscription<EventNotice>> {
    return this.subscribe(METHODS.subscribe_events, [filter], options);
  }

  /**
   * Polls `tx_receipt` until the transaction is committed.
   *
   * @throws {@link TimeoutError} when it is not committed within `timeoutMs`.
   */
  async waitForReceipt(hash: Hex, options: WaitOptions = {}): Promise<ReceiptView> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const intervalMs = options.intervalMs ?? 250;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const receipt = await this.txReceipt(hash);
      if (receipt) return receipt;
      if (Date.now() + intervalMs > deadline) {
        throw new TimeoutError(`${hash}: no receipt within ${timeoutMs} ms`);
      }
      await sleep(intervalMs);
    }
  }

  /**
   * A storage value proven against a state root the dapp trusts: asks `contract_storage` at the
   * trusted header's height and verifies the proof, so the node cannot lie about the value.
   * Returns the value, `null` when proven absent.
   *
   * @param trusted - a header (or its height and state root) from a source the dapp trusts.
   * @throws {@link ProofError} when the node's answer does not prove the value.
   */
  async verifiedStorage(
    contract: Hex,
    key: BytesLike,
    trusted: { readonly height: number; readonly stateRoot: Hex },
  ): Promise<Uint8Array | null> {
    const answer = await this.contractStorage(contract, key, trusted.height);
    return verifyStorageProof(answer, trusted.stateRoot);
  }

  /** Closes the client's sockets. */
  async close(): Promise<void> {
    await this.transport.close();
    if (this.subscriptionTransport && this.subscriptionTransport !== this.transport) {
      await this.subscriptionTransport.close();
    }
  }
}

function rawTransaction(tx: BytesLike | SignedTransaction): Uint8Array {
  return tx instanceof Uint8Array || typeof tx === 'string' ? toBytes(tx, 'tx') : encodeSignedTransaction(tx);
}
