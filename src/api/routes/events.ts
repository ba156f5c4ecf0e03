import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { toEventObject } from '../../jobs/events.js';
import type { Caller } from '../../auth/api-keys.js';
import type { ApiDeps } from '../deps.js';
import { tenantScope } from '../plugins/auth.js';
import { JobFollower, type FollowerSink, type FollowLimits } from '../live/job-follower.js';
import { ApiProblem, notFound } from '../problem.js';
import { wireForm } from '../live/wire-form.js';
import { EventsQuery, JobIdParams } from '../schemas/job.js';

const LIMITS: FollowLimits = { softBytes: 256 * 1024, hardBytes: 4 * 1024 * 1024 };
/** WebSocket close codes: 1000 normal (job ended), 1013 try again later (client too slow), 4404 unknown job. */
const CLOSE_NORMAL = 1000;
const CLOSE_TRY_AGAIN = 1013;
const CLOSE_NOT_FOUND = 4404;
const MAX_JOBS_PER_SOCKET = 1000;

export async function eventRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { db } = deps;
  const jobExists = async (id: string, caller: Caller) => (await db.job.count({ where: { id, ...tenantScope(caller) } })) > 0;

  // REST and WebSocket share the path: a plain GET lists, an upgrade streams.
  app.route<{ Params: { id: string }; Querystring: { after?: number; limit?: number } }>({
    method: 'GET',
    url: '/v1/jobs/:id/events',
    schema: { params: JobIdParams, querystring: EventsQuery },
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
      deps.sockets.track(socket);
      const { id } = req.params;
      if (!(await jobExists(id, req.caller))) return socket.close(CLOSE_NOT_FOUND, `job ${id} does not exist`);
      const follower = new JobFollower(db, deps.hub, id, req.query.after ?? 0, sinkFor(socket, (reason, lastSeq) => {
        if (reason === 'terminal') socket.close(CLOSE_NORMAL, 'job ended');
        else socket.close(CLOSE_TRY_AGAIN, `too far behind: reconnect with after=${lastSeq}`);
      }), LIMITS);
      socket.on('close', () => follower.stop());
      socket.on('message', () => {}); // nothing to say on this route; messages are ignored
      follower.start();
    },
  });

  // One connection following many jobs: {"type":"subscribe","job_id":"job_…","after":0} / "unsubscribe".
  app.route({
    method: 'GET',
    url: '/v1/events',
    handler: async () => {
      throw new ApiProblem(426, 'upgrade_required', 'this route is a WebSocket: connect with an Upgrade: websocket request');
    },
    wsHandler: (socket, req) => {
      deps.sockets.track(socket);
      const followers = new Map<string, JobFollower>();
      const reply = (message: Record<string, unknown>) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(message));
      socket.on('close', () => followers.forEach((f) => f.stop()));
      // Messages are handled one at a time, in order: an unsubscribe never overtakes its subscribe.
      let queue = Promise.resolve();
      socket.on('message', (raw) => {
        queue = queue.then(async () => void (await handle(raw))).catch(() => {});
      });
      const handle = async (raw: unknown) => {
        let message: { type?: unknown; job_id?: unknown; after?: unknown };
        try {
          message = JSON.parse(String(raw));
        } catch {
          return reply({ type: 'error', code: 'invalid_json', message: 'messages are JSON objects' });
        }
        const jobId = typeof message.job_id === 'string' ? message.job_id : '';
        if (message.type === 'unsubscribe') {
          followers.get(jobId)?.stop();
          followers.delete(jobId);
          return reply({ type: 'unsubscribed', job_id: jobId });
        }
        if (message.type !== 'subscribe') {
          return reply({ type: 'error', code: 'invalid_message', message: 'type must be subscribe or unsubscribe' });
        }
        const after = message.after ?? 0;
        if (!Number.isInteger(after) || (after as number) < 0) {
          return reply({ type: 'error', code: 'invalid_message', job_id: jobId, message: 'after must be a non-negative integer' });
        }
        if (followers.size >= MAX_JOBS_PER_SOCKET) {
          return reply({ type: 'error', code: 'too_many_subscriptions', job_id: jobId, message: `at most ${MAX_JOBS_PER_SOCKET} jobs per connection` });
        }
        if (jobId.length > 64 || !(await jobExists(jobId, req.caller))) {
          return reply({ type: 'error', code: 'not_found', job_id: jobId, message: `job ${jobId} does not exist` });
        }
        followers.get(jobId)?.stop();
        const follower = new JobFollower(db, deps.hub, jobId, after as number, sinkFor(socket, (reason, lastSeq) => {
          followers.delete(jobId);
          if (reason === 'too_slow') socket.close(CLOSE_TRY_AGAIN, `too far behind on ${jobId}: resubscribe with after=${lastSeq}`);
        }), LIMITS);
        followers.set(jobId, follower);
        reply({ type: 'subscribed', job_id: jobId, after });
        follower.start();
      };
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
    };
  }
}
