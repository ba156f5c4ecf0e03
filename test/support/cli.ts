/**
 * Runs the real `distill` CLI from the sources (`node --import tsx src/cli/main.ts <command>`) as a child
 * process, collects what it prints, and lets a test wait on a line instead of sleeping.
 * Every process started here is killed when the calling test file ends, whatever the test did.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = 'src/cli/main.ts';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  stderr(): string;
  /** pino's JSON lines printed so far (other lines skipped). */
  logs(): LogLine[];
  /** Resolves with the first log line (or, for a RegExp, text match) that passes; rejects on exit or timeout. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  waitForText(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
}

export type LogLine = Record<string, unknown> & { msg?: string; pid?: number; service?: string };

const running = new Set<ChildProcess>();
let cleanupRegistered = false;

/**
 * Starts `distill <args>` with the given variables on top of the test's environment. Variables set to
 * undefined are removed, so a test sees the product's defaults unless it says otherwise.
 */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): CliProcess {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    after(() => {
      for (const child of running) child.kill('SIGKILL');
    });
  }
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ...env };
  for (const [key, value] of Object.entries(childEnv)) if (value === undefined) delete childEnv[key];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start distill ${args.join(' ')}`);
  running.add(child);

  let all = '';
  let err = '';
  let pending = '';
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const take = (chunk: string) => {
    all += chunk;
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        // Not a log line: kept in output() only.
      }
    }
    notify();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
    take(chunk);
  });

  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      exit = { code, signal };
      notify();
      resolve(exit);
    });
  });

  function waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) return finish(() => resolve(found));
        if (exit) {
          return finish(() => reject(new Error(`distill ${args.join(' ')} exited (${JSON.stringify(exit)}) before ${what}; output:\n${all}`)));
        }
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${what} within ${timeoutMs} ms; output:\n${all}`))), timeoutMs);
      const finish = (then: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        then();
      };
      waiters.add(check);
      check();
    });
  }

  return {
    child,
    pid: child.pid,
    output: () => all,
    stderr: () => err,
    logs: () => [...lines],
    waitForLog: (match, timeoutMs = 60_000) => waitFor(() => lines.find(match), 'matching log line', timeoutMs),
    waitForText: (pattern, timeoutMs = 60_000) => waitFor(() => all.match(pattern) ?? undefined, `output matching ${pattern}`, timeoutMs),
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** Whether any process still exists in process group `pgid` (a detached child's pid is its group id). */
export function processGroupAlive(pgid: number): boolean {
  return signalZero(-pgid);
}

export function processAlive(pid: number): boolean {
  return signalZero(pid);
}

function signalZero(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Polls `condition` until it holds; for states no event announces (another process's exit). */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: still not true after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `distill <args>` to its end with `env` on top of the test's environment; stdout and stderr apart,
 * as a script sees them. `input`, when given, is written to stdin, which is then closed.
 */
export function runCli(args: string[], env: Record<string, string>, options: { input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    if (options.input !== undefined) child.stdin.end(options.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
