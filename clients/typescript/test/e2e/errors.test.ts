// Every admission refusal a client can reach (1001–1013) surfaces as a typed AdmissionError from
// a real node, and so do the other error classes (unknown block, call gas, rate limit, failed
// estimate, dev-only, subscriptions, oversized requests).
//
// 1014 (`mempoolFull`) is reached on a second node started with `--mempool-max-txs 2` whose
// blocks come once a minute, so pending transactions stay pending.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  ADMISSION_REASONS,
  admissionCode,
  AdmissionError,
  buildTransaction,
  CallGasAboveMaxError,
  deploy,
  encodeSignedTransaction,
  ErrorCode,
  ExecutionFailedError,
  Keypair,
  OpmeterClient,
  RateLimitedError,
  RpcError,
  signTransaction,
  Signer,
  TransportError,
  transfer,
  utf8,
  type AdmissionReason,
  type Amount,
  type Hex,
  type Payload,
} from '../../src/index.js';
import { startNode, type RunningNode } from '../support/node.js';

let node: RunningNode;
let client: OpmeterClient;
let blockGasLimit: bigint;
let alice: Keypair;

before(async () => {
  node = await startNode();
  client = new OpmeterClient({ url: node.url, strict: true });
  blockGasLimit = (await client.chainInfo()).blockGasLimit;
  alice = Keypair.generate();
  await client.devFund(alice.address, 10n ** 18n);
});

after(async () => {
  await client?.close();
  await node?.stop();
});

/** Alice's signed transaction with the given fields (defaults: a transfer that would be admitted). */
async function raw(
  fields: { chainId?: string; nonce?: Amount; gasLimit?: Amount; gasPrice?: Amount; payload?: Payload; key?: Keypair } = {},
): Promise<Uint8Array> {
  const key = fields.key ?? alice;
  const tx = buildTransaction({
    chainId: fields.chainId ?? 'opmeter-dev',
    publicKey: key.publicKey,
    nonce: fields.nonce ?? 0,
    gasLimit: fields.gasLimit ?? 1_000_000,
    gasPrice: fields.gasPrice ?? 1,
    payload: fields.payload ?? transfer(`0x${'b0'.repeat(32)}`, 1),
  });
  return encodeSignedTransaction(await signTransaction(tx, key));
}

const covered = new Set<AdmissionReason>();

async function refused(send: Promise<unknown>, reason: AdmissionReason): Promise<AdmissionError> {
  let caught: unknown;
  await assert.rejects(send, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof AdmissionError, `expected AdmissionError ${reason}, got ${String(caught)}`);
  assert.equal(caught.reason, reason);
  assert.equal(caught.code, admissionCode(reason));
  assert.equal(caught.codeName, 'admission');
  assert.deepEqual((caught.data as { reason: string }).reason, reason);
  covered.add(reason);
  return caught;
}

