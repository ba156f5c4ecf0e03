/**
 * Hosts that share no disk, on one machine: each host is a `distill` process with a fresh temporary
 * directory of its own as its cwd, TMPDIR and HOME. As root, each host also gets its own network
 * namespace (a veth pair on a private bridge, 10.231.N.0/24, used only between these namespaces) and
 * its own uid, owner of its directory with mode 0700, so no other host can write there. Postgres, Redis
 * and the S3 server stay on the machine's loopback; the test process forwards a port on the bridge to
 * each of them. Without root, or where namespaces cannot be made, hosts fall back to plain processes
 * (still separate directories), and `mode`/`reason` say so; TEST_HOSTS=processes asks for that fallback.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { REPO_ROOT } from './cli.js';

const run = promisify(execFile);
const TSX = import.meta.resolve('tsx');
const MAIN = join(REPO_ROOT, 'src/cli/main.ts');
/** Uids handed to hosts: above 65535, clear of Debian's system and human users and of nobody (65534). */
const UID_BASE = 200_000;

export interface HostProcess {
  name: string;
  /** The host's own directory (cwd, TMPDIR, HOME). */
  dir: string;
  /** The uid it runs as (netns mode), else undefined (it runs as the test's user). */
  uid: number | undefined;
  address: string;
  child: ChildProcess;
  pid: number;
  logs: Record<string, unknown>[];
  output(): string;
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface HostNetwork {
  mode: 'netns' | 'processes';
  /** Why it fell back to plain processes (netns setup failed, or not root). */
  reason: string | undefined;
  /** Whether each host runs as a uid of its own (netns mode, where that uid can read the checkout). */
  ownUids: boolean;
  /** The address hosts reach the machine's services on (through `forward`). */
  serviceAddress: string;
  /** A port on `serviceAddress` that forwards to `targetPort` on the machine's loopback. */
  forward(targetPort: number): Promise<number>;
  /** Starts `distill <args>` as host `name` with `env` (plus its own TMPDIR and HOME). */
  start(name: string, args: string[], env: Record<string, string>): Promise<HostProcess>;
  hosts: HostProcess[];
  /** Kills every host, closes the forwards, removes the namespaces and the bridge; keeps the directories. */
  stop(): Promise<void>;
  /** Removes the hosts' directories. */
  removeDirs(): Promise<void>;
}

interface Plumbing {
  serviceAddress: string;
  namespaces: Map<string, { ns: string; address: string }>;
  teardown(): Promise<void>;
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

/** A /24 in 10.231.0.0/16 that no interface on the machine uses. */
async function freeSubnet(): Promise<number> {
  const { stdout } = await run('ip', ['-4', '-o', 'addr']);
  for (let tries = 0; tries < 50; tries++) {
    const n = 1 + Math.floor(Math.random() * 254);
    if (!stdout.includes(`10.231.${n}.`)) return n;
  }
  throw new Error('no free 10.231.N.0/24 subnet');
}

async function makeNamespaces(names: string[]): Promise<Plumbing> {
  const id = randomBytes(2).toString('hex');
  const bridge = `dsb${id}`;
  const made: string[] = [];
  let bridgeMade = false;
  // A test file that ends without its `after` hook (process.exit) still removes what it made.
  const onExit = () => {
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    if (bridgeMade) spawnSync('ip', ['link', 'del', bridge]);
  };
  process.once('exit', onExit);
  const teardown = async () => {
    process.off('exit', onExit);
    for (const ns of made) await ip('netns', 'del', ns).catch(() => {});
    if (bridgeMade) await ip('link', 'del', bridge).catch(() => {});
    made.length = 0;
    bridgeMade = false;
  };
  try {
    const subnet = await freeSubnet();
    const serviceAddress = `10.231.${subnet}.1`;
    await ip('link', 'add', bridge, 'type', 'bridge');
    bridgeMade = true;
    await ip('addr', 'add', `${serviceAddress}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    const namespaces = new Map<string, { ns: string; address: string }>();
    for (const [i, name] of names.entries()) {
      const ns = `distill-${id}-${name}`;
      const outside = `dsv${id}${i}`;
      const inside = `dsp${id}${i}`;
      const address = `10.231.${subnet}.${10 + i}`;
      await ip('netns', 'add', ns);
      made.push(ns);
      // Made inside the namespace, so deleting the namespace removes both ends.
      await ip('-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', outside);
      await ip('-n', ns, 'link', 'set', outside, 'netns', '1');
      await ip('link', 'set', outside, 'master', bridge);
      await ip('link', 'set', outside, 'up');
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inside);
      await ip('-n', ns, 'link', 'set', inside, 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      namespaces.set(name, { ns, address });
    }
    return { serviceAddress, namespaces, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/** A TCP forward in this process: connections to `host:<port>` go on to 127.0.0.1:targetPort. */
function tcpForward(host: string, targetPort: number, sockets: Set<Socket>): Promise<{ server: Server; port: number }> {
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

/**
 * Whether an unprivileged uid can read the checkout and its modules (a checkout under a 0700 home
 * cannot be): if not, hosts keep root's uid and only their namespaces and directories separate them.
 */
async function checkoutReadableBy(uid: number): Promise<boolean> {
  const paths = [MAIN, fileURLToPath(TSX), join(REPO_ROOT, 'src/db/generated'), join(REPO_ROOT, 'node_modules/@tensorflow/tfjs/package.json')];
  const probe = `const fs = require('node:fs'); for (const p of ${JSON.stringify(paths)}) fs.accessSync(p, fs.constants.R_OK);`;
  try {
    await run('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', process.execPath, '-e', probe], { cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

export async function createHostNetwork(names: string[]): Promise<HostNetwork> {
  let plumbing: Plumbing | undefined;
  let reason: string | undefined;
  let ownUids = false;
  if (process.env.TEST_HOSTS === 'processes') reason = 'TEST_HOSTS=processes';
  else if (process.getuid?.() !== 0) reason = 'not root: network namespaces need CAP_NET_ADMIN';
  else {
    try {
      plumbing = await makeNamespaces(names);
      ownUids = await checkoutReadableBy(UID_BASE);
    } catch (err) {
      reason = `network namespaces could not be made: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  const serviceAddress = plumbing?.serviceAddress ?? '127.0.0.1';
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const hosts: HostProcess[] = [];
  // One block of ten uids per network: two test runs side by side are unlikely to share one.
  const uidBlock = UID_BASE + Math.floor(Math.random() * 100_000) * 10;
  let started = 0;

  const network: HostNetwork = {
    mode: plumbing ? 'netns' : 'processes',
    reason,
    ownUids,
    serviceAddress,
    hosts,
    async forward(targetPort) {
      if (!plumbing) return targetPort;
      const { server, port } = await tcpForward(serviceAddress, targetPort, sockets);
      servers.push(server);
      return port;
    },
    async start(name, args, env) {
      // Counted before the first await: hosts started side by side each get their own uid.
      const index = started++;
      const dir = await mkdtemp(join(tmpdir(), `distill-host-${name}-`));
      const place = plumbing?.namespaces.get(name);
      if (plumbing && !place) throw new Error(`no namespace made for host ${name}`);
      let uid: number | undefined;
      let command = process.execPath;
      let argv = ['--import', TSX, MAIN, ...args];
      if (place && ownUids) {
        uid = uidBlock + index;
        await chown(dir, uid, uid);
        await chmod(dir, 0o700);
        argv = ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', process.execPath, ...argv];
      } else if (place) argv = [process.execPath, ...argv];
      if (place) {
        command = 'ip';
        argv = ['netns', 'exec', place.ns, ...argv];
      }
      const childEnv: NodeJS.ProcessEnv = {
        ...process.env,
        LOG_LEVEL: 'info',
        ...env,
        TMPDIR: dir,
        HOME: dir,
        TSX_TSCONFIG_PATH: join(REPO_ROOT, 'tsconfig.json'),
      };
      // Nothing of the test's own artifact settings leaks into a host.
      if (env.ARTIFACT_DIR === undefined) delete childEnv.ARTIFACT_DIR;
      const child = spawn(command, argv, { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      if (child.pid === undefined) throw new Error(`could not start host ${name}`);
      const host = watch(name, dir, uid, place?.address ?? '127.0.0.1', child, child.pid);
      hosts.push(host);
      return host;
    },
    async stop() {
      await Promise.all(
        hosts.map(async (h) => {
          if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
          await h.exited;
        }),
      );
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      await plumbing?.teardown();
    },
    async removeDirs() {
      await Promise.all(hosts.map((h) => rm(h.dir, { recursive: true, force: true })));
    },
  };
  return network;
}

function watch(name: string, dir: string, uid: number | undefined, address: string, child: ChildProcess, pid: number): HostProcess {
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let all = '';
  let pending = '';
  let ended = false;
  const take = (chunk: Buffer) => {
    const text = chunk.toString();
    all += text;
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      if (process.env.TEST_HOST_LOG) process.stderr.write(`[${name}] ${part}\n`);
      if (!part.startsWith('{')) continue;
      try {
        logs.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        // kept in output() only
      }
    }
    for (const w of waiters) w();
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      ended = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  return {
    name,
    dir,
    uid,
    address,
    child,
    pid,
    logs,
    output: () => all,
    exited,
    waitForLog(match, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        const check = () => {
          const found = logs.find(match);
          if (found) return finish(() => resolve(found));
          if (ended) finish(() => reject(new Error(`host ${name} exited before the log line; output:\n${all.slice(-4000)}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`host ${name}: no matching log line within ${timeoutMs} ms; output:\n${all.slice(-4000)}`))),
          timeoutMs,
        );
        waiters.add(check);
        check();
      });
    },
  };
}
