/**
 * A real S3 server for tests: a throwaway single-node Ceph cluster (one mon, one memstore OSD, one
 * RADOS Gateway) under a short temporary directory, on free ports, owned by the test and removed by
 * `stop()`. No keyrings (auth none), no mgr; the recipe is ../../../shared/notes/s3-rgw.md's. It comes up
 * in a few seconds. Without Ceph's Debian packages it fails with a message saying what to install.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './services.js';

const run = promisify(execFile);
const BINARIES = ['monmaptool', 'ceph-mon', 'ceph-osd', 'ceph', 'radosgw-admin', 'radosgw'];
const START_DEADLINE_MS = 90_000;

export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The environment that points our product at `bucket` here (ARTIFACT_STORE=s3 and the S3_* settings). */
  env(bucket: string, prefix?: string): Record<string, string>;
  /** Creates a bucket (names must be 3-63 lowercase letters, digits, dashes). */
  createBucket(name: string): Promise<void>;
  client(): S3Client;
  stop(): Promise<void>;
}

async function requireCeph(): Promise<void> {
  const missing: string[] = [];
  for (const bin of BINARIES) {
    await run('sh', ['-c', `command -v ${bin}`]).catch(() => missing.push(bin));
  }
  if (missing.length) {
    throw new Error(
      `the S3 tests need Ceph's RADOS Gateway, and ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not installed: ` +
        'apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common (.ci/run does this)',
    );
  }
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon_host = v2:127.0.0.1:${monPort}
mon_initial_members = a
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
run_dir = ${dir}/run
admin_socket = ${dir}/run/$name.asok
pid_file = ${dir}/run/$name.pid
log_file = ${dir}/log/$name.log
log_to_stderr = false
err_to_stderr = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_mgr_mkfs_grace = 100000000
mon_data_avail_crit = 0
mon_data_avail_warn = 0
paxos_propose_interval = 0.01
paxos_min_wait = 0.01
mon_warn_on_pool_no_redundancy = false

[mon]
mon_data = ${dir}/mon

[osd]
osd_data = ${dir}/osd
osd_objectstore = memstore
memstore_device_bytes = 2147483648
osd_max_object_size = 134217728

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw_data = ${dir}/rgw
rgw_thread_pool_size = 64
rgw_gc_obj_min_wait = 30
rgw_gc_processor_period = 30
rgw_dns_name = 127.0.0.1
`;
}

/** Starts a private radosgw and a user with its own keys; stop() kills it and removes its directory. */
export async function startS3Server(): Promise<S3Server> {
  await requireCeph();
  // Unix socket paths are limited to 107 bytes: keep the directory short.
  const dir = await mkdtemp('/tmp/rgw-');
  const conf = join(dir, 'ceph.conf');
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const children: ChildProcess[] = [];
  const log: string[] = [];
  const ceph = (bin: string, args: string[]) => run(bin, ['-c', conf, ...args], { timeout: 60_000 }).then((r) => r.stdout);
  const daemon = (bin: string, args: string[]) => {
    const child = spawn(bin, ['-f', '-c', conf, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => log.push(`[${bin}] ${chunk.toString()}`));
    children.push(child);
    return child;
  };
  const stop = async () => {
    // radosgw first, then the OSD, then the mon: an OSD gone first makes radosgw hang.
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  const accessKeyId = `ak${randomUUID().replaceAll('-', '').slice(0, 18)}`;
  const secretAccessKey = randomUUID().replaceAll('-', '') + randomUUID().replaceAll('-', '');
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  try {
    await run('mkdir', ['-p', join(dir, 'run'), join(dir, 'log'), join(dir, 'mon'), join(dir, 'osd'), join(dir, 'rgw')]);
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')]);
    await ceph('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    daemon('ceph-mon', ['-i', 'a']);
    const osdUuid = randomUUID();
    const osdId = (await ceph('ceph', ['osd', 'new', osdUuid])).trim();
    await ceph('ceph-osd', ['-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
    daemon('ceph-osd', ['-i', osdId]);
    await until('the OSD to come up', async () => (await ceph('ceph', ['osd', 'dump'])).includes(`osd.${osdId} up`));
    await ceph('radosgw-admin', ['user', 'create', '--uid', 'tests', '--display-name', 'tests', '--access-key', accessKeyId, '--secret', secretAccessKey]);
    daemon('radosgw', ['-n', 'client.rgw.a']);
    await until('radosgw to answer', async () => (await fetch(`${endpoint}/`)).status > 0);
  } catch (err) {
    await stop();
    throw new Error(`could not start radosgw under ${dir}: ${(err as Error).message}\n${log.join('').slice(-4000)}`);
  }

  const client = () =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  return {
    endpoint,
    region: 'us-east-1',
    accessKeyId,
    secretAccessKey,
    env: (bucket, prefix = '') => ({
      ARTIFACT_STORE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    }),
    async createBucket(name) {
      const s3 = client();
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        s3.destroy();
      }
    },
    client,
    stop,
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = START_DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
