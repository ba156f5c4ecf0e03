import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface Outcome {
  ok: boolean;
  /** HTTP status, or an error name: what the error table counts. */
  code: string;
}

export interface LoopResult {
  concurrency: number;
  seconds: number;
  ok: number;
  errors: number;
  /** Count per outcome code (successes included). */
  codes: Record<string, number>;
  /** Milliseconds of each successful operation. */
  latencies: number[];
}

/**
 * `concurrency` loops, each starting its next operation as soon as the last one ends (closed loop),
 * until `seconds` have passed or `maxOps` operations were started, whichever comes first.
 */
export async function closedLoop(concurrency: number, limits: { seconds: number; maxOps: number }, op: (i: number) => Promise<Outcome>): Promise<LoopResult> {
  const latencies: number[] = [];
  const codes: Record<string, number> = {};
  let started = 0;
  let ok = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + limits.seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline && started < limits.maxOps) {
      const i = started++;
      const begin = performance.now();
      let outcome: Outcome;
      try {
        outcome = await op(i);
      } catch (err) {
        outcome = { ok: false, code: (err as NodeJS.ErrnoException).code ?? (err as Error).name ?? 'Error' };
      }
      const took = performance.now() - begin;
      codes[outcome.code] = (codes[outcome.code] ?? 0) + 1;
      if (outcome.ok) {
        ok++;
        latencies.push(took);
      } else errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { concurrency, seconds: (performance.now() - t0) / 1000, ok, errors, codes, latencies };
}

/** A keep-alive HTTP client with one socket per in-flight request, like a connection-pooling caller. */
export function httpClient(baseUrl: string, headers: Record<string, string>, sockets: number) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  const request = (method: string, path: string, body?: string, extra?: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          agent,
          headers:
            body === undefined
              ? { ...headers, ...extra }
              : { ...headers, ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'TIMEOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  return { request, close: () => agent.destroy() };
}
