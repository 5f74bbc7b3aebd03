// Petrel's operational metrics (issue 7, item 6) and the HTTP listener that serves them at /metrics in the
// Prometheus text format. Off by default; `petrel serve --metrics-port N` turns it on. The listener
// answers GET /metrics only and binds to loopback unless told otherwise (metrics_host), because the
// numbers (connection counts, failed logins) are for the operator, not for the world.
import http from 'node:http';
import type { Store } from '../store/types.js';
import { MetricsRegistry, type Counter, type Gauge, type Histogram } from './registry.js';

/** Seconds; command latencies from sub-millisecond FETCH FLAGS to multi-second searches and uploads. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PetrelMetrics {
  readonly registry = new MetricsRegistry();
  /** Open connections by protocol, read from the listeners at scrape time. */
  readonly connections: Gauge;
  readonly connectionsTotal: Counter;
  readonly commands: Counter;
  readonly commandSeconds: Histogram;
  readonly deliveries: Counter;
  readonly failedLogins: Counter;
  readonly lockouts: Counter;

  constructor() {
    const r = this.registry;
    this.connections = r.gauge('petrel_connections', 'Open client connections by protocol.');
    this.connectionsTotal = r.counter('petrel_connections_total', 'Connections accepted, by protocol.');
    this.commands = r.counter('petrel_commands_total', 'Commands answered, by protocol, command name and status.');
    this.commandSeconds = r.histogram(
      'petrel_command_duration_seconds',
      'Time from parsing a command to its tagged answer, by protocol and command name.',
      LATENCY_BUCKETS,
    );
    this.deliveries = r.counter('petrel_deliveries_total', 'LMTP deliveries into a mailbox, by result (ok, failed).');
    this.failedLogins = r.counter('petrel_failed_logins_total', 'Failed password logins (all protocols).');
    this.lockouts = r.counter('petrel_login_lockouts_total', 'Temporary lock-outs after repeated failures, by kind (ip, account).');
  }

  /** Reports `connections()` of a listener as petrel_connections{protocol}. */
  watchConnections(protocol: string, connections: () => number): void {
    this.connections.collect(() => [{ labels: { protocol }, value: connections() }]);
  }

  /** Times a command and counts it by status. */
  recordCommand(protocol: string, command: string, status: string, seconds: number): void {
    this.commands.inc({ protocol, command, status });
    this.commandSeconds.observe({ protocol, command }, seconds);
  }
}

/**
 * A view of `store` whose append() counts deliveries (used for the LMTP listener's store: every append it
 * makes is one delivery into one mailbox). Everything else is the store itself.
 */
export function countingDeliveries(store: Store, metrics: PetrelMetrics): Store {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'append' && typeof value === 'function') {
        return async (...args: unknown[]) => {
          try {
            const out: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            metrics.deliveries.inc({ result: 'ok' });
            return out;
          } catch (err) {
            metrics.deliveries.inc({ result: 'failed' });
            throw err;
          }
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface RunningMetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics on host:port (0 = OS-chosen). */
export async function startMetricsServer(metrics: PetrelMetrics, host: string, port: number): Promise<RunningMetricsServer> {
  const srv = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    let body: string;
    try {
      body = metrics.registry.render();
    } catch {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics failed\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  srv.headersTimeout = 10_000;
  srv.requestTimeout = 10_000;
  const bound = await new Promise<number>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => {
      srv.off('error', reject);
      const a = srv.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  };
}
