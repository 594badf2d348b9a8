// The /metrics endpoint: a plain node:http server answering Prometheus scrapes from a registry. Bound to
// 127.0.0.1 unless told otherwise (metrics name tables and hosts; exposing them is the operator's choice).
// A scrape only reads values kept per tick: it never queries a service.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { ConfigError, UsageError } from '../core/errors.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `--metrics-port` text → a TCP port, or a usage error saying what is expected. */
export function parseMetricsPort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(port) || port < 1 || port > 65_535) {
    throw new UsageError(`--metrics-port: "${text}" is not a TCP port (1–65535)`);
  }
  return port;
}

/** Starts serving; rejects with one actionable line (exit code 3) when the address cannot be bound. */
export async function serveMetrics(registry: Registry, options: { port: number; host?: string }): Promise<MetricsServer> {
  const host = options.host ?? DEFAULT_METRICS_HOST;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body),
      (err: Error) =>
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${err.message}\n`),
    );
  });
  // A scrape keeps no connection open for long; a stop must not wait for idle keep-alive sockets.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.close();
      const where = `${host}:${options.port}`;
      if (err.code === 'EADDRINUSE')
        reject(new ConfigError(`--metrics-port ${options.port}: ${where} is already in use by another process; choose a free port`));
      else if (err.code === 'EACCES')
        reject(
          new ConfigError(
            `--metrics-port ${options.port}: not allowed to listen on ${where} (ports below 1024 need privileges); choose a port ≥ 1024`,
          ),
        );
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new ConfigError(`--metrics-host ${host}: not an address of this machine (use 127.0.0.1, 0.0.0.0 or one of its interfaces)`));
      else reject(new ConfigError(`cannot serve metrics on ${where}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
