/**
 * Talking to the API from the page: JSON requests with the tab's API key, problem+json errors as
 * `ProblemError`, WebSocket URLs (with a single-use ticket when a key is set: browsers cannot send an
 * Authorization header on an upgrade), and artifact downloads.
 */
import type { Artifact, FieldError } from './types.js';

// sessionStorage: the key lives as long as the tab, and each tab may use its own.
const KEY_STORAGE = 'distill.apiKey';

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(KEY_STORAGE),
  set: (key: string) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

/** Fired on window when a request is refused for want of a (valid) key. */
export const UNAUTHORIZED_EVENT = 'distill:unauthorized';

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

function authHeaders(): Record<string, string> {
  const key = apiKey.get();
  return key ? { authorization: `Bearer ${key}` } : {};
}

// A read refused for a moment (503 overloaded, 429) is asked again after the Retry-After the server
// named, a few times: a page that says "too busy" for a one-second burst is no help to anyone.
const READ_RETRIES = 3;
const MAX_RETRY_WAIT_S = 10;

function retryDelayMs(method: string, response: Response, attempt: number): number | undefined {
  if (method !== 'GET' || attempt >= READ_RETRIES || (response.status !== 503 && response.status !== 429)) return undefined;
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_RETRY_WAIT_S ? seconds * 1000 : undefined;
}

/** A string body is JSON; FormData sets its own multipart content type. */
async function send(method: string, path: string, body?: string | FormData, headers: Record<string, string> = {}): Promise<Response> {
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(path, {
        method,
        headers: { ...authHeaders(), ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
        body,
      });
    } catch {
      throw new ProblemError(0, 'unreachable', 'the server cannot be reached');
    }
    const wait = retryDelayMs(method, response, attempt);
    if (wait === undefined) break;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  if (response.ok) return response;
  const text = await response.text();
  let problem: { code?: string; detail?: string; title?: string; errors?: FieldError[] } = {};
  try {
    problem = JSON.parse(text);
  } catch {
    // Not problem+json (a proxy's page): keep the status line.
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
  throw new ProblemError(
    response.status,
    problem.code ?? 'error',
    problem.detail ?? problem.title ?? `${response.status} ${response.statusText}`,
    problem.errors ?? [],
  );
}

/** `body` is sent as given when it is a string (the JSON editor's text), else as JSON. */
export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const response = await send(method, path, text, headers);
  return (await response.json()) as T;
}

/** A multipart upload (datasets, models). */
export async function apiUpload<T>(path: string, form: FormData): Promise<T> {
  return (await (await send('POST', path, form)).json()) as T;
}

/** ws(s)://this-host/path, with `?ticket=` when the tab has a key. */
export async function webSocketUrl(path: string): Promise<string> {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (apiKey.get()) {
    const { ticket } = await api<{ ticket: string }>('POST', '/v1/ws-tickets');
    url.searchParams.set('ticket', ticket);
  }
  return url.toString();
}

/**
 * Saves an artifact. The artifact routes need the key, which a plain link cannot send, so the file is
 * fetched with it and handed to the browser as a blob under the artifact's own name.
 */
export async function downloadArtifact(artifact: Artifact, jobId: string): Promise<void> {
  const response = await send('GET', artifact.url);
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = href;
  link.download = `${jobId}-${artifact.kind}-${artifact.file}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
