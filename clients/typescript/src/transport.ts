/**
 * Transports: JSON-RPC 2.0 over HTTP (`fetch`) and over WebSocket (requests and subscriptions).
 * Both work in Node.js ≥ 20 and in browsers. A transport only moves JSON; the client encodes
 * parameters and decodes results.
 *
 * @module
 */

import { EncodingError, ProtocolError, SubscriptionOverflowError, TimeoutError, TransportError } from './errors.js';

/** A JSON-RPC error object as sent by the node. */
export interface JsonRpcErrorObject {
  /** Stable numeric code. */
  code: number;
  /** What to do. */
  message: string;
  /** Details (absent for some codes). */
  data?: unknown;
}

/** A request's result. */
export interface RpcSuccess {
  /** Discriminant. */
  ok: true;
  /** The `result` member, as parsed. */
  result: unknown;
}

/** A request's error. */
export interface RpcFailure {
  /** Discriminant. */
  ok: false;
  /** The `error` member. */
  error: JsonRpcErrorObject;
}

/** The outcome of one request: a result, or the node's error object. */
export type RpcResponse = RpcSuccess | RpcFailure;

/** A subscription the node accepted. */
export interface SubscribeSuccess {
  /** Discriminant. */
  ok: true;
  /** The notifications. */
  subscription: RawSubscription;
}

/** The outcome of a subscribe request. */
export type SubscribeResult = SubscribeSuccess | RpcFailure;

/** Moves JSON-RPC requests. */
export interface Transport {
  /** Sends one request; resolves with the result or the error object, rejects on transport failure. */
  request(method: string, params: readonly unknown[]): Promise<RpcResponse>;
  /** Releases the transport's resources (sockets). */
  close(): Promise<void>;
}

/** A transport that also carries subscriptions (WebSocket). */
export interface SubscriptionTransport extends Transport {
  /**
   * Sends a subscribe request; on success returns a subscription whose items are the raw
   * notification results. On the node's error, resolves with it.
   */
  subscribe(
    method: string,
    params: readonly unknown[],
    unsubscribe: string,
    options?: SubscribeOptions,
  ): Promise<SubscribeResult>;
}

/** Options of a subscription. */
export interface SubscribeOptions {
  /**
   * Most notifications kept while the consumer is not reading (default 4,096). Beyond it the
   * subscription ends with {@link SubscriptionOverflowError}: memory stays bounded whatever the
   * node sends.
   */
  maxBuffered?: number;
}

/**
 * Writes JSON like `JSON.stringify`, but `bigint`s as exact integers (JSON numbers have no size
 * limit; the node reads `u64`/`u128` arguments exactly).
 *
 * @throws {@link EncodingError} for values JSON cannot represent (functions, symbols, `NaN`,
 *   infinities, cycles).
 */
export function stringifyJson(value: unknown): string {
  const seen = new Set<object>();
  const write = (element: unknown, path: string): string | undefined => {
    switch (typeof element) {
      case 'bigint':
        return element.toString();
      case 'number':
        if (!Number.isFinite(element)) throw new EncodingError(`${path}: ${element} is not JSON`);
        return JSON.stringify(element);
      case 'string':
      case 'boolean':
        return JSON.stringify(element);
      case 'undefined':
        return undefined;
      case 'object': {
        if (element === null) return 'null';
        if (seen.has(element)) throw new EncodingError(`${path}: a cycle`);
        seen.add(element);
        let out: string;
        if (Array.isArray(element)) {
          out = `[${element.map((item, i) => write(item, `${path}[${i}]`) ?? 'null').join(',')}]`;
        } else {
          const parts: string[] = [];
          for (const [key, item] of Object.entries(element)) {
            const written = write(item, `${path}.${key}`);
            if (written !== undefined) parts.push(`${JSON.stringify(key)}:${written}`);
          }
          out = `{${parts.join(',')}}`;
        }
        seen.delete(element);
        return out;
      }
      default:
        throw new EncodingError(`${path}: a ${typeof element} is not JSON`);
    }
  };
  const text = write(value, 'json');
  if (text === undefined) throw new EncodingError('json: undefined is not JSON');
  return text;
}

