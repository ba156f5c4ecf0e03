import type { WebSocket } from 'ws';
import type { Db } from '../../db/client.js';

/** How often each API process re-checks the keys of its open sockets: a revoked key's sockets close within about this long. */
export const KEY_RECHECK_MS = 2000;
/** Close code for a socket whose API key was revoked (4000 + the HTTP status a request with that key now gets). */
export const CLOSE_KEY_REVOKED = 4401;

/**
 * Closes the WebSockets of revoked keys. Keys are revoked in Postgres (`distill keys revoke` talks to the
 * database, not to any API process), so every process asks Postgres, in one query every KEY_RECHECK_MS,
 * which keys of its open sockets are still active, and closes the sockets of the others. The query runs
 * only while sockets are open; a failed one changes nothing and the next tick asks again.
 */
export class KeyWatch {
  private readonly byKey = new Map<string, Set<WebSocket>>();
  private readonly timer: NodeJS.Timeout;
  private checking = false;

  constructor(private readonly db: Db) {
    this.timer = setInterval(() => void this.check(), KEY_RECHECK_MS);
    this.timer.unref();
  }

  watch(keyId: string, socket: WebSocket): void {
    let sockets = this.byKey.get(keyId);
    if (!sockets) this.byKey.set(keyId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.byKey.get(keyId) === sockets) this.byKey.delete(keyId);
    });
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    if (this.checking || this.byKey.size === 0) return;
    this.checking = true;
    try {
      const ids = [...this.byKey.keys()];
      const active = new Set((await this.db.apiKey.findMany({ where: { id: { in: ids }, revokedAt: null }, select: { id: true } })).map((k) => k.id));
      for (const id of ids) {
        if (active.has(id)) continue;
        for (const socket of this.byKey.get(id) ?? []) socket.close(CLOSE_KEY_REVOKED, 'the API key was revoked');
        this.byKey.delete(id);
      }
    } catch {
      // Postgres unreachable: keys cannot be revoked meanwhile either; ask again on the next tick.
    } finally {
      this.checking = false;
    }
  }
}
