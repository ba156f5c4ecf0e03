// The API process restarted while WebSocket clients follow jobs: once gracefully (SIGTERM) and once by a
// crash (SIGKILL). The clients reconnect with `after` = the last seq they saw and end up with exactly the
// stored stream: nothing missed, nothing twice, in order. The API runs as its own `distill serve` process
// on a fixed port; the workers and the database are the stack's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CliProcess, spawnCli } from '../support/cli.js';
import { setDefaultKey, waitFor } from '../support/http.js';
import { freePort } from '../support/services.js';
import { startStack, type Stack } from '../support/stack.js';
import { describeJobs, FAULT_ENV, ReconnectingFollower, smallJob, submitAll, untilAllTerminal, untilEvent } from './harness.js';
import { checkInvariants } from './invariants.js';

describe('fault: the API process restarts under WebSocket clients', () => {
  let stack: Stack;
  let api: CliProcess | undefined;
  let port: number;
  let url: string;

  async function startApi(): Promise<void> {
    api = spawnCli(['serve'], { ...stack.env, PORT: String(port), LOG_LEVEL: 'info' });
    await api.waitForLog((l) => l.msg === 'API listening', 120_000);
  }

  async function stopApi(signal: NodeJS.Signals): Promise<void> {
    const running = api!;
    running.kill(signal);
    await running.exited;
  }

  before(async () => {
    stack = await startStack({ workers: 2, env: { ...FAULT_ENV } });
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    setDefaultKey(url, stack.keys.a.key);
  });
  after(async () => {
    if (api) await stopApi('SIGKILL');
    await stack?.stop();
  });

  test('followers reconnect with after and miss nothing across a graceful and a crashing restart', async () => {
    const wsUrl = url.replace(/^http/, 'ws');
    const followers: { id: string; follower: ReconnectingFollower }[] = [];
    try {
      // Started in the test, not in before(): spawnCli's clean-up hook binds to where it is first called.
      await startApi();
      const ids = await submitAll(url, [smallJob('followed-1', 6), smallJob('followed-2', 6), smallJob('followed-3', 20)]);
      // Two clients per job.
      for (const id of ids) for (let i = 0; i < 2; i++) followers.push({ id, follower: new ReconnectingFollower(wsUrl, id, stack.keys.a.key) });
      await untilEvent(stack.db, ids[0]!, (e) => e.type === 'metrics' && e.data.phase === 'distilling', 'distillation of the first job');
      const openAtFirst = followers.filter((f) => f.follower.connected);
      await stopApi('SIGTERM');
      await startApi();

      // The last job's clients are back and it is distilling (not over): cut them off again, harder.
      const last = followers.filter((f) => f.id === ids[2]);
      await waitFor("the last job's clients to reconnect", async () => last.every((f) => f.follower.connected), 60_000, 100);
      await untilEvent(stack.db, ids[2]!, (e) => e.type === 'metrics' && e.data.phase === 'distilling', 'distillation of the last job');
      assert.ok(
        last.every((f) => f.follower.connected),
        'the last job is still followed live',
      );
      const openAtSecond = followers.filter((f) => f.follower.connected);
      await stopApi('SIGKILL');
      await startApi();

      await untilAllTerminal(url, ids);
      await Promise.race([
        Promise.all(followers.map((f) => f.follower.done)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('followers did not reach the end')), 60_000)),
      ]);

      for (const { id, follower } of followers) {
        const stored = await stack.db.jobEvent.findMany({ where: { jobId: id }, orderBy: { seq: 'asc' } });
        assert.deepEqual(follower.outOfOrder, [], `${id}: every message carried the next seq`);
        assert.deepEqual(
          follower.events.map((e) => e.seq),
          stored.map((e) => e.seq),
          `${id}: the client saw the whole stored stream`,
        );
        assert.deepEqual(
          follower.events.map((e) => [e.type, e.data]),
          stored.map((e) => [e.type, e.data]),
          `${id}: the same events`,
        );
      }
      for (const { id, follower } of [...openAtFirst, ...openAtSecond]) {
        assert.ok(follower.interruptions.length >= 1, `${id}: a client connected at a restart was cut off and came back`);
      }
      console.log(
        `clients cut off: ${openAtFirst.length} at the SIGTERM restart, ${openAtSecond.length} at the SIGKILL restart; close codes ${JSON.stringify(followers.map((f) => f.follower.interruptions))}`,
      );
      assert.ok(openAtFirst.length >= 2 && openAtSecond.length >= 2, 'each restart cut off live clients');

      const summaries = await checkInvariants({ ...stack, url }, ids);
      console.log(describeJobs(summaries));
    } catch (err) {
      console.log(`the API's last output:\n${api?.output().split('\n').slice(-40).join('\n')}`);
      throw err;
    } finally {
      followers.forEach((f) => f.follower.stop());
    }
  });
});
