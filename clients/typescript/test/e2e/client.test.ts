// Every JSON-RPC method against a real `opmeter node`, decoded strictly (a field the client does
// not know fails), over HTTP and over WebSocket; the Signer's nonces under concurrent sends.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  call,
  codeHash,
  contractAddress,
  DEV_SECRET_KEY,
  deploy,
  encodeSignedTransaction,
  ExecutionFailedError,
  gasReport,
  Keypair,
  OpmeterClient,
  registerName,
  RpcError,
  Signer,
  toHex,
  transfer,
  utf8,
  type Hex,
} from '../../src/index.js';
import { contractWasm, startNode, type RunningNode } from '../support/node.js';
import { REPO_DIR } from '../support/paths.js';

let node: RunningNode;
let client: OpmeterClient;
let dev: Signer;
let counterWasm: Uint8Array;

before(async () => {
  [node, counterWasm] = await Promise.all([startNode(), contractWasm('counter')]);
  client = new OpmeterClient({ url: node.url, strict: true });
  dev = await Signer.create(client, Keypair.dev());
});

after(async () => {
  await client?.close();
  await node?.stop();
});

describe('the development chain', () => {
  it('funds the key this package exports as DEV_SECRET_KEY (as the node prints it)', async () => {
    assert.equal(node.devKey, DEV_SECRET_KEY);
    const info = await client.chainInfo();
    assert.equal(info.chainId, 'opmeter-dev');
    assert.equal(info.dev, true);
    const account = await client.accountGet(Keypair.dev().address);
    assert.equal(account.balance, 10n ** 30n);
    assert.equal(typeof info.minGasPrice, 'bigint');
    assert.ok(info.callGasMax > 0n && info.blockGasLimit > 0n);
  });
});

