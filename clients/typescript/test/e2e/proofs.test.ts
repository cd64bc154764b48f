// Storage proofs from a real node, checked against header state roots: a value and an absence
// verify; a forged value, a forged absence, another root and a tampered answer are refused.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Keypair,
  OpmeterClient,
  ProofError,
  Signer,
  utf8,
  verifyStorage,
  verifyStorageProof,
  type Hex,
  type HeaderView,
  type StorageProofView,
} from '../../src/index.js';
import { contractWasm, startNode, type RunningNode } from '../support/node.js';

let node: RunningNode;
let client: OpmeterClient;
let counter: Hex;
let before5: HeaderView;
let after7: HeaderView;

const u64le = (n: number): Uint8Array => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  return out;
};

before(async () => {
  const [started, wasm] = await Promise.all([startNode(), contractWasm('counter')]);
  node = started;
  client = new OpmeterClient({ url: node.url, strict: true });
  const signer = await Signer.create(client, Keypair.dev());
  counter = (await signer.deploy(wasm, { args: { start: 5 } })).contractAddress!;
  before5 = await client.chainHead();
  await signer.call(counter, 'increment', { by: 2 });
  after7 = await client.chainHead();
});

after(async () => {
  await client?.close();
  await node?.stop();
});

const mismatch = (e: unknown): boolean => e instanceof ProofError && e.kind === 'mismatch';

describe('storage proofs', () => {
  it('a value verifies against the header it was read at, at the head and in the past', async () => {
    assert.deepEqual(await client.verifiedStorage(counter, utf8('count'), after7), u64le(7));
    assert.deepEqual(await client.verifiedStorage(counter, utf8('count'), before5), u64le(5));
  });

  it('an absent key verifies as absent', async () => {
    assert.equal(await client.verifiedStorage(counter, utf8('no such key'), after7), null);
  });

  it('a forged value is refused', async () => {
    const answer = await client.contractStorage(counter, utf8('count'), after7.height);
    const forged: StorageProofView = { ...answer, value: u64le(1_000_000) };
    assert.throws(() => verifyStorageProof(forged, after7.stateRoot), mismatch);
    // The old value with the new proof, and the new value against the old root.
    assert.throws(() => verifyStorage(after7.stateRoot, counter, utf8('count'), u64le(5), answer.proof), mismatch);
    assert.throws(() => verifyStorage(before5.stateRoot, counter, utf8('count'), u64le(7), answer.proof), mismatch);
  });

  it('a forged absence, a present value claimed for an absent key, and another contract are refused', async () => {
    const present = await client.contractStorage(counter, utf8('count'), after7.height);
    assert.throws(() => verifyStorageProof({ ...present, value: null }, after7.stateRoot), mismatch);
    const absent = await client.contractStorage(counter, utf8('no such key'), after7.height);
    assert.throws(() => verifyStorageProof({ ...absent, value: utf8('x') }, after7.stateRoot), mismatch);
    const elsewhere = `0x${'12'.repeat(32)}` as const;
    assert.throws(() => verifyStorage(after7.stateRoot, elsewhere, utf8('count'), u64le(7), present.proof), mismatch);
  });

  it('an answer for another root, or with a wrong key hash, is refused before the proof', async () => {
    const answer = await client.contractStorage(counter, utf8('count'), before5.height);
    assert.throws(() => verifyStorageProof(answer, after7.stateRoot), /not the trusted/);
    assert.throws(
      () => verifyStorageProof({ ...answer, keyHash: `0x${'00'.repeat(32)}` }, before5.stateRoot),
      /keyHash/,
    );
    const truncated = { ...answer, proof: answer.proof.subarray(0, answer.proof.length - 1) };
    assert.throws(() => verifyStorageProof(truncated, before5.stateRoot), (e: unknown) => e instanceof ProofError && e.kind === 'malformed');
  });
});
