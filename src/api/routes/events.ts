import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { RawData, WebSocket } from 'ws';
import { isId } from '../../ids.js';
import { toEventObject } from '../../jobs/events.js';
import type { Caller } from '../../auth/api-keys.js';
import type { ApiDeps } from '../deps.js';
import { tenantScope } from '../plugins/auth.js';
import { parseClientMessage } from '../live/client-messages.js';
import { JobFollower, type FollowerSink, type FollowLimits } from '../live/job-follower.js';
import { KeyWatch } from '../live/key-watch.js';
import { CLOSE_RATE_LIMITED, messageBudget } from '../live/message-budget.js';
import { handleMessagesInOrder } from '../live/message-queue.js';
import { SLOT_TTL_MS, SocketSlots } from '../live/socket-slots.js';
import { ApiProblem, notFound } from '../problem.js';
import { wireForm } from '../live/wire-form.js';
import { EventList } from '../../contract/index.js';
import { EventsQuery, JobIdParams } from '../schemas/job.js';

const LIMITS: FollowLimits = { softBytes: 256 * 1024, hardBytes: 4 * 1024 * 1024 };
/**
 * WebSocket close codes: 1000 normal (job ended), 1008 kept sending over the rate limit, 1011 the job's
 * events cannot be read, 1013 try again later (client too slow), 4401 the API key was revoked, 4404 unknown job.
 */
const CLOSE_NORMAL = 1000;
const CLOSE_UNREADABLE = 1011;
const CLOSE_TRY_AGAIN = 1013;
const CLOSE_NOT_FOUND = 4404;
const MAX_JOBS_PER_SOCKET = 1000;

