/**
 * One WebSocket to /v1/events for everything the page follows. Each job is subscribed with the last
 * seq already seen, so a reconnect (server restart, network blip, "too far behind" 1013) resumes without
 * a gap or a repeat. Subscriptions end by themselves at a job's terminal status event.
 */
import { webSocketUrl } from './api.js';
import { TERMINAL, type JobEvent } from './types.js';

type Handler = (event: JobEvent) => void;
export type LiveState = 'idle' | 'connecting' | 'live' | 'reconnecting';

interface Subscription {
  after: number;
  handler: Handler;
}

export class LiveEvents {
  private socket: WebSocket | undefined;
  private readonly subscriptions = new Map<string, Subscription>();
  private retries = 0;
  private retryTimer: number | undefined;
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  state: LiveState = 'idle';

  subscribe(jobId: string, after: number, handler: Handler): void {
    this.subscriptions.set(jobId, { after, handler });
    if (this.socket?.readyState === WebSocket.OPEN) this.sendSubscribe(jobId, after);
    else this.connect();
  }

  unsubscribe(jobId: string): void {
    if (!this.subscriptions.delete(jobId)) return;
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: 'unsubscribe', job_id: jobId }));
  }

  unsubscribeAll(): void {
    for (const id of [...this.subscriptions.keys()]) this.unsubscribe(id);
  }

  isSubscribed(jobId: string): boolean {
    return this.subscriptions.has(jobId);
  }

  onState(listener: (state: LiveState) => void): void {
    this.stateListeners.add(listener);
    listener(this.state);
  }

  /** Drops the socket and opens a new one (after the API key changed: the old ticket's caller is stale). */
  restart(): void {
    const old = this.socket;
    this.socket = undefined;
    old?.close(1000);
    this.retries = 0;
    if (this.subscriptions.size) this.connect();
  }

  private setState(state: LiveState): void {
    this.state = state;
    this.stateListeners.forEach((l) => l(state));
  }

  private sendSubscribe(jobId: string, after: number): void {
    this.socket?.send(JSON.stringify({ type: 'subscribe', job_id: jobId, after }));
  }

  private connect(): void {
    if (this.socket || this.retryTimer !== undefined) return;
    this.setState(this.retries ? 'reconnecting' : 'connecting');
    // Claim the slot before the ticket request so a second subscribe does not open a second socket.
    const pending = { readyState: WebSocket.CONNECTING } as WebSocket;
    this.socket = pending;
    webSocketUrl('/v1/events').then(
      (url) => {
        if (this.socket !== pending) return;
        const socket = new WebSocket(url);
        this.socket = socket;
        socket.onopen = () => {
          this.retries = 0;
          this.setState('live');
          for (const [id, sub] of this.subscriptions) this.sendSubscribe(id, sub.after);
        };
        socket.onmessage = (message) => this.receive(JSON.parse(String(message.data)));
        socket.onclose = () => {
          if (this.socket === socket) this.dropped();
        };
      },
      () => {
        if (this.socket === pending) this.dropped();
      },
    );
  }

  private dropped(): void {
    this.socket = undefined;
    if (this.subscriptions.size === 0) {
      this.setState('idle');
      return;
    }
    this.retries++;
    this.setState('reconnecting');
    const delay = Math.min(500 * 2 ** (this.retries - 1), 10_000);
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
  }

  private receive(message: JobEvent | { type: string; job_id?: string; code?: string; message?: string }): void {
    if (!('object' in message) || message.object !== 'event') {
      if (message.type === 'error') console.warn('live events:', message.job_id, message.code, message.message);
      return;
    }
    const sub = this.subscriptions.get(message.job_id);
    if (!sub || message.seq <= sub.after) return;
    sub.after = message.seq;
    sub.handler(message);
    if (message.type === 'status' && TERMINAL.has(String(message.data.status))) this.subscriptions.delete(message.job_id);
  }
}

/** The page's one connection. */
export const live = new LiveEvents();
