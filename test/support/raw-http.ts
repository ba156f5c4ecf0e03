/**
 * HTTP/1.1 requests written byte for byte on a socket (node:net), for request targets no client library
 * sends as written: absolute form (`GET http://host/v1/jobs`), percent-escapes, duplicate slashes.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body as text (complete when the answer had a Content-Length). */
  text: string;
}

const DEADLINE_MS = 30_000;

/**
 * Writes `head` (request line and headers, without the blank line) and `body`; reads the answer.
 * `from` is the local address to connect from (any of 127.0.0.0/8 on Linux): another client address.
 */
export function rawRequest(port: number, head: string, body = '', from?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(from ? { localAddress: from } : {}) });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${DEADLINE_MS} ms to ${head.split('\r\n')[0]}`));
    }, DEADLINE_MS);
    const finish = () => {
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
      const rest = received.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
      const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
      // A 101 switches protocols and a HEAD answer has none: no body follows. Otherwise wait for the whole body it announced.
      if (status !== 101 && !head.startsWith('HEAD ') && length !== undefined && rest.length < length) return false;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status, headers, text: rest.toString('utf8') });
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      finish();
    });
    socket.on('close', () => {
      if (finish()) return;
      clearTimeout(timer);
      reject(new Error(`the connection closed without an answer to ${head.split('\r\n')[0]}: ${JSON.stringify(received.toString('latin1').slice(0, 200))}`));
    });
    socket.on('error', () => {});
    socket.write(`${head}\r\n${body ? `content-length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`);
  });
}

/** A request to `target` as it is written, with these headers, closing the connection after the answer. */
export function rawHttp(port: number, method: string, target: string, headers: Record<string, string> = {}, body = '', from?: string): Promise<RawAnswer> {
  const lines = [`${method} ${target} HTTP/1.1`, `host: 127.0.0.1:${port}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return rawRequest(port, lines.join('\r\n'), body, from);
}

/** A WebSocket upgrade request to `target` as it is written. */
export function rawUpgrade(port: number, target: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const lines = [
    `GET ${target} HTTP/1.1`,
    `host: 127.0.0.1:${port}`,
    'connection: Upgrade',
    'upgrade: websocket',
    'sec-websocket-version: 13',
    'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return rawRequest(port, lines.join('\r\n'));
}
