// The README's dapp walkthrough, as written: extracted from README.md, type-checked strictly
// against the built package, and run against a fresh node. If the README and the package drift
// apart, this fails.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { transform } from 'esbuild';

import { buildContract, startNode, type RunningNode } from '../support/node.js';
import { PACKAGE_DIR } from '../support/paths.js';

const run = promisify(execFile);
const MARKER = '<!-- walkthrough: test/e2e/walkthrough.test.ts runs the next block -->';

/** The ```ts block right after the marker. */
function walkthrough(): string {
  const readme = readFileSync(path.join(PACKAGE_DIR, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, 'README.md has the walkthrough marker');
  const block = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(at + MARKER.length));
  assert.ok(block, 'a ts block follows the marker');
  return block[1]!;
}

let node: RunningNode;
let counterWasm: string;

before(async () => {
  [node, counterWasm] = await Promise.all([startNode(), buildContract('counter')]);
});

after(async () => {
  await node?.stop();
});

describe('README walkthrough', () => {
  const dir = path.join(PACKAGE_DIR, 'build', 'readme');
  const source = path.join(dir, 'walkthrough.ts');

  it('type-checks strictly against the built package', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(source, walkthrough());
    // The file sits inside the package, so `@opmeter/client` resolves to dist/ by self-reference.
    const tsc = path.join(PACKAGE_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [
      tsc, '--noEmit', '--strict', '--noUncheckedIndexedAccess', '--target', 'es2022', '--module', 'nodenext',
      '--moduleResolution', 'nodenext', '--types', 'node', '--lib', 'es2022,dom', source,
    ];
    await run(process.execPath, args, { cwd: PACKAGE_DIR }).catch((e: { stdout?: string }) => {
      assert.fail(`the README walkthrough does not type-check:\n${e.stdout ?? String(e)}`);
    });
  });

  it('runs against a node: deploys, calls, sends, receives the event, proves the count', async () => {
    const { code } = await transform(walkthrough(), { loader: 'ts', format: 'esm', target: 'es2022' });
    const script = path.join(dir, 'walkthrough.mjs');
    mkdirSync(dir, { recursive: true });
    writeFileSync(script, code);
    const { stdout } = await run(process.execPath, [script], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, OPMETER_RPC: node.url, COUNTER_WASM: counterWasm },
      timeout: 120_000,
    });
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^deployed 0x[0-9a-f]{64} success$/);
    assert.equal(lines[1], 'count 5');
    assert.equal(lines[2], 'increment success 7');
    const table = lines.slice(3, lines.findIndex((l) => l.startsWith('total')) + 1);
    assert.ok(table.some((l) => /^transaction\s+[\d,]+\s+[\d.]+%$/.test(l)), table.join('\n'));
    assert.match(table.at(-1)!, /^total\s+[\d,]+\s+100\.0%$/);
    assert.equal(lines.at(-2), 'event {"by":2,"count":7}');
    assert.equal(lines.at(-1), 'proven count 7n');
  });
});
