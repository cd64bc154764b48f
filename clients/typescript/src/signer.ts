/**
 * An account that sends transactions: estimates gas (verified by the node) plus a margin,
 * numbers its transactions itself — concurrent sends get consecutive nonces, and a nonce a
 * refused transaction did not use is handed out again — signs, sends and waits for the receipt.
 *
 * ```ts
 * const signer = await Signer.create(client, Keypair.fromSecretKey(secret));
 * const receipt = await signer.call(counter, 'increment', { by: 2 });
 * ```
 *
 * @module
 */

import { toAmount, toHex, U64_MAX, type AddressOrName, type Amount, type BytesLike, type Hex } from './bytes.js';
import type { OpmeterClient, WaitOptions } from './client.js';
import type { JsonInput } from './codec.js';
import { AdmissionError, ErrorCode, RateLimitedError, RpcError, TransportError, type AdmissionReason } from './errors.js';
import { GAS_MARGIN_PERCENT, gasLimitWithMargin } from './gas.js';
import { addressFromPublicKey, type TransactionKey } from './keys.js';
import type { CallResultView, EstimateView, ReceiptView, TxRequest } from './schemas.js';
import {
  buildTransaction,
  call,
  deploy,
  encodeSignedTransaction,
  signTransaction,
  transactionHash,
  transfer,
  type CallOptions,
  type DeployOptions,
  type Payload,
  type SignedTransaction,
} from './tx.js';

/** Options of {@link Signer.create}. */
export interface SignerOptions {
  /** Gas price of every transaction (default: the chain's `minGasPrice`). */
  gasPrice?: Amount;
  /** Extra gas on top of verified estimates, in percent (default 20; only used gas is paid). */
  gasMarginPercent?: number;
  /** How long to wait for a receipt after the node's own 30 s wait ran out (default 60 s). */
  wait?: WaitOptions;
}

/** Options of one transaction. */
export interface SendOptions {
  /** Gas limit (default: the node's verified estimate plus the margin). */
  gasLimit?: Amount;
  /** Nonce (default: the signer's next; a given nonce is not tracked). */
  nonce?: Amount;
}

/** A signed transaction ready to send. */
export interface SignedPayload {
  /** The signed transaction. */
  readonly signed: SignedTransaction;
  /** Its wire bytes (`tx_sendRaw`). */
  readonly raw: Uint8Array;
  /** Its hash. */
  readonly hash: Hex;
}

/** A transaction the node admitted (pending), with a way to wait for its receipt. */
export interface PendingTransaction {
  /** Its hash. */
  readonly hash: Hex;
  /** Its nonce. */
  readonly nonce: bigint;
  /** Waits until it is committed. */
  wait(options?: WaitOptions): Promise<ReceiptView>;
}

/** Estimates retried after `retryAfterMs` when the node's read budget refuses them. */
const ESTIMATE_ATTEMPTS_MAX = 8;
/** The longest wait before retrying an estimate. */
const ESTIMATE_RETRY_WAIT_MS_MAX = 10_000;

/** Refusals that mean another sender used the account's nonces: re-read them and retry once. */
const NONCE_RESYNC: readonly AdmissionReason[] = ['nonceTooLow', 'nonceTaken'];

function requestOf(payload: Payload): TxRequest {
  switch (payload.kind) {
    case 'transfer':
      return { kind: 'transfer', to: payload.to, amount: payload.amount };
    case 'deploy':
      return { kind: 'deploy', code: payload.code, input: payload.initInput, salt: payload.salt, value: payload.value };
    case 'call':
      return { kind: 'call', contract: payload.contract, method: payload.method, input: payload.input, value: payload.value };
    case 'registerName':
      return { kind: 'registerName', name: payload.name, target: payload.target, salt: payload.salt };
    case 'pointName':
      return { kind: 'pointName', name: payload.name, target: payload.target, salt: payload.salt };
    case 'transferName':
      return { kind: 'transferName', name: payload.name, newOwner: payload.newOwner };
  }
}

/**
 * The node already has these exact bytes (pending or committed): the same transaction, sent
 * before (a resend after a lost answer, or another client of the same key building the same
 * one). Sending is idempotent: wait for it.
 */
function isAlreadyKnown(e: unknown): boolean {
  return e instanceof AdmissionError && e.reason === 'alreadyKnown';
}

