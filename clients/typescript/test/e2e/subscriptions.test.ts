// Subscriptions against a real node: new heads, and events filtered by contract and topic prefix
// (with `null` as a wildcard), delivered as async iterators.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { blake3 } from '@noble/hashes/blake3.js';

import { Keypair, OpmeterClient, Signer, toHex, utf8, type EventNotice, type Hex, type Subscription } from '../../src/index.js';
import { contractWasm, sleep, startNode, type RunningNode } from '../support/node.js';

let node: RunningNode;
let client: OpmeterClient;
let signer: Signer;
let counter: Hex;
let other: Hex;
const INCREMENTED = toHex(blake3(utf8('Incremented')));

before(async () => {
  const [started, wasm] = await Promise.all([startNode(), contractWasm('counter')]);
  node = started;
  client = new OpmeterClient({ url: node.url, strict: true });
  signer = await Signer.create(client, Keypair.dev());
  counter = (await signer.deploy(wasm, { args: { start: 0 } })).contractAddress!;
  other = (await signer.deploy(wasm, { args: { start: 100 }, salt: utf8('other') })).contractAddress!;
});

after(async () => {
  await client?.close();
  await node?.stop();
});

/** Whether `subscription` has nothing more within `ms` (without ending it). */
async function quiet<T>(subscription: Subscription<T>, ms: number): Promise<boolean> {
  const next = subscription.next();
  const result = await Promise.race([next.then(() => false), sleep(ms).then(() => true)]);
  return result;
}

describe('subscriptions', () => {
  it('newHeads delivers the header of the block that committed a transaction', async () => {
    const heads = await client.subscribeNewHeads();
    const receipt = await signer.call(counter, 'increment');
    const header = await heads.find((h) => h.height === receipt.height, { timeoutMs: 30_000 });
    const block = await client.chainGetBlock(receipt.height);
    assert.deepEqual(header, block?.header);
    assert.equal(header.txCount, 1);
  });

  it('events: by contract, by topic prefix with a wildcard, and not the others', async () => {
    const byContract = await client.subscribeEvents({ contract: counter });
    const byTopics = await client.subscribeEvents({ topics: [INCREMENTED, signer.address] });
    const wildcard = await client.subscribeEvents({ contract: counter, topics: [null, signer.address] });
    const nobody = await client.subscribeEvents({ topics: [INCREMENTED, `0x${'99'.repeat(32)}`] });
    const elsewhere = await client.subscribeEvents({ contract: other });

    const receipt = await signer.call(counter, 'increment', { by: 3 });
    assert.equal(receipt.status, 'success');
    const expected = (notice: EventNotice): void => {
      assert.equal(notice.txHash, receipt.txHash);
      assert.equal(notice.height, receipt.height);
      assert.deepEqual([notice.txIndex, notice.eventIndex], [receipt.index, 0]);
      assert.equal(notice.event.contract, counter);
      assert.deepEqual(notice.event.topics, [INCREMENTED, signer.address]);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(notice.event.data)), { by: 3, count: 4 });
    };
    for (const subscription of [byContract, byTopics, wildcard]) {
      const first = await subscription.next();
      assert.equal(first.done, false);
      expected(first.value as EventNotice);
    }
    // The block's notifications were all sent before its receipt was answered; nothing else came.
    assert.ok(await quiet(nobody, 300), 'a filter on another caller received an event');
    assert.ok(await quiet(elsewhere, 0), 'a filter on another contract received an event');
    await Promise.all([byContract, byTopics, wildcard, nobody, elsewhere].map((s) => s.unsubscribe()));
  });

  it('for await … break unsubscribes; events keep their block order', async () => {
    const events = await client.subscribeEvents({ contract: counter });
    const sends = [1, 2, 3].map((by) => signer.call(counter, 'increment', { by }));
    const counts: number[] = [];
    for await (const notice of events) {
      counts.push((JSON.parse(new TextDecoder().decode(notice.event.data)) as { count: number }).count);
      if (counts.length === 3) break;
    }
    await Promise.all(sends);
    // Each increment adds its own `by`; whatever order they were included in, counts increase.
    assert.deepEqual([...counts].sort((a, b) => a - b), counts);
    assert.equal(counts.at(-1), 10);
    const after = await events.next();
    assert.equal(after.done, true);
  });

  it('over a WebSocket-only client too', async () => {
    const ws = new OpmeterClient({ url: node.wsUrl, strict: true });
    try {
      const heads = await ws.subscribeNewHeads();
      const receipt = await signer.transfer(Keypair.generate().address, 1n);
      const header = await heads.find((h) => h.height >= receipt.height, { timeoutMs: 30_000 });
      assert.ok(header.height >= receipt.height);
    } finally {
      await ws.close();
    }
  });
});
