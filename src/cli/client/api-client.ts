/**
 * A small client for the distill-server HTTP API, for the CLI's client commands. It speaks JSON, turns
 * problem+json answers into `ApiError`s that carry the server's `detail` and field errors, and follows
 * a job's events over the WebSocket with resumption (`?after=`), as the API documents.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import WebSocket from 'ws';
import type { Artifact, EventObject, FieldError, Job, JobDeleted, List } from '../../contract/index.js';
import { TERMINAL_STATUSES } from '../../contract/statuses.js';

/** The API's objects, as the wire contract (src/contract) defines them. */
export type { Artifact, EventObject as JobEvent, FieldError, Job, JobDeleted, List };

/** The API answered with an error status; `detail` is the problem's human message. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(`${status} ${code}: ${detail}`);
  }
}

/** The server could not be reached at all (refused, DNS, reset). */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

export const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

/** WebSocket close codes the events route uses. */
const CLOSE_JOB_ENDED = 1000;
const CLOSE_NOT_FOUND = 4404;
const MAX_RECONNECTS = 20;

export class ApiClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly apiKey?: string,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}), ...extra };
  }

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      // A link the API gave (PUBLIC_URL set) is absolute already.
      response = await fetch(/^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`, {
        ...init,
        headers: this.headers(init.headers as Record<string, string>),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ConnectionError(`cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!response.ok) throw await toApiError(response);
    return response;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const response = await this.fetch(path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await response.json()) as T;
  }

  submitJob(body: unknown, idempotencyKey?: string): Promise<Job> {
    return this.request<Job>('POST', '/v1/jobs', body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  }

  getJob(id: string): Promise<Job> {
    return this.request<Job>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  listJobs(query: { limit?: number; after?: string; status?: string }): Promise<List<Job>> {
    const params = new URLSearchParams(
      Object.entries(query)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
    return this.request<List<Job>>('GET', `/v1/jobs${params.size ? `?${params}` : ''}`);
  }

  cancelJob(id: string): Promise<Job> {
    return this.request<Job>('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`);
  }

  deleteJob(id: string): Promise<JobDeleted> {
    return this.request<JobDeleted>('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  listArtifacts(id: string): Promise<List<Artifact>> {
    return this.request<List<Artifact>>('GET', `/v1/jobs/${encodeURIComponent(id)}/artifacts`);
  }

  /** Streams an artifact to `path` and checks it against the sha256 the API listed. */
  async download(artifact: Artifact, path: string): Promise<void> {
    const hash = createHash('sha256');
    await this.downloadTo(artifact.url, path, hash);
    const digest = hash.digest('hex');
    if (digest !== artifact.sha256) throw new Error(`${path}: sha256 ${digest} does not match the server's ${artifact.sha256}`);
  }

  /** Streams GET `path` into the file `to`, feeding `hash` on the way. */
  async downloadTo(path: string, to: string, hash: Hash): Promise<void> {
    const response = await this.fetch(path);
    if (!response.body) throw new ConnectionError(`empty body for ${path}`);
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), hashing, createWriteStream(to));
  }

  /** POSTs a multipart form: text fields and files (form field → file name and bytes). */
  async upload<T>(path: string, fields: Record<string, string>, files: Array<{ field: string; filename: string; bytes: Uint8Array }>): Promise<T> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    for (const f of files) form.append(f.field, new Blob([new Uint8Array(f.bytes)]), f.filename);
    const response = await this.fetch(path, { method: 'POST', body: form });
    return (await response.json()) as T;
  }

  /**
   * Calls `onEvent` for every event of the job after `after`, in order, until the terminal status event;
   * then resolves with the job as stored. Reconnects with the last seq seen when the socket drops or the
   * server asks (1013: too far behind), so no event is missed or repeated.
   */
  async followJob(id: string, onEvent: (e: EventObject) => void, after = 0): Promise<Job> {
    let lastSeq = after;
    for (let attempt = 0; ; attempt++) {
      const close = await this.followOnce(id, lastSeq, (e) => {
        if (e.seq <= lastSeq) return;
        lastSeq = e.seq;
        onEvent(e);
      });
      if (close.code === CLOSE_NOT_FOUND) throw new ApiError(404, 'not_found', close.reason || `job ${id} does not exist`);
      if (close.code === CLOSE_JOB_ENDED) return this.getJob(id);
      // The job may have ended while we were away: REST is the truth.
      const job = await this.getJob(id);
      if (TERMINAL.has(job.status) && job.last_event_seq <= lastSeq) return job;
      if (attempt >= MAX_RECONNECTS) throw new ConnectionError(`lost the event stream of ${id} ${attempt} times (last: ${close.code} ${close.reason})`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5000)));
    }
  }

  private followOnce(id: string, after: number, onEvent: (e: EventObject) => void): Promise<{ code: number; reason: string }> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/v1/jobs/${encodeURIComponent(id)}/events?after=${after}`;
    return new Promise((resolve) => {
      const socket = new WebSocket(url, { headers: this.headers() });
      socket.on('message', (data) => onEvent(JSON.parse(String(data)) as EventObject));
      // An 'error' is always followed by 'close' (1006): the caller decides whether to retry.
      socket.on('error', () => {});
      socket.on('unexpected-response', (_req, res) => {
        socket.terminate();
        resolve({ code: res.statusCode === 404 ? CLOSE_NOT_FOUND : 1006, reason: `HTTP ${res.statusCode} on upgrade` });
      });
      socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
    });
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const problem = JSON.parse(text) as { code?: string; detail?: string; title?: string; errors?: FieldError[] };
    return new ApiError(response.status, problem.code ?? 'error', problem.detail ?? problem.title ?? response.statusText, problem.errors ?? []);
  } catch {
    return new ApiError(response.status, 'error', text.slice(0, 200) || response.statusText);
  }
}