export async function eventRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db } = deps;
  // An id not shaped like a job's (a NUL or a surrogate in it would make Postgres fail) is unknown, unqueried.
  const jobExists = async (id: string, caller: Caller) => isId('job', id) && (await db.job.count({ where: { id, ...tenantScope(caller) } })) > 0;
  const slots = new SocketSlots(deps.redis, deps.channelPrefix, deps.config.MAX_SOCKETS_PER_TENANT);
  const keys = new KeyWatch(db);
  const budgetOf = messageBudget(app);
  app.addHook('onClose', async () => {
    keys.close();
    await slots.close();
  });
  const readFailures = new Counter({
    name: 'distill_ws_event_read_failures_total',
    help: "Failed reads of a followed job's events from Postgres",
    registers: [deps.registry],
  });
  new Gauge({
    name: 'distill_ws_followed_jobs',
    help: 'Jobs this API process follows for WebSocket clients',
    registers: [deps.registry],
    collect() {
      this.set(deps.hub.followedJobs);
    },
  });

  /** Before the upgrade (after auth, the rate limit and query validation): a slot under the tenant's socket cap, or 429. */
  const takeSocketSlot = async (req: FastifyRequest): Promise<void> => {
    if (!req.ws) return;
    const release = await slots.acquire(req.caller.tenantId);
    if (!release) {
      // The retry hint: by then a crashed process's sockets no longer count.
      throw new ApiProblem(
        429,
        'quota_sockets',
        `this tenant has ${slots.limit} WebSockets open, its limit (MAX_SOCKETS_PER_TENANT): close one before opening another`,
        {
          retry_after: SLOT_TTL_MS / 1000,
        },
      );
    }
    // The connection's end frees the slot, whether the upgrade happened or not.
    if (req.raw.socket.destroyed) release();
    else req.raw.socket.once('close', release);
  };

  /** What every socket gets: the gauges, the revocation check of its key, and its messages counted against the tenant's rate. */
  const open = (
    socket: WebSocket,
    req: FastifyRequest,
    handle: (data: RawData, isBinary: boolean) => Promise<void>,
    refused: (retryAfter: number, max: number) => void,
  ) => {
    deps.sockets.track(socket);
    keys.watch(req.caller.keyId, socket);
    const admit = budgetOf(req);
    handleMessagesInOrder(socket, async (data, isBinary) => {
      const admission = await admit();
      if (admission.verdict === 'admit') return handle(data, isBinary);
      refused(admission.retryAfter, admission.max);
      if (admission.verdict === 'close') socket.close(CLOSE_RATE_LIMITED, `rate limited: over ${admission.max} requests per minute`);
    });
  };

  // REST and WebSocket share the path: a plain GET lists, an upgrade streams.
  app.route<{ Params: { id: string }; Querystring: { after?: number; limit?: number }; Reply: EventList }>({
    method: 'GET',
    url: '/v1/jobs/:id/events',
    schema: { params: JobIdParams, querystring: EventsQuery, response: { 200: EventList } },
    preHandler: takeSocketSlot,
    handler: async (req) => {
      if (!(await jobExists(req.params.id, req.caller))) throw notFound('job', req.params.id);
      const limit = req.query.limit ?? 100;
      const rows = await db.jobEvent.findMany({
        where: { jobId: req.params.id, seq: { gt: req.query.after ?? 0 } },
        orderBy: { seq: 'asc' },
        take: limit + 1,
      });
      return { object: 'list', data: rows.slice(0, limit).map(toEventObject), has_more: rows.length > limit };
    },
    wsHandler: async (socket, req) => {
      // This socket takes no messages: they are ignored, but count against the rate like any other.
      open(
        socket,
        req,
        async () => {},
        () => {},
      );
      const { id } = req.params;
      const exists = await jobExists(id, req.caller);
      // Closed meanwhile (its 'close' has fired): a follower started now would never be stopped.
      if (socket.readyState !== socket.OPEN) return;
      if (!exists) return socket.close(CLOSE_NOT_FOUND, `job ${id} does not exist`);
      const follower = new JobFollower(
        db,
        deps.hub,
        id,
        req.query.after ?? 0,
        sinkFor(socket, (reason, lastSeq) => {
          if (reason === 'terminal') socket.close(CLOSE_NORMAL, 'job ended');
          else if (reason === 'failed') socket.close(CLOSE_UNREADABLE, `events could not be read: reconnect with after=${lastSeq}`);
          else socket.close(CLOSE_TRY_AGAIN, `too far behind: reconnect with after=${lastSeq}`);
        }),
        LIMITS,
      );
      socket.on('close', () => follower.stop());
      follower.start();
    },
  });

  // One connection following many jobs: {"type":"subscribe","job_id":"job_…","after":0} / "unsubscribe".
  app.route({
    method: 'GET',
    url: '/v1/events',
    preHandler: takeSocketSlot,
    handler: async () => {
      throw new ApiProblem(426, 'upgrade_required', 'this route is a WebSocket: connect with an Upgrade: websocket request');
    },
    wsHandler: (socket, req) => {
      const followers = new Map<string, JobFollower>();
      const reply = (message: Record<string, unknown>) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(message));
      socket.on('close', () => followers.forEach((f) => f.stop()));
      // Every field is validated before use (parseClientMessage); messages are handled one at a time, in order.
      const handle = async (data: RawData, isBinary: boolean) => {
        const parsed = parseClientMessage(data, isBinary);
        if ('refusal' in parsed) return void reply({ type: 'error', ...parsed.refusal });
        const { message } = parsed;
        const jobId = message.job_id;
        if (message.type === 'unsubscribe') {
          followers.get(jobId)?.stop();
          followers.delete(jobId);
          return void reply({ type: 'unsubscribed', job_id: jobId });
        }
        const after = message.after ?? 0;
        if (followers.size >= MAX_JOBS_PER_SOCKET && !followers.has(jobId)) {
          return void reply({ type: 'error', code: 'too_many_subscriptions', job_id: jobId, message: `at most ${MAX_JOBS_PER_SOCKET} jobs per connection` });
        }
        const exists = await jobExists(jobId, req.caller);
        if (socket.readyState !== socket.OPEN) return; // closed meanwhile: its followers are already stopped
        if (!exists) return void reply({ type: 'error', code: 'not_found', job_id: jobId, message: `job ${printable(jobId)} does not exist` });
        followers.get(jobId)?.stop();
        const follower = new JobFollower(
          db,
          deps.hub,
          jobId,
          after,
          sinkFor(socket, (reason, lastSeq) => {
            if (followers.get(jobId) === follower) followers.delete(jobId);
            if (reason === 'too_slow') socket.close(CLOSE_TRY_AGAIN, `too far behind on ${jobId}: resubscribe with after=${lastSeq}`);
            if (reason === 'failed')
              reply({
                type: 'error',
                code: 'internal_error',
                job_id: jobId,
                message: `this job's events could not be read: subscribe again with after=${lastSeq}`,
              });
          }),
          LIMITS,
        );
        followers.set(jobId, follower);
        reply({ type: 'subscribed', job_id: jobId, after });
        follower.start();
      };
      // A message that fails (Postgres unreachable) is answered, never dropped without a word.
      const answered = async (data: RawData, isBinary: boolean) => {
        try {
          await handle(data, isBinary);
        } catch (err) {
          deps.log.warn({ err }, 'a /v1/events message failed');
          reply({
            type: 'error',
            code: 'internal_error',
            message: 'this message could not be handled (the server could not reach its database): send it again',
          });
        }
      };
      open(socket, req, answered, (retryAfter, max) =>
        reply({
          type: 'error',
          code: 'rate_limited',
          retry_after: retryAfter,
          message: `over this tenant's ${max} requests per minute (each message is one): retry in ${retryAfter} s`,
        }),
      );
    },
  });

  function sinkFor(socket: WebSocket, end: FollowerSink['end']): FollowerSink {
    return {
      bufferedAmount: () => socket.bufferedAmount,
      send: (event, live) => {
        if (socket.readyState !== socket.OPEN) return;
        const { frame, createdAt } = wireForm(event);
        socket.send(frame, { binary: false });
        deps.metrics.eventsSent.inc();
        if (live) deps.metrics.deliveryLag.observe(Math.max(0, Date.now() - createdAt) / 1000);
      },
      end,
      readFailed: (err) => {
        readFailures.inc();
        deps.log.warn({ err }, "reading a followed job's events failed");
      },
    };
  }
}

/** An id from a message, for a message of ours: as sent when printable ASCII, else quoted and escaped. */
function printable(id: string): string {
  return /^[\x20-\x7e]*$/.test(id) ? id : JSON.stringify(id).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
