/**
 * Upload folders (datasets/<id>, models/<id>) that no row names. An upload is stored before it is
 * checked and removed again if refused; a process that stopped in between leaves its files behind.
 * They are removed once older than a grace period, so an upload still being checked keeps its files.
 */
import type { DbClient } from '../db/client.js';
import { isId } from '../ids.js';
import type { ArtifactStore } from '../storage/artifact-store.js';

export const ORPHAN_GRACE_MS = 3600_000;

/** Removes orphaned upload folders; returns the keys removed. */
export async function sweepOrphanedUploads(db: DbClient, store: ArtifactStore, graceMs = ORPHAN_GRACE_MS, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  const kinds = [
    { prefix: 'datasets', kind: 'ds' as const, existing: (ids: string[]) => db.dataset.findMany({ where: { id: { in: ids } }, select: { id: true } }) },
    { prefix: 'models', kind: 'mdl' as const, existing: (ids: string[]) => db.model.findMany({ where: { id: { in: ids } }, select: { id: true } }) },
  ];
  for (const { prefix, kind, existing } of kinds) {
    const old = (await store.children(prefix)).filter((e) => isId(kind, e.name) && now - e.modifiedAt.getTime() > graceMs).map((e) => e.name);
    if (old.length === 0) continue;
    const kept = new Set((await existing(old)).map((row) => row.id));
    for (const id of old.filter((id) => !kept.has(id))) {
      await store.remove(`${prefix}/${id}`);
      removed.push(`${prefix}/${id}`);
    }
  }
  return removed;
}
