// The signer's nonce bookkeeping against a scripted node: concurrent sends, refusals that free a
// nonce, another sender taking nonces, and a receipt that outlasts the node's wait. (The same
// flows run against a real node in the end-to-end tests.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  AdmissionError,
  decodeSignedTransaction,
  Keypair,
  OpmeterClient,
  RateLimitedError,
  Signer,
  transfer,
  transactionHash,
  type Hex,
  type JsonRpcErrorObject,
  type RpcResponse,
  type Transport,
} from '../../src/index.js';

const ZERO32 = `0x${'00'.repeat(32)}`;

function receipt(hash: Hex, sender: Hex): unknown {
  return {
    txHash: hash,
    sender,
    height: 1,
    index: 0,
    statusCode: 0,
    status: 'success',
    trapCode: null,
    gasUsed: '21000',
    gasLimit: '25000',
    gasBreakdown: { transaction: '21000' },
    gasPrice: '1',
    fee: '21000',
    output: '0x',
    events: [],
    scheduleHash: ZERO32,
    contractAddress: null,
  };
}

/** A scripted node: `admit` decides per transaction (by nonce and amount) what the node says. */
function scriptedNode(options: {
  pendingNonces: number[];
  admit?: (nonce: bigint, amount: bigint, attempt: number) => JsonRpcErrorObject | 'timeout' | 'known' | null;
  /** Refuse this many estimates with 2003 first. */
  rateLimitFirst?: number;
}): Transport & { nonces: bigint[]; accountReads: number; estimates: number } {
  const attempts = new Map<bigint, number>();
  const committed = new Map<string, unknown>();
  const state = {
    nonces: [] as bigint[],
    accountReads: 0,
    estimates: 0,
    estimating: 0,
    async request(method: string, params: readonly unknown[]): Promise<RpcResponse> {
      // Answer asynchronously, in a scrambled order, as a real server could.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      switch (method) {
        case 'chain_info':
          return {
            ok: true,
            result: {
              chainId: 'test-chain',
              head: { chainId: 'test-chain', height: 0, hash: ZERO32, parentHash: ZERO32, lastCommitHash: ZERO32, timestampMs: 0, stateRoot: ZERO32, transactionsRoot: ZERO32, receiptsRoot: ZERO32, gasUsed: '0', txCount: 0, scheduleHash: ZERO32 },
              scheduleVersion: 1,
              scheduleHash: ZERO32,
              dev: true,
              minGasPrice: '1',
              blockGasLimit: '1000000',
              callGasMax: '100000',
            },
          };
        case 'account_get': {
          const pendingNonce = options.pendingNonces[Math.min(state.accountReads, options.pendingNonces.length - 1)]!;
          state.accountReads++;
          return {
            ok: true,
            result: { address: params[0], balance: '1000000', nonce: 0, pendingNonce, codeHash: null, height: 0 },
          };
        }
        case 'contract_estimateGas':
          state.estimates++;
          if (state.estimating > 0 || (options.rateLimitFirst ?? 0) >= state.estimates) {
            return { ok: false, error: { code: 2003, message: 'budget used up', data: { retryAfterMs: 3 } } };
          }
          state.estimating++;
          await new Promise((resolve) => setTimeout(resolve, 2));
          state.estimating--;
          return {
            ok: true,
            result: { gasLimit: '21000', gasUsed: '21000', intrinsicGas: '21000', gasBreakdown: { transaction: '21000' }, output: '0x', executions: 2, height: 0 },
          };
        case 'tx_sendRaw':
        case 'tx_sendRawAndWait': {
          const signed = decodeSignedTransaction(params[0] as Hex);
          const { nonce } = signed.tx;
          const amount = signed.tx.payload.kind === 'transfer' ? signed.tx.payload.amount : 0n;
          const attempt = attempts.get(nonce) ?? 0;
          attempts.set(nonce, attempt + 1);
          const verdict = options.admit?.(nonce, amount, attempt) ?? null;
          const hash = transactionHash(signed.tx);
          if (verdict === 'known') {
            // These exact bytes were admitted and committed before (an earlier send whose answer was lost).
            committed.set(hash, receipt(hash, `0x${'aa'.repeat(32)}`));
            return { ok: false, error: refuse('alreadyKnown', 12) };
          }
          if (verdict === 'timeout') {
            committed.set(hash, receipt(hash, `0x${'aa'.repeat(32)}`));
            return { ok: false, error: { code: 2006, message: 'no receipt within 30000 ms' } };
          }
          if (verdict) return { ok: false, error: verdict };
          state.nonces.push(nonce);
          if (method === 'tx_sendRaw') {
            committed.set(hash, receipt(hash, `0x${'aa'.repeat(32)}`));
            return { ok: true, result: hash };
          }
          return { ok: true, result: receipt(hash, `0x${'aa'.repeat(32)}`) };
        }
        case 'tx_receipt':
          return { ok: true, result: committed.get(params[0] as string) ?? null };
        default:
          throw new Error(`unexpected ${method}`);
      }
    },
    async close(): Promise<void> {},
  };
  return state;
}