describe('admission refusals (1001–1015)', () => {
  it('1001 tooLarge: a signed transaction above 640 KiB', async () => {
    const big = await raw({ payload: deploy(new Uint8Array(660 * 1024)), gasLimit: 50_000_000 });
    assert.ok(big.length > 640 * 1024);
    await refused(client.txSendRaw(big), 'tooLarge');
  });

  it('1002 malformed: bytes that are not one signed transaction', async () => {
    await refused(client.txSendRaw(new Uint8Array([1, 2, 3])), 'malformed');
    const trailing = await raw();
    await refused(client.txSendRaw(new Uint8Array([...trailing, 0])), 'malformed');
  });

  it('1003 wrongChainId', async () => {
    await refused(client.txSendRaw(await raw({ chainId: 'another-chain' })), 'wrongChainId');
  });

  it('1004 badSignature', async () => {
    const bytes = await raw();
    bytes[bytes.length - 1]! ^= 1;
    await refused(client.txSendRaw(bytes), 'badSignature');
  });

  it('1005 gasLimitAboveBlockLimit', async () => {
    await refused(client.txSendRaw(await raw({ gasLimit: blockGasLimit + 1n })), 'gasLimitAboveBlockLimit');
  });

  it('1006 gasLimitBelowIntrinsic', async () => {
    await refused(client.txSendRaw(await raw({ gasLimit: 1_000 })), 'gasLimitBelowIntrinsic');
  });

  it('1007 gasPriceTooLow', async () => {
    await refused(client.txSendRaw(await raw({ gasPrice: 0 })), 'gasPriceTooLow');
  });

  it('1011 invalidCode, with every violation', async () => {
    const error = await refused(
      client.txSendRaw(await raw({ payload: deploy(utf8('not wasm')), gasLimit: 10_000_000 })),
      'invalidCode',
    );
    assert.ok(error.violations.length > 0);
    assert.equal(typeof error.violations[0]!.message, 'string');
  });

  it('1008 nonceTooLow, 1012 alreadyKnown, 1009 nonceTooHigh', async () => {
    const first = await raw({ nonce: 0 });
    const receipt = await client.txSendRawAndWait(first);
    assert.equal(receipt.status, 'success');
    await refused(client.txSendRaw(first), 'alreadyKnown');
    await refused(client.txSendRaw(await raw({ nonce: 0, payload: transfer(alice.address, 2) })), 'nonceTooLow');
    // Committed nonce 1; the window admits up to 1 + 64.
    await refused(client.txSendRaw(await raw({ nonce: 66 })), 'nonceTooHigh');
  });

  it('1013 nonceTaken: two pending transactions with one nonce', async () => {
    // Nonce 5 waits behind the gap at 1..4, so it stays pending.
    await client.txSendRaw(await raw({ nonce: 5 }));
    await refused(client.txSendRaw(await raw({ nonce: 5, payload: transfer(alice.address, 3) })), 'nonceTaken');
  });

  it('1010 insufficientBalance, also through a Signer', async () => {
    const broke = Keypair.generate();
    await refused(client.txSendRaw(await raw({ key: broke })), 'insufficientBalance');
    const signer = await Signer.create(client, broke);
    await refused(signer.transfer(alice.address, 1n, { gasLimit: 1_000_000 }), 'insufficientBalance');
    // The refused nonce is handed out again: the next transaction is not stuck behind a gap.
    await client.devFund(broke.address, 10n ** 15n);
    const receipt = await signer.transfer(alice.address, 1n);
    assert.equal(receipt.status, 'success');
  });

  it('1014 mempoolFull: a third pending transaction on a node that keeps two', async () => {
    const small = await startNode(['--mempool-max-txs', '2', '--block-time', '60s']);
    const smallClient = new OpmeterClient({ url: small.url, strict: true });
    try {
      const dev = Keypair.dev();
      const pending = async (nonce: number): Promise<Uint8Array> =>
        raw({ key: dev, nonce });
      await smallClient.txSendRaw(await pending(0));
      await smallClient.txSendRaw(await pending(1));
      await refused(smallClient.txSendRaw(await pending(2)), 'mempoolFull');
    } finally {
      await smallClient.close();
      await small.stop();
    }
  });

  it('1015 invalidName, with the rule it breaks', async () => {
    const target: Hex = `0x${'b0'.repeat(32)}`;
    const tx = buildTransaction({
      chainId: 'opmeter-dev',
      publicKey: alice.publicKey,
      nonce: 0,
      gasLimit: 1_000_000,
      gasPrice: 1,
      // Built by hand: the helper refuses a malformed name before signing.
      payload: { kind: 'registerName', name: 'Not_A_Name', target, salt: new Uint8Array() },
    });
    const error = await refused(client.txSendRaw(encodeSignedTransaction(await signTransaction(tx, alice))), 'invalidName');
    assert.deepEqual(error.data, { reason: 'invalidName', name: 'Not_A_Name', rule: 'badCharacter', ruleCode: 3 });
  });

  it('reached every refusal', () => {
    assert.deepEqual([...covered].sort(), [...ADMISSION_REASONS].sort());
  });
});

