// A fault-injecting proxy on loopback that a drill puts between the offload and one real service (the
// offload's CLICKHOUSE_URL, DATABASE_URL or AWS_ENDPOINT_URL_S3 then names the proxy's port). Nothing is
// mocked: every byte the proxy does not interfere with reaches the real server and comes back.
//
// Two kinds:
// - TCP (ClickHouse, PostgreSQL): relays bytes; can reset a connection once it has carried N bytes towards
//   the client (a ClickHouse response cut mid-stream), or drop a connection when the client sends a given
//   message (a PostgreSQL COMMIT: before it reaches the server, or after the server answered it — the
//   "ambiguous commit" where the transaction committed but the client never hears so).
// - HTTP (S3): relays requests; can answer the first K requests with 500/503 (an S3 error document) or
//   stall them and then close the connection without an answer (what a client sees as a timeout).
//
// Bounded: it listens on 127.0.0.1 only, forwards only to a loopback address, holds at most
// `maxConnections` connections, and every fault stops after the number of times it was given.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { OffloadError } from '../core/errors.js';

export type ProxyFault =
  /** Reset (TCP RST) a connection once it has carried `bytes` bytes from the server to the client (counted from when the fault was armed). */
  | { kind: 'reset-after-bytes'; bytes: number; times?: number }
  /**
   * Drop a connection when the client sends `match` (searched in the client→server bytes). `when`:
   * 'before-forward' — the message never reaches the server; 'after-reply' — it reaches the server, the
   * server answers, and the answer is swallowed as the client connection is reset. `skip` matches pass first.
   */
  | { kind: 'drop-on-message'; match: Uint8Array; when: 'before-forward' | 'after-reply'; times?: number; skip?: number }
  /** Answer the first `requests` matching HTTP requests with `status` and an S3 error document, without forwarding them. */
  | { kind: 'http-error'; status: 500 | 503; requests: number; match?: HttpMatch }
  /** Hold the first `requests` matching HTTP requests for `stallMs`, then close their connection without an answer. */
  | { kind: 'http-stall'; requests: number; stallMs: number; match?: HttpMatch };

/** Which HTTP requests a fault applies to (default: every request). */
export interface HttpMatch {
  method?: string;
  /** A part of the path, e.g. `/data/` for the data files of an Iceberg table. */
  pathIncludes?: string;
}

function matches(m: HttpMatch | undefined, req: http.IncomingMessage): boolean {
  if (!m) return true;
  if (m.method && req.method !== m.method) return false;
  if (m.pathIncludes && !(req.url ?? '').includes(m.pathIncludes)) return false;
  return true;
}

export interface FaultProxyOptions {
  /** The real service, on a loopback address. */
  target: { host: string; port: number };
  /** 'http' for S3 (request-level faults); 'tcp' otherwise. */
  protocol: 'tcp' | 'http';
  fault?: ProxyFault;
  /** Default 128. */
  maxConnections?: number;
  /** Listen port (default: any free port). */
  port?: number;
}

export interface FaultProxyStats {
  connections: number;
  /** HTTP requests seen (http proxies). */
  requests: number;
  bytesToServer: number;
  bytesToClient: number;
  /** Times the fault was injected. */
  injected: number;
}

