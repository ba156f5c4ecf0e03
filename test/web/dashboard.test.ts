/**
 * The dashboard in a real browser: playwright-core driving Debian's Chromium (installed by .ci/run)
 * against a real stack. Screenshots go to test-output/dashboard/ for people to look at.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '../support/cli.js';
import { request } from '../support/http.js';
import { cancellableJob } from '../support/specs.js';
import { MNIST_CNN, mnistCnnBytes } from '../support/onnx-fixture.js';
import { startStack, type Stack } from '../support/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The flags that work on these machines: no sandbox as root, and no background traffic to a closed network.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = join(REPO_ROOT, 'test-output', 'dashboard');
// What one step of the page (a request, a render) may take on a loaded machine: the browser, the API and
// a training worker share two cores with whatever else runs. Waits on training name their own deadline.
const PAGE_STEP_MS = 90_000;
// Developers without Chromium skip the browser tests; CI installs it, so there a missing browser fails.
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `no Chromium at ${CHROMIUM} (apt-get install chromium)` : false;

describe('the dashboard', () => {
  let stack: Stack;
  before(async () => {
    // Build from the sources under test: dist/web may be older than web/src.
    const build = spawnSync(process.execPath, ['web/build.mjs'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `web build failed:\n${build.stdout}${build.stderr}`);
    stack = await startStack({ workers: 1 });
  });
  after(() => stack?.stop());

  test('is served at / with a strict content security policy, its assets cached for good', async () => {
    const page = await fetch(`${stack.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    const html = await page.text();
    const script = /src="(\/assets\/app-[\w-]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'index.html names the hashed bundle');
    const asset = await fetch(`${stack.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type')!, /javascript/);
    assert.match(asset.headers.get('cache-control')!, /immutable/);
    const missing = await fetch(`${stack.url}/assets/nope.js`);
    assert.equal(missing.status, 404);
    const api404 = await request(stack.url, 'GET', '/v1/no-such-route');
    assert.equal(api404.body.code, 'route_not_found', 'the API keeps its problem+json 404s');
  });

  describe('in Chromium', { skip }, () => {
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];
    before(async () => {
      await mkdir(SHOTS, { recursive: true });
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
      context.setDefaultTimeout(PAGE_STEP_MS);
      page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
    });
    after(async () => {
      await browser?.close();
      assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
    });
    const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    const statusOf = () => page.locator('.job-head [data-status]').getAttribute('data-status');
    let jobId = '';

    /** Asserts that the element at `target` is the same node after `moving` changed twice (its markup, or `attribute`). */
    async function staysPutWhile(target: string, moving: string, attribute = ''): Promise<void> {
      // A string, not a function: the test runner's transform would name inner functions with a helper the page lacks.
      const [t, m, a] = [target, moving, attribute].map((v) => JSON.stringify(v));
      await page.evaluate(`{
        const read = () => { const el = document.querySelector(${m}); return ${a} ? el?.getAttribute(${a}) : el?.innerHTML; };
        window.held = document.querySelector(${t});
        window.changes = 0;
        let last = read();
        const watch = () => { const now = read(); if (now !== last) { last = now; window.changes++; } if (window.changes < 2) setTimeout(watch, 10); };
        watch();
      }`);
      await page.waitForFunction(() => (window as unknown as { changes: number }).changes >= 2, undefined, { timeout: 120_000 });
      const held = await page.evaluate((t) => {
        const w = window as unknown as { held: Element };
        return { connected: w.held.isConnected, same: document.querySelector(t) === w.held };
      }, target);
      assert.deepEqual(held, { connected: true, same: true }, `${target} was rebuilt while ${moving} changed`);
    }

    test('asks for the API key once and keeps it for the tab (each tab its own)', async () => {
      await page.goto(`${stack.url}/`);
      await page
        .locator('.note-warn')
        .filter({ hasText: /needs an API key/ })
        .waitFor();
      assert.ok(await page.locator('.key-panel').isVisible(), 'the key field opens by itself');
      await shot('api-key-needed');
      await page.fill('[data-testid=api-key-input]', stack.keys.a.key);
      await page.keyboard.press('Enter');
      await page.locator('[data-testid=jobs-table]').waitFor();
      assert.match(await page.locator('[data-testid=api-key-button]').innerText(), /key set/i);
      await page.reload();
      await page.locator('[data-testid=jobs-table]').waitFor();
      assert.equal(await page.locator('.note-warn').count(), 0, 'a reload keeps the key');
      const other = await page.context().newPage();
      await other.goto(`${stack.url}/`);
      await other
        .locator('.note-warn')
        .filter({ hasText: /needs an API key/ })
        .waitFor();
      await other.close();
    });

    test("the submit form shows the API's validation errors next to the fields", async () => {
      await page.goto(`${stack.url}/#/new`);
      await page.fill('#f-alpha', '1.5');
      await page.fill('#f-teacher-epochs', '0');
      await page.click('[data-testid=submit-job]');
      await page.locator('[data-error-for=alpha]').filter({ hasText: /\S/ }).waitFor();
      assert.match(await page.locator('[data-error-for=alpha]').innerText(), /1/, 'α: the limit is named');
      assert.match(await page.locator('[data-error-for=teacher-epochs]').innerText(), /\S/, 'teacher epochs: an error too');
      assert.equal(await page.getAttribute('#f-alpha', 'aria-invalid'), 'true');
      assert.equal(await page.locator('[data-error-for=temperature]').innerText(), '', 'a valid field stays clean');
      assert.match(await page.locator('[data-testid=submit-error]').innerText(), /refused/);
      assert.match(page.url(), /#\/new$/, 'no job was created');
      await shot('submit-form-errors');
    });

    test('a job submitted from the form trains live: the loss chart gains points, the status reaches succeeded', async () => {
      // Real digits, a small transfer set; the student reads 14×14 images (the form's input shape).
      await page.fill('#f-name', 'from-the-browser');
      await page.selectOption('#f-dataset', 'builtin:mnist');
      await page.fill('#f-samples', '2000');
      await page.selectOption('#f-teacher-preset', 'mlp-tiny');
      await page.fill('#f-teacher-epochs', '4');
      await page.fill('#f-teacher-lr', '0.005');
      await page.selectOption('#f-student-preset', 'mlp-tiny');
      await page.fill('#f-student-shape', '14,14,1');
      await page.fill('#f-student-epochs', '4');
      await page.fill('#f-student-lr', '0.005');
      await page.fill('#f-alpha', '0.7');
      await page.check('#f-export-onnx');
      await page.click('[data-testid=submit-job]');
      await page.waitForURL(/#\/jobs\/job_/);
      jobId = /#\/jobs\/(job_\w+)/.exec(page.url())![1]!;
      // Record the chart's point count as the page sees it, from now until the job ends.
      await page.evaluate(() => {
        const seen: number[] = ((window as unknown as { pointsSeen: number[] }).pointsSeen = []);
        const timer = setInterval(() => {
          const points = Number(document.querySelector('[data-testid=loss-chart]')?.getAttribute('data-points') ?? 0);
          if (points !== seen.at(-1)) seen.push(points);
          if (document.querySelector('.job-head [data-status=succeeded], .job-head [data-status=failed]')) clearInterval(timer);
        }, 20);
      });
      await page.locator('[data-testid=loss-chart]:not([data-points="0"]):not([data-points="1"])').waitFor({ timeout: 120_000 });
      if ((await statusOf()) !== 'succeeded') await shot('job-running');
      await page.locator('.job-head [data-status=succeeded]').waitFor({ timeout: 240_000 });
      const seen = await page.evaluate(() => (window as unknown as { pointsSeen: number[] }).pointsSeen);
      assert.ok(seen.filter((p) => p > 0).length >= 2, `the loss chart grew while the job ran (counts seen: ${seen.join(', ')})`);
      assert.ok(Number(await page.getAttribute('[data-testid=accuracy-chart]', 'data-points')) >= 4, 'an accuracy point per epoch');
      await page.locator('[data-testid=report]').waitFor();
      const report = await page.locator('[data-testid=report]').innerText();
      for (const words of [/Test accuracy/, /Parameters/, /Latency/, /Compression/, /Speed-up/, /Agreement/, /Baseline/i]) assert.match(report, words);
      assert.equal(await page.locator('[data-testid=phase-timeline] .phase-current').count(), 0, 'no phase is current once the job ended');
      assert.ok(await page.locator('[data-testid=phase-timeline] [data-phase=distilling]').count());
      await page.locator('[data-testid=download-student-model\\.json]').waitFor();
      await shot('job-succeeded');
      const job = (await request(stack.url, 'GET', `/v1/jobs/${jobId}`)).body;
      assert.equal(job.name, 'from-the-browser');
      assert.equal(job.spec.distillation.alpha, 0.7);
      assert.deepEqual(job.spec.student.model.input_shape, [14, 14, 1]);
      assert.equal(job.spec.teacher.training.learning_rate, 0.005);
      assert.deepEqual(job.spec.export, { formats: ['tfjs', 'onnx'], quantize: [] }, 'ONNX was asked for in the form');
      const variants = await page.locator('[data-testid=variants]').innerText();
      assert.match(variants, /student\/model\.onnx\s+onnxruntime/, 'the report shows the ONNX variant');
    });

    test('more exports from the job page, without retraining: the variants table and the downloads gain them', async () => {
      // The job has ONNX files: ONNX is checked for its new variants too. Unchecked, with nothing else, there is nothing to ask.
      assert.equal(await page.isChecked('#f-export-onnx'), true);
      await page.uncheck('#f-export-onnx');
      await page.click('[data-testid=export-more]');
      await page.locator('[data-testid=export-status] .note-warn').waitFor();
      await page.check('#f-export-onnx');
      await page.check('#f-export-uint8');
      await page.click('[data-testid=export-more]');
      await page.locator('[data-testid=download-student-uint8-model\\.json]').waitFor({ timeout: PAGE_STEP_MS });
      const variants = await page.locator('[data-testid=variants]').innerText();
      for (const row of [/student-uint8\/model\.json\s+tfjs/, /student-uint8\/model\.onnx\s+onnxruntime/, /student\/model\.onnx\s+onnxruntime/])
        assert.match(variants, row);
      const job = (await request(stack.url, 'GET', `/v1/jobs/${jobId}`)).body;
      assert.deepEqual(job.result.exports.quantize, ['uint8']);
      await shot('job-exported');
    });

    test('the student downloads from the job page', async () => {
      const artifacts = (await request(stack.url, 'GET', `/v1/jobs/${jobId}/artifacts`)).body.data as Array<{ kind: string; file: string; bytes: number }>;
      for (const file of ['model.json', 'weights.bin']) {
        const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=download-student-${file.replace('.', '\\.')}]`)]);
        assert.equal(download.suggestedFilename(), `${jobId}-student-${file}`);
        const path = join(SHOTS, download.suggestedFilename());
        await download.saveAs(path);
        const listed = artifacts.find((a) => a.kind === 'student' && a.file === file)!;
        assert.equal((await stat(path)).size, listed.bytes, `${file}: the bytes the server listed`);
        if (file === 'model.json') assert.ok(JSON.parse(await readFile(path, 'utf8')).modelTopology, 'a tfjs layers model');
      }
    });

    test('the jobs list shows the job with its status, progress and accuracies', async () => {
      await page.click('nav a[data-nav=jobs]');
      const row = page.locator(`tr[data-job-id="${jobId}"]`);
      await row.waitFor();
      assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'succeeded');
      assert.match(await row.innerText(), /100%/);
      assert.match(await row.locator('.accs').innerText(), /T\s*\d+\.\d%[\s\S]*S\s*\d+\.\d%[\s\S]*B\s*\d+\.\d%/);
      await shot('jobs-list');
    });

    test('a second job is cancelled from its page', async () => {
      const created = await request(stack.url, 'POST', '/v1/jobs', { ...cancellableJob(), name: 'to-be-cancelled' });
      assert.equal(created.status, 201);
      // The list picks up a job submitted elsewhere (here: the API) and follows it live.
      const row = `tr[data-job-id="${created.body.id}"]`;
      await page.locator(`${row} [data-status=running]`).waitFor({ timeout: 120_000 });
      await shot('jobs-list-running');
      // The row moves with the job, but what a user clicks stays put: a link rebuilt between a mousedown
      // and its mouseup loses the click (that made this test flaky on a loaded machine).
      await staysPutWhile(`${row} a.job-name`, row);
      await page.click(`${row} a.job-name`);
      await page.locator('.job-head [data-status=running]').waitFor();
      await page.locator('[data-testid=loss-chart]:not([data-points="0"])').waitFor({ timeout: 120_000 });
      await staysPutWhile('[data-testid=cancel-job]', '[data-testid=loss-chart]', 'data-points');
      await shot('job-before-cancel');
      await page.click('[data-testid=cancel-job]');
      assert.match(await page.locator('[data-testid=cancel-job]').innerText(), /again/, 'a first click asks for confirmation');
      await page.click('[data-testid=cancel-job]');
      await page.locator('.job-head [data-status=cancelled]').waitFor({ timeout: 120_000 });
      await shot('job-cancelled');
      assert.equal((await request(stack.url, 'GET', `/v1/jobs/${created.body.id}`)).body.status, 'cancelled');
      assert.equal(await page.locator('[data-testid=cancel-job]').count(), 0, 'no cancel button on an ended job');
    });

    test('an ended job is deleted from its page, after a second click, and leaves the list', async () => {
      const id = /job_\w+/.exec(await page.locator('.job-head .id').innerText())?.[0];
      assert.ok(id, "on the cancelled job's page");
      await page.click('[data-testid=delete-job]');
      assert.match(await page.locator('[data-testid=delete-job]').innerText(), /again/, 'a first click asks for confirmation');
      assert.equal((await request(stack.url, 'GET', `/v1/jobs/${id}`)).status, 200, 'nothing deleted on the first click');
      await page.click('[data-testid=delete-job]');
      await page.waitForURL(/#\/$/, { timeout: 60_000 });
      await page.locator(`tr[data-job-id="${jobId}"]`).waitFor();
      assert.equal(await page.locator(`tr[data-job-id="${id}"]`).count(), 0, 'the list no longer shows it');
      assert.equal((await request(stack.url, 'GET', `/v1/jobs/${id}`)).status, 404);
      await shot('job-deleted');
    });

    test('the datasets page lists the built-in datasets and uploads a CSV, which the form then offers', async () => {
      await page.click('nav a[data-nav=datasets]');
      const table = page.locator('[data-testid=datasets-table]');
      await table.waitFor();
      assert.match(await table.innerText(), /builtin:mnist[\s\S]*builtin:synthetic/);
      await page.setInputFiles('[data-testid=dataset-files]', join(REPO_ROOT, 'examples', 'digits-7x7.csv'));
      await page.fill('[data-testid=dataset-name]', 'digits 7x7');
      await page.click('[data-testid=dataset-upload]');
      const result = await page.locator('[data-testid=upload-result]').innerText();
      const id = /ds_\w+/.exec(result)?.[0];
      assert.ok(id, `the new dataset's id is shown: ${result}`);
      const row = page.locator(`tr[data-dataset-id="${id}"]`);
      await row.waitFor();
      assert.match(await row.innerText(), /digits 7x7[\s\S]*csv[\s\S]*ready[\s\S]*49[\s\S]*10/);
      await shot('datasets');
      await page.click('nav a[data-nav=new]');
      await page.locator(`#f-dataset option[value="${id}"]`).waitFor({ state: 'attached' });
    });

    test('the teacher choice lists an uploaded ONNX model, and a job submitted with it names it by model_id', async () => {
      const form = new FormData();
      for (const [name, value] of Object.entries({ name: 'pytorch cnn', layout: 'nchw', mean: MNIST_CNN.mean.join(','), std: MNIST_CNN.std.join(',') }))
        form.append(name, value);
      form.append('model.onnx', new Blob([mnistCnnBytes()]), 'mnist-cnn.onnx');
      const uploaded = await fetch(`${stack.url}/v1/models`, { method: 'POST', body: form, headers: { authorization: `Bearer ${stack.keys.a.key}` } });
      assert.equal(uploaded.status, 201);
      const model = (await uploaded.json()) as { id: string };
      await page.goto(`${stack.url}/#/`);
      await page.goto(`${stack.url}/#/new`);
      const option = page.locator(`#f-teacher-preset option[value="${model.id}"]`);
      await option.waitFor({ state: 'attached', timeout: PAGE_STEP_MS });
      assert.match(await option.innerText(), /pytorch cnn — ONNX, \[28×28×1\] → 10 classes, 27,562 params/);
      await page.selectOption('#f-dataset', 'builtin:mnist');
      await page.fill('#f-samples', '100');
      await page.selectOption('#f-teacher-preset', model.id);
      await page.fill('#f-student-epochs', '1');
      await page.click('[data-testid=submit-job]');
      await page.waitForURL(/#\/jobs\/job_/, { timeout: PAGE_STEP_MS });
      const id = /#\/jobs\/(job_\w+)/.exec(page.url())![1]!;
      const job = (await request(stack.url, 'GET', `/v1/jobs/${id}`)).body;
      assert.deepEqual(job.spec.teacher, { model_id: model.id });
      await request(stack.url, 'POST', `/v1/jobs/${id}/cancel`);
    });
  });
});
