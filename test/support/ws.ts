/** WebSocket upgrades as a client sees them: the open socket, or the HTTP answer that refused it. */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';

export type Upgrade =
  | {
      kind: 'open';
      socket: WebSocket;
      messages: any[];
      closed: Promise<{ code: number; reason: string }>;
      send(message: unknown): void;
      waitFor(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
    }
  | { kind: 'refused'; status: number; headers: Headers; body: any };

/** Tries a WebSocket upgrade: the open socket, or the HTTP answer that refused it. */
export function upgrade(url: string, headers: Record<string, string> = {}): Promise<Upgrade> {
  const { origin, ...rest } = headers;
  const socket = new WebSocket(url, { headers: rest, ...(origin ? { origin } : {}) });
  const messages: any[] = [];
  const listeners = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    listeners.forEach((l) => l());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return new Promise((resolve, reject) => {
    socket.on('error', (err) => reject(err));
    socket.on('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve({
          kind: 'refused',
          status: res.statusCode ?? 0,
          headers,
          body: (headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text,
        });
        socket.terminate();
      });
    });
    socket.on('open', () =>
      resolve({
        kind: 'open',
        socket,
        messages,
        closed,
        send: (message) => socket.send(JSON.stringify(message)),
        waitFor(match, timeoutMs = 60_000) {
          return new Promise((res, rej) => {
            const check = () => {
              const found = messages.find(match);
              if (found === undefined) return;
              listeners.delete(check);
              clearTimeout(timer);
              res(found);
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              rej(new Error(`message not seen within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(-5))}`));
            }, timeoutMs);
            listeners.add(check);
            check();
          });
        },
      }),
    );
  });
}

/** The HTTP answer to an upgrade the server must refuse; rejects if the upgrade is accepted. */
export async function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const answer = await upgrade(url, headers);
  if (answer.kind === 'open') {
    answer.socket.terminate();
    throw new Error(`the upgrade of ${url} was accepted`);
  }
  return { status: answer.status, headers: answer.headers, body: answer.body };
}
