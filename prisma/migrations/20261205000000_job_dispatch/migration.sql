-- Fair scheduling between tenants: a job is enqueued in BullMQ only once it is admitted (src/queue/admission.ts).
-- AlterTable
ALTER TABLE "jobs" ADD COLUMN "dispatched_at" TIMESTAMPTZ(3);

-- Every job created before this migration was enqueued at creation.
UPDATE "jobs" SET "dispatched_at" = "created_at";

-- CreateIndex
CREATE INDEX "jobs_tenant_id_status_idx" ON "jobs"("tenant_id", "status");

-- CreateFunction
-- Admits a tenant's next jobs (highest priority, then oldest) while it has fewer than p_max_dispatched
-- admitted jobs queued or running and fewer than p_max_waiting of them queued; p_left_queue is a job that
-- a worker has just taken from the queue (it no longer waits there though its row still says queued).
-- One statement for the caller, yet race-free: the tenant's advisory lock is taken first, and, the
-- function being VOLATILE, the counting query that follows reads a snapshot taken after the lock is held,
-- so it sees every admission committed before. Returns the admitted jobs, to be enqueued.
CREATE FUNCTION "admit_jobs"(p_tenant TEXT, p_left_queue TEXT, p_max_dispatched BIGINT, p_max_waiting BIGINT)
RETURNS TABLE ("job_id" TEXT, "job_attempts" INTEGER)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1684632436, hashtext(p_tenant));
  RETURN QUERY
  WITH slots AS (
    SELECT count(*) AS dispatched, count(*) FILTER (WHERE j.status = 'queued' AND j.id IS DISTINCT FROM p_left_queue) AS waiting
    FROM "jobs" j
    WHERE j.tenant_id = p_tenant AND j.dispatched_at IS NOT NULL AND j.status IN ('queued', 'running', 'cancelling')
  ),
  next AS (
    SELECT j.id FROM "jobs" j
    WHERE j.tenant_id = p_tenant AND j.status = 'queued' AND j.dispatched_at IS NULL
    ORDER BY j.priority DESC, j.created_at, j.id
    LIMIT (SELECT greatest(0, least(p_max_dispatched - s.dispatched, p_max_waiting - s.waiting)) FROM slots s)
  )
  UPDATE "jobs" j SET dispatched_at = now() FROM next
  WHERE j.id = next.id AND j.status = 'queued' AND j.dispatched_at IS NULL
  RETURNING j.id, j.attempts;
END
$$;