const refuse = (reason: string, n: number): JsonRpcErrorObject => ({ code: 1000 + n, message: reason, data: { reason } });
const TO = `0x${'02'.repeat(32)}` as const;

describe('Signer nonces', () => {
  it('concurrent sends get consecutive nonces from one read', async () => {
    const node = scriptedNode({ pendingNonces: [5] });
    const signer = await Signer.create(new OpmeterClient({ transport: node, strict: true }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => signer.transfer(TO, BigInt(i + 1))));
    assert.equal(receipts.length, 20);
    assert.deepEqual([...node.nonces].sort((a, b) => Number(a - b)), Array.from({ length: 20 }, (_, i) => BigInt(5 + i)));
    assert.equal(node.accountReads, 1);
  });

  it('a refused transaction gives its nonce back to the next send', async () => {
    // The transfer of 13 is refused: its nonce must not leave a gap.
    const node = scriptedNode({
      pendingNonces: [0],
      admit: (_nonce, amount) => (amount === 13n ? refuse('insufficientBalance', 10) : null),
    });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    const results = await Promise.allSettled([signer.transfer(TO, 1n), signer.transfer(TO, 13n), signer.transfer(TO, 2n)]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(refused.reason instanceof AdmissionError && refused.reason.reason === 'insufficientBalance');
    await signer.transfer(TO, 3n);
    await signer.transfer(TO, 4n);
    assert.deepEqual([...node.nonces].sort((a, b) => Number(a - b)), [0n, 1n, 2n, 3n]);
    assert.equal(node.accountReads, 1);
  });

  it('re-reads the nonce and retries once when another sender took it', async () => {
    const node = scriptedNode({
      pendingNonces: [5, 9],
      admit: (nonce) => (nonce < 9n ? refuse('nonceTooLow', 8) : null),
    });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    await signer.transfer(TO, 1n);
    await signer.transfer(TO, 1n);
    assert.deepEqual(node.nonces, [9n, 10n]);
    assert.equal(node.accountReads, 2);
  });

  it('does not retry twice, and surfaces the typed refusal', async () => {
    const node = scriptedNode({ pendingNonces: [5], admit: () => refuse('nonceTaken', 13) });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    await assert.rejects(signer.transfer(TO, 1n), (e: unknown) => e instanceof AdmissionError && e.reason === 'nonceTaken' && e.code === 1013);
    assert.equal(node.accountReads, 2);
  });

  it('waits for the receipt when the node gives up waiting (2006)', async () => {
    const node = scriptedNode({ pendingNonces: [0], admit: () => 'timeout' });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`), {
      wait: { intervalMs: 5, timeoutMs: 1000 },
    });
    const got = await signer.transfer(TO, 1n);
    assert.equal(got.status, 'success');
  });

  it('an already known transaction is the same one: its receipt is awaited', async () => {
    const node = scriptedNode({ pendingNonces: [0], admit: () => 'known' });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`), {
      wait: { intervalMs: 5, timeoutMs: 1000 },
    });
    assert.equal((await signer.transfer(TO, 1n)).status, 'success');
    const pending = await signer.submit(transfer(TO, 2n));
    assert.equal((await pending.wait()).txHash, pending.hash);
    assert.equal(pending.nonce, 1n, 'the nonce counts as used');
  });
});

describe('Signer estimates', () => {
  it('run one at a time, so concurrent sends do not exhaust the read budget', async () => {
    // The scripted node refuses an estimate while another is running, as the real budget does.
    const node = scriptedNode({ pendingNonces: [0] });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    await Promise.all(Array.from({ length: 8 }, (_, i) => signer.transfer(TO, BigInt(i + 1))));
    assert.equal(node.estimates, 8, 'no estimate was refused and retried');
  });

  it('are retried after retryAfterMs when the budget refuses them, a bounded number of times', async () => {
    const node = scriptedNode({ pendingNonces: [0], rateLimitFirst: 3 });
    const signer = await Signer.create(new OpmeterClient({ transport: node }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    assert.equal((await signer.transfer(TO, 1n)).status, 'success');
    assert.equal(node.estimates, 4);
    const stubborn = scriptedNode({ pendingNonces: [0], rateLimitFirst: 1000 });
    const refused = await Signer.create(new OpmeterClient({ transport: stubborn }), Keypair.fromSecretKey(`0x${'01'.repeat(32)}`));
    await assert.rejects(refused.transfer(TO, 1n), RateLimitedError);
    assert.equal(stubborn.estimates, 8);
  });
});
