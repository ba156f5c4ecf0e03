import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { JOB_STATUSES } from '../jobs/status.js';

export interface SocketStats {
  connections(): number;
  bufferedBytes(): number;
}

/** What the API measures: requests, jobs by state, queue depth, sockets and event delivery. */
export function createApiMetrics(registry: Registry, db: Db, queue: Queue, sockets: SocketStats) {
  const httpDuration = new Histogram({
    name: 'distill_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'distill_jobs',
    help: 'Jobs by status (from Postgres, at scrape time)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows = await db.job.groupBy({ by: ['status'], _count: true }).catch(() => []);
      for (const status of JOB_STATUSES) this.set({ status }, rows.find((r) => r.status === status)?._count ?? 0);
    },
  });
  new Gauge({
    name: 'distill_queue_jobs',
    help: 'BullMQ jobs by queue state (at scrape time)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed').catch(() => ({}) as Record<string, number>);
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'distill_ws_connections',
    help: 'Open WebSocket connections',
    registers: [registry],
    collect() {
      this.set(sockets.connections());
    },
  });
  new Gauge({
    name: 'distill_ws_send_buffer_bytes',
    help: 'Bytes queued on WebSockets and not yet sent, summed over connections',
    registers: [registry],
    collect() {
      this.set(sockets.bufferedBytes());
    },
  });
  const deliveryLag = new Histogram({
    name: 'distill_event_delivery_lag_seconds',
    help: 'From an event being stored to its being sent on a WebSocket',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const eventsSent = new Counter({ name: 'distill_ws_events_sent_total', help: 'Events sent on WebSockets', registers: [registry] });
  const keyLookups = new Counter({
    name: 'distill_api_key_lookups_total',
    help: 'API keys looked up in Postgres (one per request that carries a well-formed key)',
    registers: [registry],
  });
  const authRefusals = new Counter({
    name: 'distill_auth_refusals_total',
    help: 'Requests refused before the tenant was known: refused (401/403) or over the per-address budget (429)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return { httpDuration, deliveryLag, eventsSent, keyLookups, authRefusals };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
