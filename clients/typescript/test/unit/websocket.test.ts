// The WebSocket transport against a scripted socket: answers matched by id in any order,
// notifications that arrive with the subscribe answer kept, bounded buffers, unsubscribing,
// closes from either side, and `find` timeouts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  OpmeterClient,
  SubscriptionOverflowError,
  TimeoutError,
  TransportError,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../../src/index.js';

const ZERO32 = `0x${'00'.repeat(32)}`;
const header = (height: number): unknown => ({
  chainId: 'c',
  height,
  hash: ZERO32,
  parentHash: ZERO32,
  lastCommitHash: ZERO32,
  timestampMs: 0,
  stateRoot: ZERO32,
  transactionsRoot: ZERO32,
  receiptsRoot: ZERO32,
  gasUsed: '0',
  txCount: 0,
  scheduleHash: ZERO32,
});

type Listener = (event: { data?: unknown; code?: number }) => void;
type Request = { id: number; method: string; params: unknown[] };

/** A scripted node on the other end of a fake WebSocket. */
class Server {
  socket: FakeSocket | null = null;
  readonly received: Request[] = [];
  /** Answers a request; `null`: the test answers it itself. */
  answer: (request: Request) => unknown = () => null;

  constructor() {
    // The class the transport instantiates.
    const server = this as Server;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string) {
        super(url, server);
        server.socket = this;
      }
    };
  }

  readonly WebSocket: WebSocketConstructor;

  send(message: unknown): void {
    this.socket!.emit('message', { data: JSON.stringify(message) });
  }

  notify(method: string, subscription: number, result: unknown): void {
    this.send({ jsonrpc: '2.0', method, params: { subscription, result } });
  }
}

class FakeSocket implements WebSocketLike {
  readyState = 0;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(
    readonly url: string,
    private readonly server: Server,
  ) {
    setTimeout(() => {
      this.readyState = 1;
      this.emit('open', {});
    }, 0);
  }

  addEventListener(type: string, listener: (event: never) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener as Listener]);
  }

  emit(type: string, event: { data?: unknown; code?: number }): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  send(data: string): void {
    const request = JSON.parse(data) as Request;
    this.server.received.push(request);
    const result = this.server.answer(request);
    if (result !== null) queueMicrotask(() => this.server.send({ jsonrpc: '2.0', id: request.id, result }));
  }

  close(code = 1000): void {
    this.readyState = 3;
    queueMicrotask(() => this.emit('close', { code }));
  }
}

