/**
 * How many uploads one API process takes at once. An upload holds a slot from before its body is
 * read until its check is done: the body sits in this process's memory (up to MAX_UPLOAD_BYTES) and
 * its check is a child process (up to UPLOAD_CHECK_MEMORY_MB), so the slots bound both. A few more
 * wait in line (their bodies unread); past that, or after waiting too long, an upload is refused
 * with 503 and Retry-After, so a burst of uploads costs a bounded amount of memory and processes.
 *
 * Shared fairly: one tenant holds at most half the slots and half the places in line (at least one
 * of each), so a tenant trickling its uploads byte by byte cannot keep every other tenant's out.
 */
import { ResourceError } from './errors.js';

export interface SlotSettings {
  /** Uploads taken at once (UPLOAD_CHECK_CONCURRENCY). */
  concurrency: number;
  /** Uploads that may wait for a slot (UPLOAD_CHECK_QUEUE). */
  queue: number;
  /** Longest wait for a slot, ms (UPLOAD_CHECK_TIMEOUT_MS). */
  waitMs: number;
}

const RETRY_AFTER_SECONDS = 5;

interface Waiter {
  tenant: string;
  grant(): void;
}

export class UploadSlots {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private readonly perTenant = new Map<string, { running: number; waiting: number }>();
  private readonly tenantRunning: number;
  private readonly tenantWaiting: number;

  constructor(private readonly settings: SlotSettings) {
    this.tenantRunning = Math.max(1, Math.floor(settings.concurrency / 2));
    this.tenantWaiting = Math.max(1, Math.floor(settings.queue / 2));
  }

  /** Uploads in progress and waiting, for metrics and tests. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Takes a slot for `tenant`, waiting in line if there is room; returns its release (idempotent). */
  async acquire(tenant: string): Promise<() => void> {
    const mine = this.countsOf(tenant);
    if (this.running < this.settings.concurrency && mine.running < this.tenantRunning) this.take(tenant);
    else {
      const full = this.waiting.length >= this.settings.queue;
      if (full || mine.waiting >= this.tenantWaiting) {
        // The tenant's own share is the reason when the server has room it may not take.
        const ownShare = mine.running >= this.tenantRunning && (this.running < this.settings.concurrency || !full);
        throw this.busy(
          ownShare
            ? `this tenant already has ${mine.running} of them being received and checked and ${mine.waiting} waiting, its share of UPLOAD_CHECK_CONCURRENCY and UPLOAD_CHECK_QUEUE`
            : `${this.running} uploads are being received and checked and ${this.waiting.length} are waiting (UPLOAD_CHECK_CONCURRENCY, UPLOAD_CHECK_QUEUE)`,
        );
      }
      await this.wait(tenant, mine);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.countsOf(tenant).running--;
      this.forget(tenant);
      this.grantNext();
    };
  }

  private wait(tenant: string, mine: { waiting: number }): Promise<void> {
    mine.waiting++;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        tenant,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        this.countsOf(tenant).waiting--;
        this.forget(tenant);
        reject(this.busy(`no upload slot came free within ${this.settings.waitMs} ms (UPLOAD_CHECK_TIMEOUT_MS)`));
      }, this.settings.waitMs);
      this.waiting.push(waiter);
    });
  }

  /** Hands free slots to the first waiters whose tenant is under its share. */
  private grantNext(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.settings.concurrency; ) {
      const waiter = this.waiting[i]!;
      const counts = this.countsOf(waiter.tenant);
      if (counts.running >= this.tenantRunning) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      counts.waiting--;
      this.take(waiter.tenant);
      waiter.grant();
    }
  }

  private take(tenant: string): void {
    this.running++;
    this.countsOf(tenant).running++;
  }

  private countsOf(tenant: string): { running: number; waiting: number } {
    let counts = this.perTenant.get(tenant);
    if (!counts) this.perTenant.set(tenant, (counts = { running: 0, waiting: 0 }));
    return counts;
  }

  private forget(tenant: string): void {
    const counts = this.perTenant.get(tenant);
    if (counts && counts.running === 0 && counts.waiting === 0) this.perTenant.delete(tenant);
  }

  private busy(why: string): ResourceError {
    return new ResourceError(
      503,
      'uploads_busy',
      `the server is busy with other uploads: ${why}; retry in ${RETRY_AFTER_SECONDS} s`,
      undefined,
      RETRY_AFTER_SECONDS,
    );
  }
}