function parseResponse(text: string, where: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProtocolError(where, `not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProtocolError(where, 'not a JSON-RPC response object');
  }
  return parsed as Record<string, unknown>;
}

function toResponse(message: Record<string, unknown>, where: string): RpcResponse {
  if ('error' in message && message['error'] !== undefined && message['error'] !== null) {
    const error = message['error'] as Record<string, unknown>;
    if (typeof error['code'] !== 'number' || typeof error['message'] !== 'string') {
      throw new ProtocolError(`${where}.error`, 'not a JSON-RPC error object');
    }
    const object: JsonRpcErrorObject = { code: error['code'], message: error['message'] };
    if ('data' in error) object.data = error['data'];
    return { ok: false, error: object };
  }
  if (!('result' in message)) throw new ProtocolError(where, 'neither result nor error');
  return { ok: true, result: message['result'] };
}

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Abort a request after this long (default 60 s; `tx_sendRawAndWait` waits up to 30 s). */
  timeoutMs?: number;
}

/** JSON-RPC over HTTP `POST`. */
export class HttpTransport implements Transport {
  private nextId = 1;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;

  /** @param url - `http://host:port` of the node. */
  constructor(
    readonly url: string,
    options: HttpTransportOptions = {},
  ) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.headers = { 'content-type': 'application/json', ...options.headers };
  }

  async request(method: string, params: readonly unknown[]): Promise<RpcResponse> {
    const id = this.nextId++;
    const body = stringifyJson({ jsonrpc: '2.0', id, method, params });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.fetch(this.url, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: controller.signal,
      });
      text = await response.text();
    } catch (cause) {
      if (controller.signal.aborted) {
        throw new TimeoutError(`${method}: no answer from ${this.url} within ${this.timeoutMs} ms`, {
          cause,
        });
      }
      throw new TransportError(`${method}: cannot reach ${this.url}: ${String(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
    }
    // A JSON-RPC error may come with a non-200 status (413 for an oversized body): prefer it.
    let message: Record<string, unknown> | null = null;
    try {
      message = parseResponse(text, method);
    } catch (e) {
      if (response.ok) throw e;
    }
    if (message && ('result' in message || 'error' in message)) return toResponse(message, method);
    throw new TransportError(
      `${method}: HTTP ${response.status} ${response.statusText} from ${this.url}: ${text.slice(0, 200)}`,
      { status: response.status },
    );
  }

  async close(): Promise<void> {}
}

/** The part of the WebSocket API this package uses (browsers' and the `ws` package's). */
export interface WebSocketLike {
  /** The connection state (1: open). */
  readonly readyState: number;
  /** Sends a text frame. */
  send(data: string): void;
  /** Closes the connection. */
  close(code?: number, reason?: string): void;
  /** Listens to an event (`message` events carry `data`, `close` events a `code`). */
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: never) => void): void;
}

/** A WebSocket constructor. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * The WebSocket implementation: the global one (browsers, Node.js ≥ 22), else the `ws` package.
 */
async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof global === 'function') return global;
  const module = (await import('ws')) as { WebSocket: unknown };
  return module.WebSocket as WebSocketConstructor;
}

/** Options of {@link WebSocketTransport}. */
export interface WebSocketTransportOptions {
  /** The WebSocket constructor (default: the global one, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** Fail a request after this long (default 60 s). */
  timeoutMs?: number;
}

interface Pending {
  method: string;
  resolve(message: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A stream of raw notification results (`params.result`). It ends when unsubscribed, when the
 * socket closes (with {@link TransportError}) or when its buffer overflows.
 */
export class RawSubscription implements AsyncIterableIterator<unknown> {
  private readonly buffer: unknown[] = [];
  private readonly waiting: { resolve(r: IteratorResult<unknown>): void; reject(e: Error): void }[] = [];
  private failure: Error | null = null;
  private done = false;

  /** @internal */
  constructor(
    /** The node's subscription id. */
    readonly id: string,
    private readonly maxBuffered: number,
    private readonly onClose: (subscription: RawSubscription) => Promise<void>,
  ) {}

  /** @internal Delivers one notification result. */
  push(item: unknown): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.resolve({ value: item, done: false });
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.fail(
        new SubscriptionOverflowError(
          `subscription ${this.id}: more than ${this.maxBuffered} notifications not consumed`,
        ),
      );
      void this.onClose(this).catch(() => undefined);
      return;
    }
    this.buffer.push(item);
  }

  /** @internal Ends the stream with `error` once the buffered items are read. */
  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }

  /** @internal Ends the stream normally. */
  end(): void {
    if (this.done) return;
    this.done = true;
    for (const waiter of this.waiting.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  /** The next notification result (buffered ones first). */
  next(): Promise<IteratorResult<unknown>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift(), done: false });
    if (this.done) {
      return this.failure
        ? Promise.reject(this.failure)
        : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Unsubscribes (what `break` in a `for await` calls). */
  async return(): Promise<IteratorResult<unknown>> {
    await this.unsubscribe();
    return { value: undefined, done: true };
  }

  /** Tells the node to stop, and ends the stream. */
  async unsubscribe(): Promise<void> {
    if (this.done && this.failure === null) return;
    this.buffer.length = 0;
    this.end();
    await this.onClose(this);
  }

  /** Itself: a subscription is its own iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** JSON-RPC over one WebSocket, opened on first use: requests and subscriptions. */
export class WebSocketTransport implements SubscriptionTransport {
  private nextId = 1;
  private socket: Promise<WebSocketLike> | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly subscriptions = new Map<string, RawSubscription>();
  private readonly timeoutMs: number;
  private closed = false;

  /** @param url - `ws://host:port` of the node. */
  constructor(
    readonly url: string,
    private readonly options: WebSocketTransportOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  private connect(): Promise<WebSocketLike> {
    if (this.closed) return Promise.reject(new TransportError(`${this.url}: the transport is closed`));
    this.socket ??= (async () => {
      const WebSocket = this.options.WebSocket ?? (await defaultWebSocket());
      const socket = new WebSocket(this.url);
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener('open', () => resolve());
        socket.addEventListener('error', () =>
          reject(new TransportError(`cannot open a WebSocket to ${this.url}`)),
        );
        socket.addEventListener('close', (event: { code?: number }) =>
          reject(new TransportError(`the WebSocket to ${this.url} closed (code ${event.code ?? '?'})`)),
        );
      });
      socket.addEventListener('message', (event: { data: unknown }) => this.onMessage(event.data));
      socket.addEventListener('close', (event: { code?: number }) =>
        this.onClose(new TransportError(`the WebSocket to ${this.url} closed (code ${event.code ?? '?'})`)),
      );
      return socket;
    })();
    this.socket.catch(() => {
      this.socket = null;
    });
    return this.socket;
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: Record<string, unknown>;
    try {
      message = parseResponse(data, 'websocket');
    } catch {
      return;
    }
    if (typeof message['id'] === 'number' && this.pending.has(message['id'])) {
      const pending = this.pending.get(message['id'])!;
      this.pending.delete(message['id']);
      clearTimeout(pending.timer);
      pending.resolve(message);
      return;
    }
    const params = message['params'] as Record<string, unknown> | undefined;
    if (typeof message['method'] === 'string' && params && 'subscription' in params) {
      const subscription = this.subscriptions.get(String(params['subscription']));
      if (!subscription) return;
      if ('error' in params) {
        this.subscriptions.delete(subscription.id);
        subscription.fail(
          new TransportError(`subscription ${subscription.id} closed by the node: ${JSON.stringify(params['error'])}`),
        );
        return;
      }
      subscription.push(params['result']);
    }
  }

  private onClose(error: Error): void {
    this.socket = null;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    for (const subscription of this.subscriptions.values()) subscription.fail(error);
    this.subscriptions.clear();
  }

  private async send(
    method: string,
    params: readonly unknown[],
    onResult?: (message: Record<string, unknown>) => void,
  ): Promise<Record<string, unknown>> {
    const socket = await this.connect();
    const id = this.nextId++;
    const body = stringifyJson({ jsonrpc: '2.0', id, method, params });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`${method}: no answer from ${this.url} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, {
        method,
        // Runs inside the message handler, before any later message is handled: a subscription
        // is registered before its first notification can arrive.
        resolve: (message) => {
          onResult?.(message);
          resolve(message);
        },
        reject,
        timer,
      });
      try {
        socket.send(body);
      } catch (cause) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new TransportError(`${method}: cannot send on ${this.url}`, { cause }));
      }
    });
  }

  async request(method: string, params: readonly unknown[]): Promise<RpcResponse> {
    return toResponse(await this.send(method, params), method);
  }

  async subscribe(
    method: string,
    params: readonly unknown[],
    unsubscribe: string,
    options: SubscribeOptions = {},
  ): Promise<SubscribeResult> {
    const maxBuffered = options.maxBuffered ?? 4096;
    let created: RawSubscription | null = null;
    const message = await this.send(method, params, (answer) => {
      const id = answer['result'];
      if (typeof id !== 'string' && typeof id !== 'number') return;
      created = new RawSubscription(String(id), maxBuffered, async (subscription) => {
        if (this.subscriptions.get(subscription.id) !== subscription) return;
        this.subscriptions.delete(subscription.id);
        if (this.socket === null) return;
        await this.request(unsubscribe, [answer['result']]);
      });
      this.subscriptions.set(created.id, created);
    });
    const response = toResponse(message, method);
    if (!response.ok) return response;
    if (created === null) throw new ProtocolError(`${method}.result`, 'expected a subscription id');
    return { ok: true, subscription: created };
  }

  /** Closes the socket: subscriptions end (normally), requests in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const socket = this.socket;
    if (socket === null) return;
    const ws = await socket.catch(() => null);
    for (const subscription of this.subscriptions.values()) subscription.end();
    this.subscriptions.clear();
    this.onClose(new TransportError(`${this.url}: the transport is closed`));
    ws?.close(1000, 'closed by the client');
  }
}
