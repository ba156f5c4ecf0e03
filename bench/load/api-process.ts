// The API in a process of its own (bench/load/server.ts), as deployed: its event loop and CPU are its
// own, so what the bench process does (clients, floor) does not show up in the API's figures.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoopDelay, ServerRequest } from './server.js';

export interface ApiProcess {
  url: string;
  pid: number;
  /** One request to the API process over IPC, answered by a message carrying `key`. */
  ask<T>(request: ServerRequest, key: string): Promise<T>;
  /** The API's event-loop delay since the last read. */
  loop(): Promise<LoopDelay>;
  stop(): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

/** Starts the API with `env` (DATABASE_URL, REDIS_URL, ARTIFACT_DIR, …) and waits until it listens. */
export async function startApiProcess(env: NodeJS.ProcessEnv): Promise<ApiProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { url, pid } = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; pid: number }));
    child.once('exit', (code) => reject(new Error(`the API process exited (${code}) before listening`)));
  });
  const ask = <T>(request: ServerRequest, key: string) =>
    new Promise<T>((resolve, reject) => {
      const onExit = () => reject(new Error('the API process exited'));
      const onMessage = (m: unknown) => {
        if (m && typeof m === 'object' && key in m) {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve((m as Record<string, T>)[key] as T);
        }
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(request);
    });
  return {
    url,
    pid,
    ask,
    loop: () => ask<LoopDelay>({ loop: 'read' }, 'loop'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send?.('stop');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
