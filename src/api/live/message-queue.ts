import type { RawData, WebSocket } from 'ws';

/** Messages read from one socket and not yet handled; above this, the socket stops being read. */
const MAX_PENDING = 32;

/**
 * Handles a socket's messages one at a time, in order (an unsubscribe never overtakes its subscribe),
 * and with backpressure: while MAX_PENDING are waiting, the socket is paused, so a client that floods
 * it waits on TCP instead of growing a queue in the API's memory. A handler that throws loses only
 * its own message. Messages that arrive once the socket is closing are dropped.
 */
export function handleMessagesInOrder(socket: WebSocket, handle: (data: RawData, isBinary: boolean) => Promise<void>): void {
  let pending = 0;
  let queue = Promise.resolve();
  socket.on('message', (data, isBinary) => {
    pending += 1;
    if (pending >= MAX_PENDING && !socket.isPaused) socket.pause();
    queue = queue
      .then(() => (socket.readyState === socket.OPEN ? handle(data, isBinary) : undefined))
      .catch(() => {})
      .finally(() => {
        pending -= 1;
        if (pending <= MAX_PENDING / 2 && socket.isPaused) socket.resume(); // closing too: its close frame must be read
      });
  });
}
