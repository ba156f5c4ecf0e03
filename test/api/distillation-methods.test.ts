import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { followJob, request } from '../support/http.js';
import { startStack, type Stack } from '../support/stack.js';

// 8×8 one-channel synthetic images, 4 classes: convolutional teachers and student with named layers.
const conv = (name: string, filters: number) => ({ type: 'conv2d', name, filters, kernel_size: 3, padding: 'same', activation: 'relu' });
const teacher = (name: string, filters: number) => ({
  model: {
    layers: [
      conv(name, filters),
      { type: 'maxPooling2d' },
      { type: 'flatten' },
      { type: 'dense', name: `${name}_hidden`, units: 16, activation: 'relu' },
      { type: 'dense', units: 4 },
    ],
  },
  training: { epochs: 2, batch_size: 32, learning_rate: 0.01 },
});
const JOB = {
  name: 'beyond logits',
  dataset: { source: 'builtin:synthetic', options: { samples: 400, shape: [8, 8, 1], classes: 4 } },
  teachers: [teacher('tconv', 8), teacher('wide', 6)],
  student: {
    model: { layers: [conv('sconv', 4), { type: 'maxPooling2d' }, { type: 'flatten' }, { type: 'dense', units: 4 }] },
    training: { epochs: 3, batch_size: 32, learning_rate: 0.01 },
  },
  distillation: {
    method: ['logits', 'hint', 'attention'],
    temperature: { from: 6, to: 2 },
    teacher_weights: [1, 2],
    hint: { pairs: [{ student: 'sconv', teacher: 'wide', teacher_index: 1 }] },
    attention: { pairs: [{ student: 'sconv', teacher: 'tconv' }] },
  },
  seed: 3,
};

describe('distillation methods over HTTP', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ workers: 1 });
  });
  after(() => stack.stop());

  const refusals: Array<[string, Record<string, unknown>, string, RegExp]> = [
    [
      'a teacher layer that does not exist',
      { ...JOB, distillation: { ...JOB.distillation, attention: { pairs: [{ student: 'sconv', teacher: 'conv9' }] } } },
      '/distillation/attention/pairs/0/teacher',
      /teacher 0 has no layer named 'conv9'/,
    ],
    [
      'a student layer that does not exist',
      { ...JOB, distillation: { ...JOB.distillation, hint: { pairs: [{ student: 'nope', teacher: 'wide', teacher_index: 1 }] } } },
      '/distillation/hint/pairs/0/student',
      /the student has no layer named 'nope'/,
    ],
    // A default layer name (<role>_<index>_<type>): the 4×4 pooled map cannot be projected from an 8×8 one by a 1×1 convolution.
    [
      'a hint that cannot be projected',
      { ...JOB, distillation: { ...JOB.distillation, hint: { pairs: [{ student: 'sconv', teacher: 'teacher_1_maxPooling2d', teacher_index: 1 }] } } },
      '/distillation/hint/pairs/0/student',
      /cannot be projected onto teacher 1's layer 'teacher_1_maxPooling2d': feature maps \[8,8,4\] and \[4,4,6\] differ/,
    ],
    [
      'attention on a dense layer',
      { ...JOB, distillation: { ...JOB.distillation, attention: { pairs: [{ student: 'sconv', teacher: 'tconv_hidden' }] } } },
      '/distillation/attention/pairs/0/teacher',
      /needs a feature map/,
    ],
    [
      'a pair naming a missing teacher',
      { ...JOB, distillation: { ...JOB.distillation, hint: { pairs: [{ student: 'sconv', teacher: 'wide', teacher_index: 2 }] } } },
      '/distillation/hint/pairs/0/teacher_index',
      /the job has 2 teachers/,
    ],
    [
      'a teacher of another output size',
      { ...JOB, teachers: [JOB.teachers[0], { ...JOB.teachers[1], model: { layers: [{ type: 'flatten' }, { type: 'dense', units: 5 }] } }] },
      '/teachers/1/model/layers/1/units',
      /outputs 5 values but the dataset has 4 classes/,
    ],
  ];
  for (const [what, body, field, message] of refusals) {
    test(`${what} is a 400 naming the field and the layer`, async () => {
      const response = await request(stack.url, 'POST', '/v1/jobs', body);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'invalid_request');
      const first = response.body.errors[0] as { field: string; message: string };
      assert.equal(first.field, field, JSON.stringify(response.body.errors));
      assert.match(first.message, message);
      assert.ok(response.body.detail.includes(field));
    });
  }

  test('several teachers, hints, attention and a schedule run to the end; events and report carry each term', async () => {
    const created = await request(stack.url, 'POST', '/v1/jobs', JOB);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const ws = await followJob(stack.wsUrl, created.body.id);
    await ws.closed;
    assert.equal(ws.events.at(-1)!.data.status, 'succeeded', JSON.stringify(ws.events.at(-1)));
    const metrics = ws.events.filter((e) => e.type === 'metrics' && e.data.phase === 'distilling');
    assert.ok(
      metrics.length > 0 && metrics.every((m) => ['ce', 'kd', 'hint', 'attention', 'temperature'].every((k) => typeof m.data[k] === 'number')),
      JSON.stringify(metrics[0]),
    );
    const job = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}`)).body;
    const d = job.result.distillation;
    assert.deepEqual(
      d.history.map((e: { temperature: number }) => e.temperature),
      [6, 4, 2],
    );
    assert.ok(d.history.every((e: Record<string, number>) => e.hint! >= 0 && e.attention! >= 0 && e.kd! >= 0));
    assert.equal(job.result.teachers.length, 2);
    assert.ok(job.result.student.test_accuracy > 0.5, `student ${job.result.student.test_accuracy} (chance 0.25)`);

    // Both teachers were trained here: both are kept, downloadable and registered as models.
    const artifacts = (await request(stack.url, 'GET', `/v1/jobs/${created.body.id}/artifacts`)).body.data as Array<{
      kind: string;
      file: string;
      url: string;
    }>;
    assert.deepEqual([...new Set(artifacts.map((a) => a.kind))].sort(), ['report', 'student', 'teacher', 'teacher1']);
    const second = await fetch(`${stack.url}/v1/jobs/${created.body.id}/artifacts/teacher1/model.json`, {
      headers: { authorization: `Bearer ${stack.keys.a.key}` },
    });
    assert.equal(second.status, 200);
    assert.match(JSON.stringify(await second.json()), /wide_hidden/, "the second teacher's own layers");
    const models = (await request(stack.url, 'GET', '/v1/models')).body.data as Array<{ role: string; source_job: string; parameters: number }>;
    const mine = models.filter((m) => m.source_job === created.body.id);
    assert.deepEqual(mine.map((m) => m.role).sort(), ['student', 'teacher', 'teacher1']);
    assert.notEqual(mine.find((m) => m.role === 'teacher')!.parameters, mine.find((m) => m.role === 'teacher1')!.parameters, 'two different teachers');
  });
});
