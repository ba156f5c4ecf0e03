import type { Redis } from 'ioredis';
import type { Db } from '../../db/client.js';
import { eventsChannel, type JobEventObject, toEventObject } from '../../jobs/events.js';
import { wireForm } from './wire-form.js';

type Listener = (event: JobEventObject) => void;

/** With no live message on a job for this long, the hub re-reads Postgres: the backstop for a lost pub/sub message. */
const QUIET_POLL_MS = 5000;
const PAGE = 500;

interface Followed {
  /** Each follower's listener, with how far it has got. */
  listeners: Map<Listener, () => number>;
  lastMessageAt: number;
  timer: NodeJS.Timeout;
  reading: boolean;
}

/**
 * One Redis subscription per job per API process, shared by every socket following that job:
 * a thousand dashboards on one job cost one channel, and several API processes each get every event.
 * When a job is quiet, one read of Postgres per job (not per socket) catches its followers up on any
 * message pub/sub lost; they take the events they lack and ignore the rest.
 */
export class EventHub {
  private readonly jobs = new Map<string, Followed>();
  /** Called after Redis reconnects: followers re-read what they may have missed. */
  private readonly reconnectListeners = new Set<() => void>();

  constructor(
    private readonly subscriber: Redis,
    private readonly channelPrefix: string,
    private readonly db: Db,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const jobId = channel.slice(channel.lastIndexOf(':') + 1);
      const followed = this.jobs.get(jobId);
      if (!followed) return;
      let event: JobEventObject;
      try {
        event = JSON.parse(message) as JobEventObject;
      } catch {
        return;
      }
      followed.lastMessageAt = Date.now();
      wireForm(event, message); // the published JSON is what every follower sends
      for (const listener of followed.listeners.keys()) listener(event);
    });
    subscriber.on('ready', () => {
      for (const listener of this.reconnectListeners) listener();
    });
  }

  get followedJobs(): number {
    return this.jobs.size;
  }

  /** `lastSeq`: the last seq the follower has, so the quiet-time read starts where the slowest one is. */
  follow(jobId: string, listener: Listener, onReconnect: () => void, lastSeq: () => number): () => void {
    let followed = this.jobs.get(jobId);
    if (!followed) {
      const timer = setInterval(() => void this.backstop(jobId), QUIET_POLL_MS / 2);
      timer.unref();
      followed = { listeners: new Map(), lastMessageAt: Date.now(), timer, reading: false };
      this.jobs.set(jobId, followed);
      this.subscriber.subscribe(eventsChannel(this.channelPrefix, jobId)).catch(() => {});
    }
    followed.listeners.set(listener, lastSeq);
    this.reconnectListeners.add(onReconnect);
    return () => {
      this.reconnectListeners.delete(onReconnect);
      const current = this.jobs.get(jobId);
      if (!current) return;
      current.listeners.delete(listener);
      if (current.listeners.size === 0) {
        clearInterval(current.timer);
        this.jobs.delete(jobId);
        this.subscriber.unsubscribe(eventsChannel(this.channelPrefix, jobId)).catch(() => {});
      }
    };
  }

  private async backstop(jobId: string): Promise<void> {
    const followed = this.jobs.get(jobId);
    if (!followed || followed.reading || Date.now() - followed.lastMessageAt < QUIET_POLL_MS) return;
    followed.reading = true;
    try {
      const after = Math.min(...[...followed.listeners.values()].map((lastSeq) => lastSeq()));
      const rows = await this.db.jobEvent.findMany({ where: { jobId, seq: { gt: after } }, orderBy: { seq: 'asc' }, take: PAGE });
      for (const row of rows) {
        const event = toEventObject(row);
        for (const listener of followed.listeners.keys()) listener(event);
      }
      followed.lastMessageAt = Date.now(); // caught up as of now: the next read is a quiet period away
    } catch {
      // Postgres unreachable: the next tick tries again.
    } finally {
      followed.reading = false;
    }
  }
}