function client(server: Server, maxWait?: number): OpmeterClient {
  return new OpmeterClient({ url: 'ws://node', WebSocket: server.WebSocket, strict: true, ...(maxWait ? { timeoutMs: maxWait } : {}) });
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

describe('WebSocket transport', () => {
  it('matches answers to requests by id, in any order', async () => {
    const server = new Server();
    const c = client(server);
    const first = c.chainHead();
    const second = c.chainHead();
    while (server.received.length < 2) await tick();
    const [a, b] = server.received;
    server.send({ jsonrpc: '2.0', id: b!.id, result: header(2) });
    server.send({ jsonrpc: '2.0', id: a!.id, result: header(1) });
    assert.deepEqual([(await first).height, (await second).height], [1, 2]);
    await c.close();
  });

  it('keeps notifications sent right after the subscribe answer, in order; break unsubscribes', async () => {
    const server = new Server();
    server.answer = (request) => {
      if (request.method === 'subscribe_newHeads') {
        // The answer and three notifications in one burst, before the subscriber resumes.
        queueMicrotask(() => {
          server.send({ jsonrpc: '2.0', id: request.id, result: 77 });
          for (const height of [1, 2, 3]) server.notify('newHead', 77, header(height));
        });
        return null;
      }
      return request.method === 'unsubscribe_newHeads' ? true : null;
    };
    const c = client(server);
    const heads = await c.subscribeNewHeads();
    assert.equal(heads.id, '77');
    const seen: number[] = [];
    for await (const head of heads) {
      seen.push(head.height);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(
      server.received.filter((r) => r.method === 'unsubscribe_newHeads').map((r) => r.params),
      [[77]],
    );
    // Notifications for a subscription that is gone are dropped.
    server.notify('newHead', 77, header(4));
    assert.equal((await heads.next()).done, true);
    await c.close();
  });

  it('bounds the buffer: past maxBuffered the subscription ends with SubscriptionOverflowError', async () => {
    const server = new Server();
    server.answer = (request) => (request.method === 'subscribe_newHeads' ? 5 : true);
    const c = client(server);
    const heads = await c.subscribeNewHeads({ maxBuffered: 3 });
    for (const height of [1, 2, 3, 4, 5]) server.notify('newHead', 5, header(height));
    const read: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const head of heads) read.push(head.height);
      })(),
      SubscriptionOverflowError,
    );
    assert.deepEqual(read, [1, 2, 3], 'what was buffered is still delivered');
    await tick();
    assert.ok(server.received.some((r) => r.method === 'unsubscribe_newHeads'), 'and the node is told to stop');
    await c.close();
  });

  it('a notification of the wrong shape ends the subscription with a ProtocolError naming it', async () => {
    const server = new Server();
    server.answer = (request) => (request.method === 'subscribe_newHeads' ? 9 : true);
    const c = client(server);
    const heads = await c.subscribeNewHeads();
    server.notify('newHead', 9, { ...(header(1) as object), gasUsed: 12 });
    await assert.rejects(heads.next(), /newHead\[0\]\.gasUsed: expected a string/);
    await c.close();
  });

  it('the node closing the socket fails requests in flight and ends subscriptions with a TransportError', async () => {
    const server = new Server();
    server.answer = (request) => (request.method === 'subscribe_newHeads' ? 1 : null);
    const c = client(server);
    const heads = await c.subscribeNewHeads();
    const pending = c.chainHead();
    await tick();
    server.socket!.close(1006);
    await assert.rejects(pending, (e: unknown) => e instanceof TransportError && /closed \(code 1006\)/.test(e.message));
    await assert.rejects(heads.next(), TransportError);
    // The next request opens a new socket.
    server.answer = (request) => (request.method === 'chain_head' ? header(8) : null);
    assert.equal((await c.chainHead()).height, 8);
    await c.close();
  });

  it('closing the client ends subscriptions normally', async () => {
    const server = new Server();
    server.answer = (request) => (request.method === 'subscribe_newHeads' ? 3 : true);
    const c = client(server);
    const heads = await c.subscribeNewHeads();
    const next = heads.next();
    await c.close();
    assert.deepEqual(await next, { value: undefined, done: true });
    await assert.rejects(c.chainHead(), TransportError);
  });

  it('find: times out and unsubscribes; a late notification is not swallowed by a dangling read', async () => {
    const server = new Server();
    server.answer = (request) => (request.method === 'subscribe_newHeads' ? 4 : true);
    const c = client(server);
    const heads = await c.subscribeNewHeads();
    server.notify('newHead', 4, header(1));
    await assert.rejects(heads.find((h) => h.height > 5, { timeoutMs: 30, keep: true }), TimeoutError);
    await tick();
    assert.ok(server.received.some((r) => r.method === 'unsubscribe_newHeads'));
    const found = await c.subscribeNewHeads();
    server.notify('newHead', 4, header(9));
    assert.equal((await found.find((h) => h.height === 9, { timeoutMs: 1000, keep: true })).height, 9);
    server.notify('newHead', 4, header(10));
    assert.equal((await found.next()).value?.height, 10, 'keep: the subscription stays open after a match');
    await c.close();
  });

  it('a request without an answer times out', async () => {
    const server = new Server();
    const c = client(server, 30);
    await assert.rejects(c.chainHead(), (e: unknown) => e instanceof TimeoutError && /chain_head: no answer/.test(e.message));
    await c.close();
  });
});