describe('every method', () => {
  let counter: Hex;
  let deployHash: Hex;
  let incrementHash: Hex;

  it('contract_estimateGas, tx_sendRawAndWait (deploy), code_get, code_validate', async () => {
    const payload = deploy(counterWasm, { args: { start: 5 }, salt: utf8('client test') });
    const estimate = await dev.estimate(payload);
    assert.ok(estimate.gasLimit >= estimate.gasUsed && estimate.intrinsicGas > 0n);
    assert.equal(gasReport(estimate).total, estimate.gasUsed);
    const signed = await dev.sign(payload);
    const receipt = await client.txSendRawAndWait(signed.signed);
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.txHash, signed.hash);
    counter = receipt.contractAddress!;
    deployHash = receipt.txHash;
    assert.equal(counter, contractAddress(dev.address, counterWasm, utf8('client test')));

    const byAddress = await client.codeGet({ address: counter });
    const byHash = await client.codeGet({ codeHash: codeHash(counterWasm) });
    assert.deepEqual(byAddress?.code, counterWasm);
    assert.equal(byHash?.codeHash, codeHash(counterWasm));
    assert.equal(await client.codeGet({ codeHash: `0x${'00'.repeat(32)}` }), null);

    const valid = await client.codeValidate(counterWasm);
    assert.deepEqual([valid.valid, valid.violations], [true, []]);
    const invalid = await client.codeValidate(utf8('not wasm'));
    assert.equal(invalid.valid, false);
    assert.ok(invalid.violations.length > 0 && typeof invalid.violations[0]!.rule === 'string');
  });

  it('tx_sendRaw, tx_get (pending → committed), tx_receipt', async () => {
    const signed = await dev.sign(call(counter, 'increment', { by: 2 }));
    const hash = await client.txSendRaw(signed.raw);
    assert.equal(hash, signed.hash);
    const seen = await client.txGet(hash);
    assert.ok(seen && (seen.state === 'pending' || seen.state === 'committed'));
    const receipt = await client.waitForReceipt(hash, { intervalMs: 20 });
    incrementHash = hash;
    assert.deepEqual(JSON.parse(new TextDecoder().decode(receipt.output)), 7);
    assert.equal(receipt.events.length, 1);
    const committed = await client.txGet(hash);
    assert.equal(committed?.state, 'committed');
    assert.equal(committed?.height, receipt.height);
    assert.equal(committed?.payload.kind, 'call');
    assert.equal(committed?.lenBytes, signed.raw.length);
    assert.deepEqual(await client.txReceipt(hash), receipt);
    assert.equal(await client.txReceipt(`0x${'ee'.repeat(32)}`), null);
    assert.equal(await client.txGet(`0x${'ee'.repeat(32)}`), null);
  });

  it('chain_head, chain_getBlock by height, hash and "latest", with transactions', async () => {
    const head = await client.chainHead();
    const latest = await client.chainGetBlock('latest', true);
    assert.deepEqual(latest?.header, head);
    const byHeight = await client.chainGetBlock(head.height);
    const byHash = await client.chainGetBlock(head.hash);
    assert.deepEqual(byHeight?.header, head);
    assert.deepEqual(byHash?.header, head);
    assert.equal(byHeight?.transactions, null);
    // A chain one node produces: no block carries a parent's certificate.
    assert.equal(byHeight?.lastCommit, null);
    assert.equal(head.lastCommitHash, `0x${'00'.repeat(32)}`);
    assert.equal(latest?.transactions?.length, head.txCount);
    assert.ok(latest?.transactionHashes.includes(incrementHash));
    assert.equal(await client.chainGetBlock(head.height + 1000), null);
  });

  it('account_get at the head and at a past height', async () => {
    const now = await client.accountGet(dev.address);
    const genesis = await client.accountGet(dev.address, 0);
    assert.equal(genesis.nonce, 0);
    assert.equal(now.nonce, 2);
    assert.equal(now.pendingNonce, 2);
    assert.ok(now.balance < genesis.balance);
    const contract = await client.accountGet(counter);
    assert.equal(contract.codeHash, codeHash(counterWasm));
  });

  it('contract_call: success and a revert as a result; contract_traceCall', async () => {
    const got = await client.contractCall({ contract: counter, method: 'get' });
    assert.deepEqual([got.status, got.outputJson], ['success', 7]);
    assert.equal(gasReport(got).total, got.gasUsed);
    const reset = await client.contractCall({ contract: counter, method: 'reset', from: `0x${'07'.repeat(32)}` });
    assert.equal(reset.status, 'revert');
    assert.equal(new TextDecoder().decode(reset.output), 'only the owner can reset');
    const raw = await client.contractCall({ contract: counter, method: 'increment', input: utf8('{"by":3}') });
    assert.equal(raw.outputJson, 10, 'read-only: nothing written');
    const trace = await client.contractTraceCall({ contract: counter, method: 'get' }, undefined, { blocks: true, maxBlocks: 3 });
    assert.equal(trace.txHash, null);
    assert.equal(trace.gasUsed, got.gasUsed);
    assert.ok(trace.root && trace.root.entries.length > 0);
    assert.ok(trace.blocks.length <= 3);
  });

  it('contract_storage with a proof', async () => {
    const answer = await client.contractStorage(counter, utf8('count'));
    assert.deepEqual(answer.value, new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0]));
    assert.equal(answer.stateRoot, (await client.chainHead()).stateRoot);
  });

  it('name_get, and the name wherever an address goes (specs/names.md)', async () => {
    const free = await client.nameGet('client-counter');
    assert.deepEqual([free.registered, free.owner, free.target], [false, null, null]);
    const receipt = await dev.send(registerName('client-counter', counter, utf8('client test')));
    assert.equal(receipt.status, 'success');
    assert.ok((receipt.gasBreakdown['storage_write'] ?? 0n) > 0n, 'name gas is priced as state writes');
    const named = await client.nameGet('client-counter');
    assert.deepEqual(
      [named.registered, named.owner, named.target, named.registeredHeight],
      [true, dev.address, counter, receipt.height],
    );
    const head = await client.chainHead();
    const proven = await client.verifiedName('client-counter', head);
    assert.equal(proven?.target, counter);
    assert.equal(await client.verifiedName('nobody-here', head), null);
    const byName = await client.contractCall({ contract: 'client-counter', method: 'get' });
    const byAddress = await client.contractCall({ contract: counter, method: 'get' });
    assert.deepEqual([byName.outputJson, byName.gasUsed], [byAddress.outputJson, byAddress.gasUsed]);
    assert.equal((await client.accountGet('client-counter')).address, counter);
    assert.equal((await client.contractStorage('client-counter', utf8('count'))).contract, counter);
    assert.equal((await client.contractQuota('client-counter')).contract, counter);
    assert.deepEqual((await client.codeGet({ address: 'client-counter' }))?.code, counterWasm);
    assert.equal((await dev.query('client-counter', 'get')).outputJson, byAddress.outputJson);
    // Taken: a failed receipt with its typed status; unknown: notFound (2010).
    await assert.rejects(dev.estimate(registerName('client-counter', counter, utf8('client test'))), (e: unknown) => {
      return e instanceof ExecutionFailedError && e.execution.status === 'nameTaken';
    });
    await assert.rejects(client.contractCall({ contract: 'nobody-here', method: 'get' }), (e: unknown) => {
      return e instanceof RpcError && e.code === 2010;
    });
    // The transaction as served.
    const tx = await client.txGet(receipt.txHash);
    assert.deepEqual(tx?.payload, { kind: 'registerName', name: 'client-counter', target: counter, salt: utf8('client test') });
  });

  it('audit_replay, audit_trace, audit_bundle', async () => {
    const replay = await client.auditReplay(incrementHash);
    assert.equal(replay?.matches, true);
    assert.equal(replay?.firstDifference, null);
    const trace = await client.auditTrace(incrementHash);
    const receipt = (await client.txReceipt(incrementHash))!;
    assert.equal(trace?.gasUsed, receipt.gasUsed);
    assert.equal(trace!.intrinsicGas + trace!.root!.gasUsed, receipt.gasUsed);
    const bundle = await client.auditBundle(incrementHash);
    assert.equal(bundle?.chainId, 'opmeter-dev');
    assert.ok(bundle!.codes.some((c) => c.hash === codeHash(counterWasm)));
    assert.equal(await client.auditReplay(`0x${'ee'.repeat(32)}`), null);
    assert.ok(deployHash);
  });

  it('dev_fund and rpc.discover (the document in specs/)', async () => {
    const fresh = Keypair.generate();
    const funded = await client.devFund(fresh.address, 123_456_789_012_345_678_901_234_567_890n);
    assert.equal(funded.amount, 123_456_789_012_345_678_901_234_567_890n);
    assert.equal((await client.accountGet(fresh.address)).balance, funded.amount);
    const doc = await client.rpcDiscover();
    const spec = JSON.parse(readFileSync(path.join(REPO_DIR, 'specs', 'openrpc.json'), 'utf8')) as unknown;
    assert.deepEqual(doc, spec);
  });

  it('the same over one WebSocket', async () => {
    const ws = new OpmeterClient({ url: node.wsUrl, strict: true });
    try {
      const [info, head] = await Promise.all([ws.chainInfo(), ws.chainHead()]);
      assert.equal(info.chainId, 'opmeter-dev');
      const signer = await Signer.create(ws, Keypair.dev());
      const receipt = await signer.transfer(Keypair.generate().address, 1n);
      assert.equal(receipt.status, 'success');
      assert.ok(receipt.height > head.height);
    } finally {
      await ws.close();
    }
  });

  it('raw requests and method errors', async () => {
    assert.equal(((await client.request('chain_head')) as { height: number }).height, (await client.chainHead()).height);
    await assert.rejects(client.request('no_such_method'), (e: unknown) => e instanceof RpcError && e.code === -32601 && e.codeName === 'methodNotFound');
    await assert.rejects(client.request('tx_get', ['0xzz']), (e: unknown) => e instanceof RpcError && e.codeName === 'invalidParams');
    await assert.rejects(
      client.contractEstimateGas({ from: `0x${'07'.repeat(32)}`, tx: { kind: 'call', contract: counter, method: 'reset' } }),
      (e: unknown) =>
        e instanceof ExecutionFailedError &&
        e.execution.status === 'revert' &&
        e.execution.outputText === 'only the owner can reset' &&
        e.execution.gasUsed > 0n,
    );
  });
});

