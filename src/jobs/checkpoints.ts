/**
 * Checkpoints live only while they are useful. A resume reads one checkpoint, the latest (it carries
 * the finished phases' weights too), so once a newer one and its row are durable the older ones go;
 * when the job ends, whatever its end, they all go.
 *
 * The row owns the file: a file is removed before its row, never the other way round, so a crash in
 * between leaves a row that the next write, the job's end or the sweep finds and finishes. A crash
 * while a checkpoint is written (file stored, row not yet) leaves one file without a row: the next
 * write removes it (its sequence number is older) and the job's end removes the whole prefix.
 */
import type { DbClient } from '../db/client.js';
import { type ArtifactStore, jobKey } from '../storage/artifact-store.js';
import { ACTIVE_STATUSES } from './status.js';

export const checkpointPrefix = (jobId: string) => jobKey(jobId, 'checkpoints');

/** `<attempt>-<seq>.bin` (and the store's temporary files of it): the sequence number, or undefined. */
export function checkpointSeqOf(name: string): number | undefined {
  const match = /^\d+-(\d+)\.bin(\.|$)/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Removes every checkpoint of the job older than `keepSeq` (files, then rows). Call it only after the
 * checkpoint `keepSeq` and its row are committed. Returns the bytes whose rows were removed.
 */
export async function pruneCheckpoints(db: DbClient, store: ArtifactStore, jobId: string, keepSeq: number): Promise<number> {
  const older = await db.checkpoint.findMany({ where: { jobId, seq: { lt: keepSeq } }, select: { storageKey: true, bytes: true } });
  const prefix = checkpointPrefix(jobId);
  // Files without a row (a write cut short by a crash) are found by listing the prefix.
  const strays = (await store.children(prefix))
    .filter((entry) => (checkpointSeqOf(entry.name) ?? Number.POSITIVE_INFINITY) < keepSeq)
    .map((entry) => `${prefix}/${entry.name}`);
  for (const key of new Set([...older.map((c) => c.storageKey), ...strays])) await store.remove(key);
  if (older.length > 0) await db.checkpoint.deleteMany({ where: { jobId, seq: { lt: keepSeq } } });
  return older.reduce((sum, c) => sum + Number(c.bytes), 0);
}

/** The job ended: all its checkpoints go, files first (the whole prefix), then rows. */
export async function dropCheckpoints(db: DbClient, store: ArtifactStore, jobId: string): Promise<void> {
  await store.remove(checkpointPrefix(jobId));
  await db.checkpoint.deleteMany({ where: { jobId } });
}

/**
 * The backstop for a process that died between a job's end and the removal of its checkpoints: every
 * job that ended but still has checkpoint rows loses them. Returns those jobs' ids.
 */
export async function sweepEndedJobCheckpoints(db: DbClient, store: ArtifactStore, limit = 100): Promise<string[]> {
  const rows = await db.checkpoint.findMany({
    where: { job: { status: { notIn: [...ACTIVE_STATUSES] } } },
    distinct: ['jobId'],
    select: { jobId: true },
    take: limit,
  });
  for (const { jobId } of rows) await dropCheckpoints(db, store, jobId);
  return rows.map((r) => r.jobId);
}
