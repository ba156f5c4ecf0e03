/**
 * The Docker engine and docker-compose as the container test drives them: real commands, their output kept for
 * when something fails. Debian's docker CLI (/usr/bin/docker, BuildKit without a buildx plugin) and docker-compose
 * 1.29 building through it, as .ci/run sets up; DOCKER / DOCKER_COMPOSE override them.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';
export const COMPOSE = process.env.DOCKER_COMPOSE ?? 'docker-compose';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to its end (or kills it at the deadline) and returns what it printed. */
export function run(command: string, args: string[], options: { env?: Record<string, string>; deadlineMs: number; echo?: boolean }): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (options.echo) process.stderr.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.echo) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      if (code === null) stderr += `\n(killed after ${options.deadlineMs} ms, the deadline)`;
      resolve({ code, stdout, stderr, seconds });
    });
  });
}

/** Like run, but a non-zero exit throws with the command's output. */
export async function runOk(command: string, args: string[], options: { env?: Record<string, string>; deadlineMs: number; echo?: boolean }): Promise<Run> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return result;
}

/** A TCP port nothing listens on now (to publish the API on: 8080 may be taken on a developer's machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A compose project of its own: a unique name (so its volumes and network are its own), its environment. */
export class ComposeProject {
  constructor(
    readonly name: string,
    readonly env: Record<string, string>,
  ) {}

  private get fullEnv(): Record<string, string> {
    return {
      ...this.env,
      COMPOSE_PROJECT_NAME: this.name,
      // docker-compose 1.29 builds through the docker CLI (BuildKit: only the stages a target needs).
      COMPOSE_DOCKER_CLI_BUILD: '1',
      DOCKER_BUILDKIT: '1',
      PATH: `/usr/bin:${process.env.PATH ?? ''}`,
    };
  }

  compose(args: string[], deadlineMs: number, echo = false): Promise<Run> {
    return runOk(COMPOSE, ['-f', 'docker-compose.yml', ...args], { env: this.fullEnv, deadlineMs, echo });
  }

  /** Ids of the project's containers of one service (stopped ones too), oldest first. */
  async containers(service?: string): Promise<string[]> {
    const filters = ['--filter', `label=com.docker.compose.project=${this.name}`];
    if (service) filters.push('--filter', `label=com.docker.compose.service=${service}`);
    const out = await runOk(DOCKER, ['ps', '-a', '-q', '--no-trunc', ...filters], { deadlineMs: 30_000 });
    return out.stdout.split('\n').filter(Boolean).reverse();
  }

  async inspect<T>(id: string, format: string): Promise<T> {
    const out = await runOk(DOCKER, ['inspect', '--format', `{{json ${format}}}`, id], { deadlineMs: 30_000 });
    return JSON.parse(out.stdout) as T;
  }

  /** The JSON log lines a container printed (the services log JSON when not on a terminal). */
  async jsonLogs(id: string): Promise<Record<string, unknown>[]> {
    const out = await run(DOCKER, ['logs', id], { deadlineMs: 30_000 });
    return `${out.stdout}\n${out.stderr}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  /** What remains of the project: containers, volumes and networks carrying its label. */
  async leftovers(): Promise<string[]> {
    const label = `label=com.docker.compose.project=${this.name}`;
    const found: string[] = [];
    for (const [kind, args] of [
      ['container', ['ps', '-a', '-q', '--filter', label]],
      ['volume', ['volume', 'ls', '-q', '--filter', label]],
      ['network', ['network', 'ls', '-q', '--filter', label]],
    ] as const) {
      const out = await runOk(DOCKER, [...args], { deadlineMs: 30_000 });
      found.push(
        ...out.stdout
          .split('\n')
          .filter(Boolean)
          .map((id) => `${kind} ${id}`),
      );
    }
    return found;
  }
}