/** What `onInjected` listeners hear each time the fault fires. */
export interface InjectedFault {
  kind: ProxyFault['kind'];
  detail: string;
  at: number;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The PostgreSQL simple-query message `COMMIT` as node-postgres sends it at the end of a transaction. */
export function postgresQueryMessage(sql: string): Uint8Array {
  const body = Buffer.from(`${sql}\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('Q', 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** An S3 error document, as S3 (and moto) answer a failed request. */
function s3ErrorBody(status: number): string {
  const code = status === 503 ? 'SlowDown' : 'InternalError';
  const message = status === 503 ? 'Please reduce your request rate.' : 'We encountered an internal error. Please try again.';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>offload-drill</RequestId></Error>`;
}

export class FaultProxy {
  private readonly events = new EventEmitter();
  private readonly sockets = new Set<net.Socket>();
  private readonly stats: FaultProxyStats = { connections: 0, requests: 0, bytesToServer: 0, bytesToClient: 0, injected: 0 };
  private fault: ProxyFault | undefined;
  private readonly agent: http.Agent | undefined;
  private closed = false;

  private constructor(
    private readonly server: net.Server | http.Server,
    private readonly options: FaultProxyOptions,
    readonly port: number,
  ) {
    this.fault = options.fault;
    this.agent = options.protocol === 'http' ? new http.Agent({ keepAlive: true, maxSockets: 32 }) : undefined;
  }

  /** Starts a proxy for `options.target` on 127.0.0.1. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    if (!isLoopback(options.target.host)) {
      throw new OffloadError(
        `fault proxy: ${options.target.host} is not a loopback address; drills inject faults only in front of local services`,
      );
    }
    let proxy!: FaultProxy;
    const server =
      options.protocol === 'http'
        ? http.createServer({ keepAlive: true }, (req, res) => proxy.onRequest(req, res))
        : net.createServer((socket) => proxy.onTcpConnection(socket));
    server.maxConnections = options.maxConnections ?? 128;
    if (options.protocol === 'http') server.on('connection', (s: net.Socket) => proxy.track(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as net.AddressInfo).port;
    proxy = new FaultProxy(server, options, port);
    return proxy;
  }

  /** The proxy's address for a client: `127.0.0.1:<port>`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  snapshot(): FaultProxyStats {
    return { ...this.stats };
  }

  /** Replaces the fault (undefined: relay only). The counts of the new fault start from zero. */
  arm(fault: ProxyFault | undefined): void {
    this.fault = fault;
    this.armings++;
    this.injectedByFault = 0;
    this.matchesSeen = 0;
  }

  /**
   * Holds every connection (TCP proxies): nothing is relayed either way until `release()`, and new
   * connections wait too. A client that has taken a lock elsewhere keeps it while it waits here.
   */
  hold(): void {
    this.isHeld = true;
    for (const s of this.clientSockets) s.pause();
  }

  release(): void {
    this.isHeld = false;
    for (const s of this.clientSockets) if (!s.destroyed) s.resume();
  }

  onInjected(listener: (f: InjectedFault) => void): () => void {
    this.events.on('injected', listener);
    return () => this.events.off('injected', listener);
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.agent?.destroy();
    if ('closeAllConnections' in this.server) this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ─── fault bookkeeping ────────────────────────────────────────────────────────────────────────────

  private injectedByFault = 0;
  private armings = 0;
  private isHeld = false;
  private readonly clientSockets = new Set<net.Socket>();
  private matchesSeen = 0;

  private timesLeft(): boolean {
    const f = this.fault;
    if (!f) return false;
    const times = f.kind === 'http-error' || f.kind === 'http-stall' ? f.requests : (f.times ?? 1);
    return this.injectedByFault < times;
  }

  private record(detail: string): void {
    this.injectedByFault++;
    this.stats.injected++;
    this.events.emit('injected', { kind: this.fault?.kind ?? 'reset-after-bytes', detail, at: Date.now() } satisfies InjectedFault);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  // ─── TCP ──────────────────────────────────────────────────────────────────────────────────────────

  private onTcpConnection(client: net.Socket): void {
    this.stats.connections++;
    this.track(client);
    this.clientSockets.add(client);
    client.once('close', () => this.clientSockets.delete(client));
    const upstream = net.connect({ host: this.options.target.host, port: this.options.target.port });
    this.track(upstream);
    let toClient = 0;
    let armedAt = this.armings;
    let tail = Buffer.alloc(0); // the end of the previous client chunk, for a match across chunk boundaries
    let awaitingReply = false;
    const fail = () => {
      reset(client);
      upstream.destroy();
    };
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => reset(client));
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());

    client.on('data', (chunk: Buffer) => {
      const f = this.fault;
      if (f?.kind === 'drop-on-message' && !awaitingReply && this.timesLeft()) {
        const window = Buffer.concat([tail, chunk]);
        if (window.indexOf(Buffer.from(f.match)) >= 0) {
          this.matchesSeen++;
          if (this.matchesSeen > (f.skip ?? 0)) {
            if (f.when === 'before-forward') {
              this.record('connection dropped before the message reached the server');
              fail();
              return;
            }
            awaitingReply = true;
          }
        }
        tail = window.subarray(Math.max(0, window.length - (f.match.length - 1)));
      }
      this.stats.bytesToServer += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => {
      if (!this.isHeld) client.resume();
    });

    upstream.on('data', (chunk: Buffer) => {
      if (awaitingReply) {
        // The server has answered the message: the client never hears it.
        this.record('connection dropped after the server answered the message');
        client.pause();
        reset(client);
        upstream.end();
        return;
      }
      const f = this.fault;
      if (armedAt !== this.armings) {
        // Bytes count from when the fault was armed: earlier responses on a kept-alive connection do not.
        armedAt = this.armings;
        toClient = 0;
      }
      if (f?.kind === 'reset-after-bytes' && this.timesLeft() && toClient + chunk.length > f.bytes) {
        const part = chunk.subarray(0, Math.max(0, f.bytes - toClient));
        this.stats.bytesToClient += part.length;
        toClient += part.length;
        this.record(`connection reset after ${toClient} bytes to the client`);
        client.write(part, () => fail());
        upstream.pause();
        return;
      }
      toClient += chunk.length;
      this.stats.bytesToClient += chunk.length;
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    if (this.isHeld) client.pause();
  }

  // ─── HTTP ─────────────────────────────────────────────────────────────────────────────────────────

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.stats.requests++;
    const f = this.fault;
    if ((f?.kind === 'http-error' || f?.kind === 'http-stall') && this.timesLeft() && matches(f.match, req)) {
      // Read the whole request first, so the client gets an answer (or silence) and not a broken pipe.
      const label = `${req.method} ${req.url?.split('?')[0] ?? ''}`;
      req.resume();
      req.once('end', () => {
        if (f.kind === 'http-error') {
          this.record(`${label} answered ${f.status}`);
          const body = s3ErrorBody(f.status);
          res.writeHead(f.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), connection: 'close' });
          res.end(body);
        } else {
          this.record(`${label} stalled ${f.stallMs} ms, then closed without an answer`);
          const timer = setTimeout(() => req.socket.destroy(), f.stallMs);
          req.socket.once('close', () => clearTimeout(timer));
        }
      });
      return;
    }
    this.forward(req, res);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const headers = { ...req.headers };
    delete headers.expect; // the proxy has already said "continue" to the client
    delete headers.connection;
    const upstream = http.request(
      { host: this.options.target.host, port: this.options.target.port, method: req.method, path: req.url, headers, agent: this.agent },
      (up) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && k !== 'connection' && k !== 'keep-alive') out[k] = v;
        res.writeHead(up.statusCode ?? 502, out);
        up.on('data', (c: Buffer) => (this.stats.bytesToClient += c.length));
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: upstream ${this.options.target.host}:${this.options.target.port}: ${err.message}`);
      }
    });
    req.on('data', (c: Buffer) => (this.stats.bytesToServer += c.length));
    req.pipe(upstream);
    req.on('error', () => upstream.destroy());
  }
}

function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  // A reset, not a polite FIN: the client sees ECONNRESET, as when a server or a middlebox dies.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** A URL whose host and port are replaced by the proxy's (credentials, path and query kept). */
export function throughProxy(url: string, proxy: FaultProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  const text = u.toString();
  return !url.endsWith('/') && text.endsWith('/') && u.pathname === '/' ? text.slice(0, -1) : text;
}

/** The host and port of a service URL (default ports by scheme). */
export function targetOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'postgres:': 5432, 'postgresql:': 5432 };
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : (defaults[u.protocol] ?? 0) };
}