/** Sends an account's transactions through a client. */
export class Signer {
  /** The account's address. */
  readonly address: Hex;
  private next: bigint | null = null;
  private loading: Promise<void> | null = null;
  /** Reserved nonces whose transactions were refused: handed out again first. */
  private readonly released: bigint[] = [];
  /** The last estimate queued: estimates run one at a time (see {@link Signer.estimate}). */
  private estimates: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The client it sends through. */
    readonly client: OpmeterClient,
    private readonly key: TransactionKey,
    /** The chain id it signs for. */
    readonly chainId: string,
    /** The gas price of its transactions. */
    readonly gasPrice: bigint,
    /** The chain's block gas limit (no gas limit exceeds it). */
    readonly blockGasLimit: bigint,
    private readonly marginPercent: number,
    private readonly waitOptions: WaitOptions,
  ) {
    this.address = addressFromPublicKey(key.publicKey);
  }

  /** A signer for `key` on the chain `client` talks to (reads `chain_info` once). */
  static async create(client: OpmeterClient, key: TransactionKey, options: SignerOptions = {}): Promise<Signer> {
    const info = await client.chainInfo();
    return new Signer(
      client,
      key,
      info.chainId,
      options.gasPrice !== undefined ? toAmount(options.gasPrice, 'gasPrice') : info.minGasPrice,
      info.blockGasLimit,
      options.gasMarginPercent ?? GAS_MARGIN_PERCENT,
      options.wait ?? {},
    );
  }

  /** Reserves the next nonce: a released one first, else the next after the last reserved. */
  private async reserveNonce(): Promise<bigint> {
    while (this.next === null) {
      this.loading ??= this.client
        .accountGet(this.address)
        .then((account) => {
          this.next ??= BigInt(account.pendingNonce);
        })
        .finally(() => {
          this.loading = null;
        });
      await this.loading;
    }
    if (this.released.length > 0) {
      this.released.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return this.released.shift()!;
    }
    const nonce = this.next;
    this.next += 1n;
    return nonce;
  }

  /** Gives back a reserved nonce whose transaction the node did not admit. */
  private releaseNonce(nonce: bigint): void {
    if (this.next === null) return;
    if (nonce === this.next - 1n) {
      this.next = nonce;
      // Released nonces just below are free now too.
      for (;;) {
        const below = this.released.indexOf(this.next - 1n);
        if (below < 0) break;
        this.released.splice(below, 1);
        this.next -= 1n;
      }
    } else if (nonce < this.next && !this.released.includes(nonce)) {
      this.released.push(nonce);
    }
  }

  /** Forgets the tracked nonce: the next transaction reads `pendingNonce` from the node again. */
  resyncNonce(): void {
    this.next = null;
    this.released.length = 0;
  }

  /**
   * The node's verified estimate for `payload` from this account.
   *
   * Estimates run one at a time per signer: the node reserves a whole estimate's worth of its
   * per-client read budget (the cap times every execution it may need) for each, so concurrent
   * estimates from one client refuse each other. When the budget refuses one anyway
   * ({@link RateLimitedError}, e.g. other clients on the same address), it is retried after
   * `retryAfterMs`, at most 8 times.
   *
   * @throws {@link ExecutionFailedError} when it fails at any gas limit;
   *   {@link RateLimitedError} when the budget still refuses after the retries.
   */
  estimate(payload: Payload): Promise<EstimateView> {
    const args = { from: this.address, tx: requestOf(payload) };
    const run = this.estimates.then(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.client.contractEstimateGas(args);
        } catch (e) {
          if (!(e instanceof RateLimitedError) || attempt >= ESTIMATE_ATTEMPTS_MAX) throw e;
          await new Promise((resolve) => setTimeout(resolve, Math.min(e.retryAfterMs, ESTIMATE_RETRY_WAIT_MS_MAX)));
        }
      }
    });
    this.estimates = run.catch(() => undefined);
    return run;
  }

  /** The gas limit a send uses: the estimate plus the margin, at most the block gas limit. */
  async gasLimitFor(payload: Payload): Promise<bigint> {
    const estimate = await this.estimate(payload);
    return gasLimitWithMargin(estimate.gasLimit, this.blockGasLimit, this.marginPercent);
  }

  private async signWith(payload: Payload, nonce: bigint, gasLimit: bigint): Promise<SignedPayload> {
    const tx = buildTransaction({
      chainId: this.chainId,
      publicKey: this.key.publicKey,
      nonce,
      gasLimit,
      gasPrice: this.gasPrice,
      payload,
    });
    const signed = await signTransaction(tx, this.key);
    return { signed, raw: encodeSignedTransaction(signed), hash: transactionHash(tx) };
  }

  /**
   * Signs `payload` without sending it. Unless `options.nonce` is given this reserves the
   * signer's next nonce: send the result, or later transactions wait behind the gap.
   */
  async sign(payload: Payload, options: SendOptions = {}): Promise<SignedPayload> {
    const gasLimit =
      options.gasLimit !== undefined ? toAmount(options.gasLimit, 'gasLimit', U64_MAX) : await this.gasLimitFor(payload);
    const nonce = options.nonce !== undefined ? toAmount(options.nonce, 'nonce', U64_MAX) : await this.reserveNonce();
    return this.signWith(payload, nonce, gasLimit);
  }

  /**
   * Signs and sends with `send` (tx_sendRaw or tx_sendRawAndWait), keeping the nonce bookkeeping
   * right whatever the outcome; re-reads the nonce and retries once when another sender took it.
   */
  private async dispatch<R>(
    payload: Payload,
    options: SendOptions,
    send: (signed: SignedPayload) => Promise<R>,
  ): Promise<R> {
    const gasLimit =
      options.gasLimit !== undefined ? toAmount(options.gasLimit, 'gasLimit', U64_MAX) : await this.gasLimitFor(payload);
    for (let attempt = 0; ; attempt++) {
      const tracked = options.nonce === undefined;
      const nonce = tracked ? await this.reserveNonce() : toAmount(options.nonce!, 'nonce', U64_MAX);
      let signed: SignedPayload;
      try {
        signed = await this.signWith(payload, nonce, gasLimit);
      } catch (e) {
        if (tracked) this.releaseNonce(nonce);
        throw e;
      }
      try {
        return await send(signed);
      } catch (e) {
        if (!tracked) throw e;
        if (e instanceof AdmissionError) {
          if (NONCE_RESYNC.includes(e.reason) && attempt === 0) {
            this.resyncNonce();
            continue;
          }
          // `alreadyKnown`: the transaction is pending or committed, so its nonce is used.
          if (e.reason !== 'alreadyKnown') this.releaseNonce(nonce);
        } else if (e instanceof TransportError) {
          // Admitted or not: unknown. Ask the node next time.
          this.resyncNonce();
        }
        throw e;
      }
    }
  }

  /**
   * Signs and admits `payload` (`tx_sendRaw`) without waiting for the block.
   *
   * @throws {@link AdmissionError} when the node refuses it.
   */
  submit(payload: Payload, options: SendOptions = {}): Promise<PendingTransaction> {
    return this.dispatch(payload, options, async (signed) => {
      const hash = await this.client.txSendRaw(signed.raw).catch((e: unknown) => {
        if (isAlreadyKnown(e)) return signed.hash;
        throw e;
      });
      return {
        hash,
        nonce: signed.signed.tx.nonce,
        wait: (wait?: WaitOptions) => this.client.waitForReceipt(hash, wait ?? this.waitOptions),
      };
    });
  }

  /**
   * Estimates, signs, sends (`tx_sendRawAndWait`) and returns the receipt. A receipt with a
   * failed status (revert, trap, out of gas) is returned, not thrown: check `receipt.status`.
   * When the node already has the exact transaction (`alreadyKnown`), its receipt is awaited.
   *
   * @throws {@link AdmissionError} when refused; {@link ExecutionFailedError} when the estimate
   *   finds it fails at any limit; {@link TimeoutError} when it stays pending.
   */
  send(payload: Payload, options: SendOptions = {}): Promise<ReceiptView> {
    return this.dispatch(payload, options, async (signed) => {
      try {
        return await this.client.txSendRawAndWait(signed.raw);
      } catch (e) {
        if ((e instanceof RpcError && e.code === ErrorCode.receiptTimeout) || isAlreadyKnown(e)) {
          return this.client.waitForReceipt(signed.hash, this.waitOptions);
        }
        throw e;
      }
    });
  }

  /** Sends `amount` to `to`. */
  transfer(to: BytesLike, amount: Amount, options?: SendOptions): Promise<ReceiptView> {
    return this.send(transfer(to, amount), options);
  }

  /** Deploys `code` (running `init` with `deployOptions.args`); the receipt has `contractAddress`. */
  deploy(code: BytesLike, deployOptions?: DeployOptions, options?: SendOptions): Promise<ReceiptView> {
    return this.send(deploy(code, deployOptions), options);
  }

  /** Calls `method` of `contract` with JSON `args` in a transaction. */
  call(
    contract: BytesLike,
    method: string,
    args?: JsonInput,
    callOptions?: CallOptions,
    options?: SendOptions,
  ): Promise<ReceiptView> {
    return this.send(call(contract, method, args, callOptions), options);
  }

  /** Runs `method` read-only as this account (free; nothing is written). */
  query(contract: AddressOrName, method: string, args?: JsonInput): Promise<CallResultView> {
    return this.client.contractCall({ from: this.address, contract, method, ...(args === undefined ? {} : { args }) });
  }

  /** The public key as hex. */
  get publicKey(): Hex {
    return toHex(this.key.publicKey);
  }
}
