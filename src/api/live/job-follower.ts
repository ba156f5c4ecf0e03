import { type Db, isRetriableDbError } from '../../db/client.js';
import { type JobEventObject, toEventObject } from '../../jobs/events.js';
import { isTerminal } from '../../jobs/status.js';
import type { EventHub } from './event-hub.js';

const PAGE = 500;
/** After a failed read of Postgres, try again this soon (live messages also retry it). */
const RETRY_READ_MS = 2000;
/**
 * Reads that fail for a reason other than reaching Postgres (a query Postgres refuses) fail the same way
 * every time: after this many in a row the follower ends instead of retrying forever.
 */
const MAX_REFUSED_READS = 3;
/** A catch-up read waits for the client to take what it was sent; this long without room, it gives up on it. */
const CATCH_UP_STALL_MS = 30_000;
const DRAIN_POLL_MS = 20;

export interface FollowerSink {
  /** Bytes queued on the socket and not yet sent. */
  bufferedAmount(): number;
  /** `live`: it came through pub/sub just now (not read back from Postgres). */
  send(event: JobEventObject, live: boolean): void;
  /** The job reached its terminal event, the client is too slow, or its events cannot be read ('failed'). */
  end(reason: 'terminal' | 'too_slow' | 'failed', lastSeq: number): void;
  /** A read of Postgres failed (it is retried, or the follower ends with 'failed'). */
  readFailed?(err: unknown): void;
}

export interface FollowLimits {
  /** Above this backlog, metrics samples are coalesced (skipped); status changes never are. */
  softBytes: number;
  /** Above this backlog, the client is closed and resumes with `after`. */
  hardBytes: number;
}

/**
 * Streams one job's events to one client: every stored event after `after`, then live ones, in order,
 * with no gap and no duplicate. Live messages are only a fast path: anything out of order or missing
 * is read from Postgres, the source of truth (and, when the job is quiet, the hub reads it for all
 * followers at once).
 */
export class JobFollower {
  private lastSeq: number;
  private readonly pending = new Map<number, JobEventObject>();
  private needRead = true;
  private pumping = false;
  private again = false;
  private stopped = false;
  private unfollow: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private refusedReads = 0;

  constructor(
    private readonly db: Db,
    private readonly hub: EventHub,
    readonly jobId: string,
    after: number,
    private readonly sink: FollowerSink,
    private readonly limits: FollowLimits,
  ) {
    this.lastSeq = after;
  }

  start(): void {
    // Subscribe first, then read: an event published in between is in both, and deduplicated by seq.
    this.unfollow = this.hub.follow(
      this.jobId,
      (event) => {
        if (event.seq > this.lastSeq) this.pending.set(event.seq, event);
        this.kick();
      },
      () => {
        this.needRead = true;
        this.kick();
      },
      () => this.lastSeq,
    );
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.unfollow?.();
  }

  private kick(): void {
    if (this.stopped) return;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.drainPending();
        if (this.pending.size > 0) this.needRead = true; // a gap: something was missed live
        if (this.needRead && !this.stopped) {
          this.needRead = false;
          const rows = await this.db.jobEvent.findMany({
            where: { jobId: this.jobId, seq: { gt: this.lastSeq } },
            orderBy: { seq: 'asc' },
            take: PAGE,
          });
          this.refusedReads = 0;
          // Read back from storage, events are paced to the client: a resume after megabytes of
          // events must not overflow its buffer (coalescing and 1013 are for live events it cannot keep up with).
          for (const row of rows) {
            if (!(await this.roomToSend())) break;
            this.deliver(toEventObject(row));
          }
          if (this.stopped) break;
          if (rows.length === PAGE) {
            this.again = true;
            this.needRead = true;
          } else if (!this.stopped && (await this.endedBefore())) {
            // The client already had the terminal event (it resumed after it): nothing will ever come.
            this.stop();
            this.sink.end('terminal', this.lastSeq);
          }
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.sink.readFailed?.(err);
      if (!isRetriableDbError(err) && ++this.refusedReads >= MAX_REFUSED_READS) {
        this.stop();
        this.sink.end('failed', this.lastSeq);
        return;
      }
      // Postgres unreachable: try again soon, or on the next live message.
      this.needRead = true;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.kick(), RETRY_READ_MS);
      this.retryTimer.unref();
    } finally {
      this.pumping = false;
    }
  }

  /** Waits until the client's backlog is below the soft limit; false if it stopped, or stalled too long (then it is ended). */
  private async roomToSend(): Promise<boolean> {
    const deadline = Date.now() + CATCH_UP_STALL_MS;
    while (!this.stopped && this.sink.bufferedAmount() > this.limits.softBytes) {
      if (Date.now() > deadline) {
        this.stop();
        this.sink.end('too_slow', this.lastSeq);
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    return !this.stopped;
  }

  private async endedBefore(): Promise<boolean> {
    const job = await this.db.job.findUnique({ where: { id: this.jobId }, select: { status: true, lastEventSeq: true } });
    return !job || (isTerminal(job.status) && this.lastSeq >= job.lastEventSeq);
  }

  private drainPending(): void {
    for (;;) {
      const next = this.pending.get(this.lastSeq + 1);
      if (!next) break;
      this.deliver(next, true);
    }
    for (const seq of this.pending.keys()) if (seq <= this.lastSeq) this.pending.delete(seq);
  }

  private deliver(event: JobEventObject, live = false): void {
    if (this.stopped || event.seq !== this.lastSeq + 1) return;
    this.pending.delete(event.seq);
    this.lastSeq = event.seq;
    const backlog = this.sink.bufferedAmount();
    if (backlog > this.limits.hardBytes) {
      this.stop();
      this.sink.end('too_slow', this.lastSeq - 1);
      return;
    }
    if (event.type === 'metrics' && backlog > this.limits.softBytes) return;
    this.sink.send(event, live);
    if (event.type === 'status' && isTerminal(String(event.data.status))) {
      this.stop();
      this.sink.end('terminal', this.lastSeq);
    }
  }
}
