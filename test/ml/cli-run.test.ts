// `distill run`: one job in-process from a spec file, report on stdout, models on disk, clear
// failures. Runs the command in a child process, as a user would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tinySpec } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'distill-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The lead wires registerRunCommand into src/cli/main.ts; this harness builds the same program.
const harness = `
import { Command } from 'commander';
import { registerRunCommand } from './src/cli/commands/run.ts';
const program = new Command('distill');
registerRunCommand(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;
function distillRun(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', harness, 'run', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function specFile(name: string, body: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

describe('distill run', () => {
  it('runs a job from a spec file, prints the JSON report and writes the models', () => {
    const out = join(dir, 'out');
    const spec = specFile('job.json', { name: 'ignored by the engine', metadata: { team: 'x' }, ...tinySpec(), seed: 3 });
    const r = distillRun(spec, '--out', out, '--json', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.backend, 'wasm');
    assert.ok(report.student.test_accuracy > 0.25);
    assert.match(r.stderr, /▸ distilling/);
    assert.match(r.stderr, /student epoch 2\/2/);
    for (const role of ['teacher', 'student', 'baseline']) {
      assert.ok(existsSync(join(out, role, 'weights.bin')), `${role}/weights.bin`);
      const modelJson = JSON.parse(readFileSync(join(out, role, 'model.json'), 'utf8'));
      assert.equal(modelJson.format, 'layers-model');
    }
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')), report);

    // The written teacher can be given to the next job, as a file.
    const given = specFile('given.json', {
      ...tinySpec({ distillation: { baseline: false } }),
      teacher: { model_id: `file:${join(out, 'teacher')}` },
      seed: 3,
    });
    const second = distillRun(given, '--backend', 'wasm');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^model +test acc/m);
    assert.match(second.stdout, /teacher–student agreement/);
  });

  it('takes an ONNX teacher as file:MODEL.onnx with its declared input; a bad declaration or hint transfer exits 2 naming it', () => {
    const fixture = JSON.parse(readFileSync(join(root, 'test/fixtures/onnx/mnist-cnn.json'), 'utf8'));
    const onnx = `file:${join(root, 'test/fixtures/onnx/mnist-cnn.onnx')}`;
    const job = (teacher: string, distillation: object = { baseline: false }) =>
      specFile('onnx.json', {
        dataset: { source: 'builtin:mnist', limit: { train: 100 } },
        teacher: { model_id: teacher },
        student: { model: { preset: 'mlp-tiny', input_shape: [14, 14, 1] }, training: { epochs: 2, batch_size: 32 } },
        distillation,
        seed: fixture.seed,
      });
    const r = distillRun(job(`${onnx}?layout=nchw&mean=${fixture.mean[0]}&std=${fixture.std[0]}`), '--json', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.teacher.origin, 'given');
    assert.ok(
      Math.abs(report.teacher.test_accuracy - fixture.test_accuracy) <= 0.001,
      `teacher ${report.teacher.test_accuracy}: what the export script printed`,
    );

    for (const [query, named] of [
      ['layout=chw', /layout must be nchw or nhwc/],
      ['std=0', /std must be positive numbers/],
      ['colour=rgb', /unknown field colour/],
    ] as const) {
      const bad = distillRun(job(`${onnx}?${query}`), '--backend', 'wasm');
      assert.equal(bad.code, 2, `${query}: ${bad.stderr}`);
      assert.match(bad.stderr, named);
    }
    const missing = distillRun(job('file:/nonexistent/model.onnx'), '--backend', 'wasm');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the teacher model \/nonexistent\/model\.onnx/);
    const hint = distillRun(job(onnx, { method: ['logits', 'hint'], hint: { pairs: [{ student: 'hidden', teacher: 'conv1' }] } }), '--backend', 'wasm');
    assert.equal(hint.code, 2, hint.stderr);
    assert.match(hint.stderr, /\/distillation\/hint\/pairs\/0\/teacher: hint transfer needs a tfjs teacher/);
  });

  it('exits non-zero naming the field of a bad spec', () => {
    const bad = specFile('bad.json', tinySpec({ distillation: { alpha: 2 } }));
    const r = distillRun(bad, '--backend', 'wasm');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\/distillation\/alpha/);
    const missing = distillRun(join(dir, 'nope.json'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the spec/);
  });
});
