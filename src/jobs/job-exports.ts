/**
 * What an export after the fact leaves on its job: the new files as artifacts beside the old, and the
 * report (the job's result and its report.json) with the new variants' rows merged in.
 */
import type { Db } from '../db/client.js';
import type { Prisma } from '../db/client.js';
import { newId } from '../ids.js';
import { type ExportReport, mergeExportReports } from '../ml/tfjs-free.js';
import type { JobExports } from '../resources/upload-checks.js';
import type { ArtifactStore } from '../storage/artifact-store.js';

/** Returns false, recording nothing, when the job was deleted while its exports were made. */
export async function recordJobExports(db: Db, store: ArtifactStore, jobId: string, made: JobExports): Promise<boolean> {
  return db.$transaction(async (tx) => {
    // One export at a time merges into the report: a second waits here and merges into the first's.
    const locked = await tx.$queryRaw<unknown[]>`SELECT 1 FROM jobs WHERE id = ${jobId} FOR UPDATE`;
    if (locked.length === 0) return false;
    // Exports are deterministic: a file made twice (two requests at once, or asked again) keeps one row.
    await tx.artifact.createMany({
      data: made.files.map((f) => ({ id: newId('art'), jobId, kind: f.kind, file: f.file, storageKey: f.key, bytes: BigInt(f.bytes), sha256: f.sha256 })),
      skipDuplicates: true,
    });
    if (!made.report) return true;
    const job = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { result: true } });
    const result = (job.result ?? {}) as Record<string, unknown>;
    const report = { ...result, exports: mergeExportReports(result.exports as ExportReport | undefined, made.report) };
    await tx.job.update({ where: { id: jobId }, data: { result: report as unknown as Prisma.InputJsonObject } });
    const file = await tx.artifact.findFirst({ where: { jobId, kind: 'report', file: 'report.json' } });
    if (file) {
      const put = await store.put(file.storageKey, new TextEncoder().encode(JSON.stringify(report, null, 2)));
      await tx.artifact.update({ where: { id: file.id }, data: { bytes: BigInt(put.bytes), sha256: put.sha256 } });
    }
    return true;
  });
}
