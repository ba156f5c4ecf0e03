// The API under test, in its own process (as deployed): started by bench/load.ts with the bench's
// environment. Tells the parent its URL over IPC, reports its event-loop delay and profiles itself
// on request (only the measured phases, not start-up), and stops when asked to or when the parent
// goes away. Nothing here changes how the API runs.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

export type ServerRequest = 'stop' | { profile: 'start' } | { profile: 'stop'; file: string } | { loop: 'read' };
/** Event-loop delay since the last read, milliseconds. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

if (!process.send) {
  process.stderr.write('bench/load/server.ts is started by bench/load.ts (it needs an IPC channel)\n');
  process.exit(2);
}
// tsx turns on source-mapped stack traces; the deployed API (compiled dist/, plain `node`) runs
// without them, and formatting every Error's stack through source maps costs real CPU here.
if (!process.env.BENCH_SOURCE_MAPS) process.setSourceMapsEnabled(false);
const config = loadConfig(process.env);
const server = await startServer(config, createLogger(config, { service: 'api' }));
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

let session: Session | undefined;
async function profile(message: { profile: 'start' } | { profile: 'stop'; file: string }): Promise<void> {
  if (message.profile === 'start') {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  } else if (session) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(message.file, JSON.stringify(profile));
    session.disconnect();
    session = undefined;
  }
  process.send?.({ profiled: message.profile });
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(1), 15_000);
  force.unref();
  await server.close().catch(() => {});
  process.exit(0);
};
process.on('message', (message: ServerRequest) => {
  if (message === 'stop') void stop();
  else if ('profile' in message) void profile(message);
  else if ('loop' in message) {
    const delay: LoopDelay = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
    loop.reset();
    process.send?.({ loop: delay });
  }
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.send({ url: server.url, pid: process.pid });
