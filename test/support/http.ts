import WebSocket from 'ws';
import type { JobEventObject } from '../../src/jobs/events.js';

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

const defaultKeys = new Map<string, string>();

/** The API key requests to this base URL carry unless they set `authorization` themselves. */
export function setDefaultKey(base: string, key: string): void {
  defaultKeys.set(base, key);
}

function withAuth(base: string, headers: Record<string, string>): Record<string, string> {
  if ('authorization' in headers) {
    // An empty value means "send no Authorization header at all".
    const { authorization, ...rest } = headers;
    return authorization ? headers : rest;
  }
  const key = defaultKeys.get(base);
  return key ? { ...headers, authorization: `Bearer ${key}` } : headers;
}

/** A JSON request against the running API; the body is parsed when it is JSON. */
export async function request<T = any>(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response<T>> {
  headers = withAuth(base, headers);
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  return { status: response.status, headers: response.headers, body: (type.includes('json') && text ? JSON.parse(text) : text) as T };
}

/** Polls until `check` returns a value (not undefined/false), or fails after the timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface EventSocket {
  socket: WebSocket;
  events: JobEventObject[];
  /** Resolves when the server closes the socket, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  waitForEvent(match: (e: JobEventObject) => boolean, timeoutMs?: number): Promise<JobEventObject>;
}

/** A real WebSocket client following one job's events. */
export function followJob(wsUrl: string, jobId: string, after = 0, headers: Record<string, string> = {}): Promise<EventSocket> {
  const socket = new WebSocket(`${wsUrl}/v1/jobs/${jobId}/events?after=${after}`, { headers: withAuth(wsUrl.replace(/^ws/, 'http'), headers) });
  const events: JobEventObject[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data) => {
    events.push(JSON.parse(String(data)));
    listeners.forEach((l) => l());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        socket,
        events,
        closed,
        waitForEvent(match, timeoutMs = 60_000) {
          return new Promise((res, rej) => {
            const check = () => {
              const found = events.find(match);
              if (found) {
                listeners.delete(check);
                clearTimeout(timer);
                res(found);
              }
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              rej(new Error(`event not seen within ${timeoutMs} ms; got ${events.map((e) => `${e.seq}:${e.type}`).join(' ')}`));
            }, timeoutMs);
            listeners.add(check);
            check();
          });
        },
      }),
    );
  });
}