describe('other errors', () => {
  let limited: RunningNode;
  let strictClient: OpmeterClient;

  before(async () => {
    const funded = Keypair.generate();
    limited = await startNode(
      ['--rpc-read-gas-per-second', '1', '--rpc-read-gas-burst', '200000', '--rpc-max-subscriptions', '1', '--rpc-max-body-bytes', '4096'],
      {
        chainId: 'opmeter-limited',
        timestampMs: 1000,
        blockGasLimit: 1_000_000_000,
        blockTxMax: 100,
        minGasPrice: '1',
        feeCollector: `0x${'fe'.repeat(32)}`,
        balances: { [funded.address]: '1000000000000' },
        dev: false,
      },
    );
    strictClient = new OpmeterClient({ url: limited.url, strict: true });
  });

  after(async () => {
    await strictClient?.close();
    await limited?.stop();
  });

  it('2001 unknownBlock', async () => {
    await assert.rejects(client.accountGet(alice.address, 1_000_000), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.unknownBlock && e.codeName === 'unknownBlock');
  });

  it('2002 callGasAboveMax carries the maximum', async () => {
    const { callGasMax } = await client.chainInfo();
    await assert.rejects(
      client.contractCall({ contract: alice.address, method: 'get', gasLimit: callGasMax + 1n }),
      (e: unknown) => e instanceof CallGasAboveMaxError && e.callGasMax === callGasMax,
    );
  });

  it('2004 executionFailed carries the failing execution', async () => {
    await assert.rejects(
      client.contractEstimateGas({ from: Keypair.generate().address, tx: { kind: 'transfer', to: alice.address, amount: 5 } }),
      (e: unknown) => e instanceof ExecutionFailedError && e.code === 2004 && typeof e.execution.status === 'string',
    );
  });

  it('-32602 invalidParams: both args and input', async () => {
    await assert.rejects(
      client.contractCall({ contract: alice.address, method: 'get', args: {}, input: '0x' }),
      (e: unknown) => e instanceof RpcError && e.code === ErrorCode.invalidParams,
    );
  });

  it('2003 rateLimited carries retryAfterMs', async () => {
    const target = `0x${'c0'.repeat(32)}` as const;
    await strictClient.contractCall({ contract: target, method: 'get' });
    await assert.rejects(
      strictClient.contractCall({ contract: target, method: 'get' }),
      (e: unknown) => e instanceof RateLimitedError && e.code === 2003 && e.retryAfterMs > 0,
    );
  });

  it('2005 devOnly on a chain that is not a development chain', async () => {
    await assert.rejects(strictClient.devFund(alice.address, 1n), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.devOnly && e.codeName === 'devOnly');
  });

  it('-32006 tooManySubscriptions', async () => {
    const heads = await strictClient.subscribeNewHeads();
    await assert.rejects(strictClient.subscribeNewHeads(), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.tooManySubscriptions);
    await heads.unsubscribe();
  });

  it('-32007 oversizedRequest: a body above --rpc-max-body-bytes (HTTP 413 with a JSON-RPC error)', async () => {
    const big = await raw({ payload: deploy(new Uint8Array(4096)), gasLimit: 10_000_000 });
    await assert.rejects(
      strictClient.txSendRaw(big),
      (e: unknown) => e instanceof RpcError && e.code === ErrorCode.oversizedRequest && e.codeName === 'oversizedRequest',
    );
  });

  it('an unreachable node is a TransportError', async () => {
    const gone = new OpmeterClient({ url: 'http://127.0.0.1:9' });
    await assert.rejects(gone.chainHead(), (e: unknown) => e instanceof TransportError && e.status === null);
  });
});
