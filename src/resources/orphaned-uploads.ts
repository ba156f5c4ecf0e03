/**
 * Upload folders (datasets/<id>, models/<id>) and job folders (jobs/<id>) that no row names. An upload is
 * stored before it is checked and removed again if refused; a job's folder is removed after its row is
 * deleted (deleteJob), and an attempt fenced off by then may still write into it; a process that stopped
 * in between leaves files behind. They are removed once older than a grace period, so an upload still
 * being checked keeps its files.
 */
import type { DbClient } from '../db/client.js';
import { isId } from '../ids.js';
import type { ArtifactStore } from '../storage/artifact-store.js';

export const ORPHAN_GRACE_MS = 3600_000;

/** Removes orphaned upload and job folders; returns the keys removed. */
export async function sweepOrphanedUploads(db: DbClient, store: ArtifactStore, graceMs = ORPHAN_GRACE_MS, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  const kinds = [
    { prefix: 'datasets', kind: 'ds' as const, existing: (ids: string[]) => db.dataset.findMany({ where: { id: { in: ids } }, select: { id: true } }) },
    // A model row names its folder only if its files live there (uploaded, or kept after its job was
    // deleted); a job's model whose copy was cut short by a crash (deleteJob) leaves an orphan too.
    {
      prefix: 'models',
      kind: 'mdl' as const,
      existing: (ids: string[]) => db.model.findMany({ where: { storageKey: { in: ids.map((id) => `models/${id}`) } }, select: { id: true } }),
    },
    { prefix: 'jobs', kind: 'job' as const, existing: (ids: string[]) => db.job.findMany({ where: { id: { in: ids } }, select: { id: true } }) },
  ];
  for (const { prefix, kind, existing } of kinds) {
    const old = (await store.children(prefix)).filter((e) => isId(kind, e.name) && now - e.modifiedAt.getTime() > graceMs).map((e) => e.name);
    // A thousand ids a query: there is a folder per job.
    for (let at = 0; at < old.length; at += 1000) {
      const batch = old.slice(at, at + 1000);
      const kept = new Set((await existing(batch)).map((row) => row.id));
      for (const id of batch.filter((id) => !kept.has(id))) {
        await store.remove(`${prefix}/${id}`);
        removed.push(`${prefix}/${id}`);
      }
    }
  }
  return removed;
}
