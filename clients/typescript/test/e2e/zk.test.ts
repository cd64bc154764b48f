// Groth16 proofs through a real node serving profile `s` with seeded development keys (made by
// `opmeter zk setup`): provability per method, a prove job followed by subscription and by
// polling, verification on the node (valid, tampered, malformed), and typed prover errors.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import {
  ErrorCode,
  Keypair,
  OpmeterClient,
  proverCode,
  RpcError,
  Signer,
  type Hex,
  type ProofJobView,
} from '../../src/index.js';
import { contractWasm, opmeterBinary, startNode, type RunningNode } from '../support/node.js';

let node: RunningNode;
let client: OpmeterClient;
let contract: Hex;
let keys: string;

before(async () => {
  keys = mkdtempSync(path.join(os.tmpdir(), 'opmeter-ts-zk-'));
  await promisify(execFile)(opmeterBinary(), ['zk', 'setup', '--profile', 's', '--dir', keys, '--seed', '7']);
  const [started, wasm] = await Promise.all([startNode(['--zk-keys', keys]), contractWasm('provable')]);
  node = started;
  client = new OpmeterClient({ url: node.url, strict: true });
  const signer = await Signer.create(client, Keypair.dev());
  contract = (await signer.deploy(wasm)).contractAddress!;
});

after(async () => {
  await client?.close();
  await node?.stop();
  if (keys) rmSync(keys, { recursive: true, force: true });
});

const proverError = (reason: string) => (e: unknown): boolean =>
  e instanceof RpcError && e.codeName === 'prover' && (e.data as { reason?: string }).reason === reason;

describe('proofs', () => {
  it('reports which provable methods can be proven, and why not', async () => {
    const report = await client.contractProvability(contract);
    const fib = report.methods.find((m) => m.method === 'fib')!;
    assert.equal(fib.provable, true);
    assert.ok(fib.instructions! > 0);
    const nibble = report.methods.find((m) => m.method === 'nibble_weight')!;
    assert.equal(nibble.provable, false);
    assert.equal(typeof nibble.offset, 'number');
    assert.match(nibble.reason!, /memory/);
  });

  it('proves a job, followed by subscription, and the node verifies it', async () => {
    const job = await client.proofProve({ contract, method: 'gcd', args: [1_071n, 462n] });
    assert.equal(job.profile, 's');
    const states: string[] = [];
    const updates = await client.subscribeProofJob(job.id);
    for await (const update of updates as AsyncIterable<ProofJobView>) {
      states.push(update.state);
      if (update.state === 'done' || update.state === 'failed') break;
    }
    assert.equal(states.at(-1), 'done');
    const proof = await client.waitForProof(job.id);
    assert.equal(proof.output, 21n);
    assert.deepEqual(proof.args, [1_071n, 462n]);
    assert.equal(proof.keyOrigin, 'development');
    assert.equal(proof.proof.length, 128);
    assert.deepEqual(await client.proofGet(job.id), proof);

    const verdict = await client.proofVerify(proof);
    assert.equal(verdict.valid, true);
    assert.equal(verdict.codeChecked, true);
    const forged = await client.proofVerify({ ...proof, gasUsed: proof.gasUsed + 1n });
    assert.equal(forged.valid, false);
    assert.equal(forged.reason!.code, proverCode('invalidProof'));
    const malformed = await client.proofVerify({ ...proof, proof: proof.proof.slice(0, 64) });
    assert.equal(malformed.reason!.name, 'malformedProof');
  });

  it('refuses what it cannot prove with typed errors', async () => {
    await assert.rejects(client.proofProve({ contract, method: 'nibble_weight', args: [1n] }), proverError('notProvable'));
    await assert.rejects(client.proofProve({ contract, method: 'fib', args: [1n], profile: 'xl' }), proverError('unknownProfile'));
    await assert.rejects(client.proofProve({ contract, method: 'fib', args: [1n], profile: 'm' }), proverError('keysMissing'));
    await assert.rejects(client.proofProve({ contract, method: 'fib', args: [100_000n] }), proverError('stepBoundExceeded'));
    await assert.rejects(
      client.proofProve({ contract: `0x${'07'.repeat(32)}`, method: 'fib', args: [1n] }),
      (e: unknown) => e instanceof RpcError && e.code === ErrorCode.unknownContract,
    );
    await assert.rejects(client.proofGet(999_999), (e: unknown) => e instanceof RpcError && e.code === ErrorCode.unknownProofJob);
    assert.equal(await client.proofJob(999_999), null);
  });
});
