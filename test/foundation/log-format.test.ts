/** LOG_FORMAT: `distill serve` prints JSON lines for machines and readable lines for people. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnCli } from '../support/cli.js';
import { freshDatabase } from '../support/database.js';
import { REDIS_URL } from '../support/env.js';

async function serveOutput(format: string | undefined): Promise<string> {
  const serve = spawnCli(['serve'], { DATABASE_URL: await freshDatabase(), REDIS_URL, PORT: '0', LOG_FORMAT: format });
  try {
    await serve.waitForText(/API listening/);
  } finally {
    serve.kill('SIGTERM');
    await serve.exited;
  }
  return serve.output();
}

const lines = (output: string) => output.split('\n').filter((l) => l.trim() !== '');
const isJson = (line: string) => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};

describe('LOG_FORMAT', () => {
  it('json: one JSON object a line, with the level, pid and service', async () => {
    const output = await serveOutput('json');
    assert.ok(lines(output).every(isJson), output);
    const listening = lines(output)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'API listening');
    assert.ok(listening, output);
    assert.equal(listening.level, 30);
    assert.equal(listening.service, 'api');
    assert.equal(typeof listening.pid, 'number');
  });

  it('pretty: readable lines with the time, level and service, even when stdout is not a terminal', async () => {
    const output = await serveOutput('pretty');
    assert.match(output, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[api\] API listening$/m, output);
    assert.ok(!lines(output).some(isJson), output);
    // Not a terminal: no colour codes for a file or a pipe to keep.
    assert.doesNotMatch(output, /\u001b\[/);
  });

  it('auto (the default) writes JSON to a pipe', async () => {
    const output = await serveOutput(undefined);
    assert.ok(lines(output).every(isJson), output);
  });
});
