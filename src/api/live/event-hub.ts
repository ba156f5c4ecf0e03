import type { Redis } from 'ioredis';
import { eventsChannel, type JobEventObject } from '../../jobs/events.js';
import { wireForm } from './wire-form.js';

type Listener = (event: JobEventObject) => void;

/**
 * One Redis subscription per job per API process, shared by every socket following that job:
 * a thousand dashboards on one job cost one channel, and several API processes each get every event.
 */
export class EventHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Called after Redis reconnects: followers re-read what they may have missed. */
  private readonly reconnectListeners = new Set<() => void>();

  constructor(
    private readonly subscriber: Redis,
    private readonly channelPrefix: string,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const jobId = channel.slice(channel.lastIndexOf(':') + 1);
      const set = this.listeners.get(jobId);
      if (!set) return;
      let event: JobEventObject;
      try {
        event = JSON.parse(message) as JobEventObject;
      } catch {
        return;
      }
      wireForm(event, message); // the published JSON is what every follower sends
      for (const listener of set) listener(event);
    });
    subscriber.on('ready', () => {
      for (const listener of this.reconnectListeners) listener();
    });
  }

  get followedJobs(): number {
    return this.listeners.size;
  }

  follow(jobId: string, listener: Listener, onReconnect: () => void): () => void {
    let set = this.listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.listeners.set(jobId, set);
      this.subscriber.subscribe(eventsChannel(this.channelPrefix, jobId)).catch(() => {});
    }
    set.add(listener);
    this.reconnectListeners.add(onReconnect);
    return () => {
      this.reconnectListeners.delete(onReconnect);
      const current = this.listeners.get(jobId);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) {
        this.listeners.delete(jobId);
        this.subscriber.unsubscribe(eventsChannel(this.channelPrefix, jobId)).catch(() => {});
      }
    };
  }
}