describe('Signer', () => {
  it('sends 12 transactions concurrently from one account: consecutive nonces, all committed', async () => {
    const alice = Keypair.generate();
    await client.devFund(alice.address, 10n ** 20n);
    const signer = await Signer.create(client, alice);
    const bob = Keypair.generate().address;
    const receipts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => signer.send(transfer(bob, BigInt(i + 1)))),
    );
    assert.ok(receipts.every((r) => r.status === 'success'));
    const nonces = await Promise.all(receipts.map(async (r) => (await client.txGet(r.txHash))!.nonce));
    assert.deepEqual(nonces.sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i));
    assert.equal((await client.accountGet(bob)).balance, 78n);
    assert.equal((await client.accountGet(alice.address)).nonce, 12);
  });

  it('submits without waiting, then waits', async () => {
    const pending = await dev.submit(transfer(Keypair.generate().address, 5n));
    const receipt = await pending.wait({ intervalMs: 20 });
    assert.equal(receipt.txHash, pending.hash);
  });

  it('keeps working when another client sends from the same key', async () => {
    const carol = Keypair.generate();
    await client.devFund(carol.address, 10n ** 18n);
    const first = await Signer.create(client, carol);
    const second = await Signer.create(client, carol);
    await first.transfer(dev.address, 1n); // nonce 0
    await second.transfer(dev.address, 2n); // second reads pendingNonce 1
    const receipt = await first.transfer(dev.address, 3n); // first thinks 1: nonceTooLow, re-reads, sends 2
    assert.equal(receipt.status, 'success');
    assert.equal((await client.txGet(receipt.txHash))?.nonce, 2);
    // Both at nonce 3 with the same payload: byte-identical transactions. The second send finds it
    // already known and waits for the same receipt instead of failing.
    const [a, b] = [await Signer.create(client, carol), await Signer.create(client, carol)];
    const once = await a.transfer(dev.address, 9n);
    const again = await b.transfer(dev.address, 9n, { nonce: 3 });
    assert.deepEqual(again, once);
    assert.equal((await client.accountGet(carol.address)).nonce, 4);
  });

  it('encodes exactly what the node decodes (tx_get echoes every field)', async () => {
    // dev_fund spends the development account's nonces behind `dev`'s back: use another key.
    const erin = Keypair.generate();
    await client.devFund(erin.address, 10n ** 18n);
    const signer = await Signer.create(client, erin);
    const payload = call(`0x${'ab'.repeat(32)}`, 'mëthod', undefined, { input: '0x00ff', value: 0n });
    const signed = await signer.sign(payload, { gasLimit: 1_000_000 });
    await client.txSendRaw(encodeSignedTransaction(signed.signed));
    const seen = (await client.txGet(signed.hash))!;
    assert.equal(seen.publicKey, toHex(signed.signed.tx.publicKey));
    assert.equal(seen.signature, toHex(signed.signed.signature));
    assert.equal(seen.gasLimit, 1_000_000n);
    assert.deepEqual(seen.payload, { kind: 'call', contract: `0x${'ab'.repeat(32)}`, method: 'mëthod', input: new Uint8Array([0, 255]), value: 0n });
    await client.waitForReceipt(signed.hash, { intervalMs: 20 });
  });
});
