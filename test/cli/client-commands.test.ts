/**
 * The CLI as a client of a running server: `distill submit/watch/jobs/cancel/models/datasets` run as real
 * processes against a real stack, judged by exit codes, stdout (what scripts read) and stderr.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, runCli, spawnCli } from '../support/cli.js';
import { request } from '../support/http.js';
import { cancellableJob, longerJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

/** A local port nothing listens on: one the OS just handed out and took back. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('distill client commands against a running server', () => {
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;
  let succeededId = '';
  const specFile = async (name: string, body: unknown) => {
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify(body));
    return path;
  };
  /** Runs `distill ARGS` to its end; stdout and stderr apart, as a script sees them. */
  const run = (args: string[], timeoutMs = 120_000) => runCli(args, env, { timeoutMs });

  before(async () => {
    stack = await startStack({ workers: 1 });
    dir = await mkdtemp(join(tmpdir(), 'distill-cli-'));
    env = { DISTILL_URL: stack.url, DISTILL_API_KEY: stack.keys.a.key };
  });
  after(async () => {
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('submit --follow shows each phase, ends with the report table and exits 0', async () => {
    const spec = await specFile('quick', { ...QUICK_JOB, distillation: { ...QUICK_JOB.distillation, baseline: true } });
    const { code, stdout, stderr } = await run(['submit', spec, '--follow']);
    assert.equal(code, 0, `exit 0; stderr:\n${stderr}`);
    succeededId = /(job_\w+) submitted/.exec(stderr)?.[1] ?? '';
    assert.ok(succeededId, 'the job id is printed first');
    for (const line of [/▸ training teacher/, /▸ distilling/, /student epoch 3\/3 · loss \d/, /▸ training baseline/, /● succeeded/]) assert.match(stderr, line);
    assert.match(stdout, /model\s+test acc\s+params\s+size\s+ms\/sample\s+compression\s+speed-up\s+agreement/);
    for (const role of ['teacher', 'student', 'baseline']) assert.match(stdout, new RegExp(`^${role}\\s+\\d+\\.\\d%`, 'm'), `${role} row`);
    assert.match(stdout, /distillation gain [+-]\d/);
    assert.match(stdout, new RegExp(`distill models download ${succeededId}`));
  });

  test('--json prints documents that parse: the new job, the finished job, the list', async () => {
    const spec = await specFile('quick-json', { ...QUICK_JOB, name: 'scripted' });
    const submitted = await run(['submit', spec, '--json']);
    assert.equal(submitted.code, 0);
    const job = JSON.parse(submitted.stdout);
    assert.match(job.id, /^job_/);
    assert.equal(job.name, 'scripted');
    assert.equal(submitted.stderr, '', 'nothing but JSON from a --json command that worked');

    const watched = await run(['watch', job.id, '--json']);
    assert.equal(watched.code, 0);
    const finished = JSON.parse(watched.stdout);
    assert.equal(finished.id, job.id);
    assert.equal(finished.status, 'succeeded');
    assert.ok(finished.result.student.test_accuracy > 0.25);

    const listed = await run(['jobs', '--json', '--limit', '5']);
    assert.equal(listed.code, 0);
    const list = JSON.parse(listed.stdout);
    assert.equal(list.object, 'list');
    assert.ok(list.data.some((j: { id: string }) => j.id === job.id));

    const table = await run(['jobs', '--status', 'succeeded']);
    assert.match(table.stdout, /^ID\s+NAME\s+STATUS\s+PHASE\s+PROGRESS\s+STUDENT ACC\s+AGE/);
    assert.match(table.stdout, new RegExp(`${job.id}\\s+scripted\\s+succeeded`));
  });

  test('a job that fails exits non-zero and says why', async () => {
    // One second of budget for hundreds of epochs: the worker ends it as failed (timeout).
    const spec = await specFile('too-long', { ...longerJob(150), max_runtime_seconds: 1 });
    const { code, stderr } = await run(['submit', spec, '--follow']);
    assert.equal(code, 1, `exit 1; stderr:\n${stderr}`);
    assert.match(stderr, /failed: .*max_runtime_seconds.* \(timeout\)/);
  });

  test("a spec the server refuses exits 2 with the problem's detail and each field", async () => {
    const spec = await specFile('bad', { ...QUICK_JOB, distillation: { alpha: 1.5 } });
    const { code, stdout, stderr } = await run(['submit', spec]);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /error: the server answered 400 \(invalid_request\): \/distillation\/alpha: must be <= 1/);
    assert.match(stderr, /^ {2}\/distillation\/alpha: must be <= 1$/m);
    const missing = await run(['submit', join(dir, 'no-such-file.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*no-such-file\.json/);
  });

  test('cancel stops a running job; watch then exits 3', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', { ...cancellableJob(), name: 'cancel-me' });
    const watch = spawnCli(['watch', created.body.id], env);
    await watch.waitForText(/student epoch|teacher epoch \d/, 60_000);
    const cancelled = await run(['cancel', created.body.id, '--json']);
    assert.equal(cancelled.code, 0);
    assert.ok(['cancelling', 'cancelled'].includes(JSON.parse(cancelled.stdout).status));
    const exit = await watch.exited;
    assert.equal(exit.code, 3, `watch exits 3 for a cancelled job; output:\n${watch.output()}`);
    assert.match(watch.stderr(), /cancelled/);
    const unknown = await run(['cancel', 'job_doesnotexist']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404 \(not_found\): job job_doesnotexist does not exist/);
  });

  test("models download writes the student, checked against the server's sha256", async () => {
    const out = join(dir, 'student');
    const { code, stdout } = await run(['models', 'download', succeededId, '--out', out, '--json']);
    assert.equal(code, 0);
    const result = JSON.parse(stdout);
    assert.equal(result.model, 'student');
    const artifacts = (await request(stack.url, 'GET', `/v1/jobs/${succeededId}/artifacts`)).body.data as Array<{ kind: string; file: string; bytes: number }>;
    for (const file of ['model.json', 'weights.bin']) {
      const listed = artifacts.find((a) => a.kind === 'student' && a.file === file)!;
      assert.equal((await stat(join(out, file))).size, listed.bytes);
    }
    assert.ok(JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).weightsManifest);
    const baseline = await run(['models', 'download', succeededId, '--out', join(dir, 'baseline'), '--model', 'baseline']);
    assert.equal(baseline.code, 0);
    assert.match(baseline.stdout, /weights\.bin/);
    // The job's student is also a model resource (mdl_…): listed by job, downloaded by id.
    const models = JSON.parse((await run(['models', 'list', '--job', succeededId, '--json'])).stdout).data as Array<{ id: string; role: string }>;
    const student = models.find((m) => m.role === 'student');
    assert.ok(student, `the student is registered: ${JSON.stringify(models)}`);
    const byId = await run(['models', 'download', student.id, '--out', join(dir, 'by-id')]);
    assert.equal(byId.code, 0, byId.stderr);
    assert.deepEqual(await readFile(join(dir, 'by-id', 'weights.bin')), await readFile(join(out, 'weights.bin')));
  });

  test('models download --format onnx / --quantize: exported after the fact, loadable in onnxruntime and tfjs', async () => {
    const onnxOut = join(dir, 'onnx');
    const onnx = await run(['models', 'download', succeededId, '--out', onnxOut, '--format', 'onnx']);
    assert.equal(onnx.code, 0, onnx.stderr);
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(await readFile(join(onnxOut, 'model.onnx')));
    assert.deepEqual([session.inputNames, session.outputNames], [['input'], ['output']]);
    await session.release();
    const uint8 = await run(['models', 'download', succeededId, '--out', join(dir, 'uint8'), '--quantize', 'uint8', '--json']);
    assert.equal(uint8.code, 0, uint8.stderr);
    const manifest = JSON.parse(await readFile(join(dir, 'uint8', 'model.json'), 'utf8')).weightsManifest[0].weights as Array<{
      quantization?: { dtype: string };
    }>;
    assert.ok(manifest.every((w) => w.quantization?.dtype === 'uint8'));
    const bad = await run(['models', 'download', succeededId, '--out', onnxOut, '--format', 'tflite']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format must be one of tfjs, onnx/);
  });

  test('connection settings: the key and URL from flags or the environment; clear errors without them', async () => {
    const noKey = await run(['jobs', '--key', '']);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /401 \(unauthorized\): an API key is required/);
    assert.match(noKey.stderr, /--key or DISTILL_API_KEY/);
    const otherTenant = await run(['jobs', '--json', '--key', stack.keys.b.key]);
    assert.equal(otherTenant.code, 0);
    assert.deepEqual(JSON.parse(otherTenant.stdout).data, [], "a flag beats the environment: tenant b sees none of a's jobs");
    const port = await closedPort();
    const down = await run(['jobs', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });

  test('datasets upload takes the CSV example; a job trains on it; list and delete', async () => {
    const csv = join(REPO_ROOT, 'examples', 'digits-7x7.csv');
    const uploaded = await run(['datasets', 'upload', csv, '--name', 'digits 7x7', '--json']);
    assert.equal(uploaded.code, 0, uploaded.stderr);
    const dataset = JSON.parse(uploaded.stdout);
    assert.match(dataset.id, /^ds_/);
    assert.equal(dataset.status, 'ready');
    assert.deepEqual([dataset.format, dataset.num_classes, dataset.input_shape], ['csv', 10, [49]]);

    const example = JSON.parse(await readFile(join(REPO_ROOT, 'examples', 'csv-digits.json'), 'utf8'));
    const spec = await specFile('csv-job', {
      ...example,
      dataset: { ...example.dataset, source: dataset.id },
      teacher: { ...example.teacher, training: { epochs: 3 } },
      student: { ...example.student, training: { epochs: 3 } },
    });
    const job = await run(['submit', spec, '--follow']);
    assert.equal(job.code, 0, job.stderr);
    assert.match(job.stdout, new RegExp(`dataset ${dataset.id}: 720 train / 80 validation / 200 test`));

    const listed = JSON.parse((await run(['datasets', 'list', '--json'])).stdout);
    assert.deepEqual(
      listed.data.slice(0, 2).map((d: { id: string }) => d.id),
      ['builtin:mnist', 'builtin:synthetic'],
    );
    assert.ok(listed.data.some((d: { id: string }) => d.id === dataset.id));
    const deleted = await run(['datasets', 'delete', dataset.id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const unknown = await run(['datasets', 'upload', join(dir, 'quick.json')]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /cannot tell what .*quick\.json is/);
  });
});
