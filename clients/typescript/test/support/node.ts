/**
 * A real `opmeter node` for end-to-end tests: the binary from `OPMETER_BIN` (default
 * `$CARGO_TARGET_DIR/release/opmeter`, else `…/debug/opmeter`), on a free port and a temporary
 * data directory, stopped afterwards. Contracts come from `contracts/`, built by `opmeter build`.
 */

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import type { Hex } from '../../src/index.js';
import { REPO_DIR } from './paths.js';

const run = promisify(execFile);

/** The `opmeter` binary these tests drive. */
export function opmeterBinary(): string {
  const explicit = process.env['OPMETER_BIN'];
  if (explicit) return explicit;
  const target = process.env['CARGO_TARGET_DIR'] ?? path.join(os.homedir(), '.cache', 'opmeter', 'target');
  for (const profile of ['release', 'debug']) {
    const candidate = path.join(target, profile, 'opmeter');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `no opmeter binary: set OPMETER_BIN, or build it (cargo build -p opmeter-node) into ${target}/{release,debug}`,
  );
}

/** A running node. */
export interface RunningNode {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `ws://127.0.0.1:PORT`. */
  readonly wsUrl: string;
  /** The development key it printed (`null` for a non-development genesis). */
  readonly devKey: Hex | null;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

/**
 * Starts `opmeter node` with `args` (e.g. `--block-time 1s`); `genesis` is written to a file and
 * passed as `--genesis`.
 */
export async function startNode(args: string[] = [], genesis?: unknown): Promise<RunningNode> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opmeter-ts-'));
  const extra = [...args];
  if (genesis !== undefined) {
    const file = path.join(dir, 'genesis.json');
    writeFileSync(file, JSON.stringify(genesis));
    extra.push('--genesis', file);
  }
  const child: ChildProcess = spawn(
    opmeterBinary(),
    ['node', '--data-dir', path.join(dir, 'data'), '--rpc-addr', '127.0.0.1:0', '--no-sync', ...extra],
    { env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout! });
  const started = new Promise<{ url: string; devKey: Hex | null }>((resolve, reject) => {
    let devKey: Hex | null = null;
    const timer = setTimeout(() => reject(new Error(`opmeter node did not start within 60 s: ${stderr}`)), 60_000);
    lines.on('line', (line) => {
      const key = /dev key\s+(0x[0-9a-f]{64})/.exec(line);
      if (key) devKey = key[1] as Hex;
      const rpc = /^\s*rpc:\s+(http:\/\/\S+)/.exec(line);
      if (rpc) {
        clearTimeout(timer);
        resolve({ url: rpc[1]!, devKey });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`opmeter node exited (${code}) before serving: ${stderr}`));
    });
  });
  const { url, devKey } = await started;
  let stopped = false;
  return {
    url,
    wsUrl: url.replace('http://', 'ws://'),
    devKey,
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const built = new Map<string, Promise<Uint8Array>>();

/**
 * The wasm of contract `name` from `contracts/` (`opmeter build contracts/NAME`, cached by
 * cargo), or `$OPMETER_CONTRACTS_DIR/NAME.wasm` when set.
 */
export function contractWasm(name: string): Promise<Uint8Array> {
  let wasm = built.get(name);
  if (!wasm) {
    wasm = (async () => {
      const dir = process.env['OPMETER_CONTRACTS_DIR'];
      if (dir) return new Uint8Array(await readFile(path.join(dir, `${name}.wasm`)));
      return new Uint8Array(await readFile(await buildContract(name)));
    })();
    built.set(name, wasm);
  }
  return wasm;
}

/** Builds `contracts/NAME` with `opmeter build --json`; returns the `.wasm` path it reports. */
export async function buildContract(name: string): Promise<string> {
  const { stdout } = await run(opmeterBinary(), ['build', '--json', path.join(REPO_DIR, 'contracts', name)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const built = JSON.parse(stdout) as { package: string; path: string }[];
  const wasm = built.find((b) => b.package === name)?.path;
  if (!wasm) throw new Error(`opmeter build --json reported no ${name}:\n${stdout}`);
  return wasm;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
