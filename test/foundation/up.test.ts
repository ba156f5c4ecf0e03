import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type CliProcess, eventually, type LogLine, processAlive, processGroupAlive, spawnCli } from '../support/cli.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';

const artifacts = mkdtempSync(join(tmpdir(), 'distill-up-'));
const queues: string[] = [];
after(async () => {
  rmSync(artifacts, { recursive: true, force: true });
  // BullMQ keeps a few keys per queue even when no job ever ran.
  const redis = new Redis(REDIS_URL);
  for (const queue of queues) {
    const keys = await redis.keys(`bull:${queue}:*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
});

interface Started {
  up: CliProcess;
  apiPid: number;
  workerPid: number;
  url: string;
}

/** `distill up` on an empty database with one worker, waited on until the API listens and the worker is ready. */
async function startUp(name: string): Promise<Started> {
  const queue = `foundation-${name}-${process.pid}`;
  queues.push(queue);
  const up = spawnCli(['up'], {
    DATABASE_URL: await freshDatabase({ migrated: false }),
    REDIS_URL,
    PORT: '0',
    WORKERS: '1',
    QUEUE_NAME: queue,
    ARTIFACT_DIR: artifacts,
    // Not under test here, and on a loaded machine a just-started API's lag would make /readyz 503 `overloaded`.
    MAX_EVENT_LOOP_DELAY_MS: '0',
  });
  const startedLine = (command: string) => (l: LogLine) => l.service === 'up' && l.msg === 'started' && l.command === command;
  // pino writes the supervisor's pid first and the child's (the message's `pid`) after it: JSON.parse keeps the last.
  const api = Number((await up.waitForLog(startedLine('serve'))).pid);
  const worker = Number((await up.waitForLog(startedLine('worker'))).pid);
  assert.notEqual(api, up.pid);
  assert.notEqual(worker, up.pid);
  const listening = await up.waitForLog((l) => l.msg === 'API listening' && l.pid === api);
  await up.waitForLog((l) => l.msg === 'worker ready' && l.pid === worker);
  return { up, apiPid: api, workerPid: worker, url: String(listening.url) };
}

describe('distill up', () => {
  it('migrates, starts the API and a worker, and SIGTERM stops them all, leaving no process behind', async () => {
    const { up, apiPid, workerPid, url } = await startUp('sigterm');
    assert.ok(
      up.logs().some((l) => l.service === 'up' && /migration\(s\) applied/.test(l.msg ?? '')),
      up.output(),
    );
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    assert.ok(processAlive(apiPid) && processAlive(workerPid));

    up.kill('SIGTERM');
    const exit = await up.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, up.output());
    const stopped = up.logs().map((l) => `${l.service}: ${l.msg}`);
    assert.ok(stopped.includes('api: api stopped'), up.output());
    assert.ok(stopped.includes('worker: worker stopped'), up.output());
    // The supervisor exits only after both children did; each ran in its own process group, which must be empty
    // (a training child or anything else they started would still be in it).
    for (const pid of [apiPid, workerPid]) {
      assert.equal(processAlive(pid), false, `pid ${pid} is still running`);
      assert.equal(processGroupAlive(pid), false, `process group ${pid} still has members`);
    }
    await assert.rejects(fetch(`${url}/healthz`), 'the API no longer answers');
  });

  it('its children stop by themselves when the supervisor is killed outright', async () => {
    const { up, apiPid, workerPid } = await startUp('sigkill');
    up.kill('SIGKILL');
    await up.exited;
    // They notice the closed IPC channel and shut down as on SIGTERM.
    await eventually(() => !processGroupAlive(apiPid) && !processGroupAlive(workerPid), 'children of a killed supervisor exit', 30_000);
  });
});
