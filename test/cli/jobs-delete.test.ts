/**
 * `distill jobs delete ID` as a real process against a real stack: the confirmation prompt (stdin), --yes,
 * --json, and a refusal (an active job, an unknown one) as a message and a non-zero exit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { request, waitFor } from '../support/http.js';
import { cancellableJob, QUICK_JOB } from '../support/specs.js';
import { startStack, type Stack } from '../support/stack.js';

describe('distill jobs delete', () => {
  let stack: Stack;
  let env: Record<string, string>;
  /** Runs `distill ARGS` with `input` on stdin (then closed) to its end. */
  const run = (args: string[], input = '') => runCli(args, env, { input });
  const succeeded = async () => {
    const { body } = await request(stack.url, 'POST', '/v1/jobs', QUICK_JOB);
    await waitFor(`job ${body.id} to succeed`, async () => (await request(stack.url, 'GET', `/v1/jobs/${body.id}`)).body.status === 'succeeded', 180_000, 300);
    return body.id as string;
  };
  const exists = async (id: string) => (await request(stack.url, 'GET', `/v1/jobs/${id}`)).status === 200;

  before(async () => {
    stack = await startStack({ workers: 1 });
    env = { DISTILL_URL: stack.url, DISTILL_API_KEY: stack.keys.a.key };
  });
  after(() => stack?.stop());

  test('asks first: anything but yes (or no answer at all) keeps the job and exits 1; y deletes it', async () => {
    const id = await succeeded();
    for (const input of ['n\n', '', 'maybe\n']) {
      const refused = await run(['jobs', 'delete', id], input);
      assert.equal(refused.code, 1, `answer ${JSON.stringify(input)}: ${refused.stderr}`);
      assert.match(refused.stderr, /\[y\/N\]/);
      assert.match(refused.stderr, /not deleted/);
      assert.ok(await exists(id));
    }
    const deleted = await run(['jobs', 'delete', id], 'y\n');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`^deleted ${id}\\n`));
    assert.match(deleted.stdout, /deleted models: mdl_/);
    assert.equal(await exists(id), false);
  });

  test("--yes deletes without asking; --json prints the API's answer", async () => {
    const id = await succeeded();
    const deleted = await run(['jobs', 'delete', id, '--yes', '--json']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.doesNotMatch(deleted.stderr, /\[y\/N\]/);
    const body = JSON.parse(deleted.stdout);
    assert.equal(body.id, id);
    assert.equal(body.deleted, true);
    assert.deepEqual(body.kept_models, []);
    assert.equal(await exists(id), false);
  });

  test("refusals: an active job (cancel first) and an unknown job exit 1 with the server's reason", async () => {
    const { body: active } = await request(stack.url, 'POST', '/v1/jobs', cancellableJob());
    const refused = await run(['jobs', 'delete', active.id, '--yes']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /409 \(job_active\).*cancel/);
    assert.ok(await exists(active.id));
    await request(stack.url, 'POST', `/v1/jobs/${active.id}/cancel`);
    const unknown = await run(['jobs', 'delete', 'job_00000000000000000000000000', '--yes']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /404 \(not_found\)/);
    // The listing is still `distill jobs`.
    const listed = await run(['jobs', '--limit', '5']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(active.id));
  });
});
