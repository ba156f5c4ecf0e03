import type { WebSocket } from 'ws';

/** Every open WebSocket of this process, for the connection and send-buffer gauges. */
export class SocketRegistry {
  private readonly sockets = new Set<WebSocket>();

  track(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  connections(): number {
    return this.sockets.size;
  }

  bufferedBytes(): number {
    let total = 0;
    for (const socket of this.sockets) total += socket.bufferedAmount;
    return total;
  }
}
