import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Value from 'typebox/value';
import { ConfigError, loadConfig, SETTINGS } from '../../src/config.js';
import { spawnCli } from '../support/cli.js';

describe('loadConfig', () => {
  it('uses every default on an empty environment, and each default passes its own rule', () => {
    const config = loadConfig({});
    for (const [name, setting] of Object.entries(SETTINGS)) {
      assert.deepEqual(config[name as keyof typeof config], setting.fallback, name);
      assert.ok(Value.Check(setting.schema, setting.fallback), `${name}'s default breaks its own rule`);
      assert.ok(setting.description.length > 0, `${name} has no description`);
    }
  });

  it('converts numbers from the environment and treats an empty value as unset', () => {
    const config = loadConfig({ PORT: '9090', WORKERS: '3', TRAINING_BACKEND: 'wasm', LOG_LEVEL: '', HOST: '0.0.0.0' });
    assert.equal(config.PORT, 9090);
    assert.equal(config.WORKERS, 3);
    assert.equal(config.TRAINING_BACKEND, 'wasm');
    assert.equal(config.LOG_LEVEL, SETTINGS.LOG_LEVEL.fallback);
    assert.equal(config.HOST, '0.0.0.0');
  });

  it('ignores variables it does not know', () => {
    assert.doesNotThrow(() => loadConfig({ SOMETHING_ELSE: 'x', PATH: '/bin' }));
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'abc', /an integer/],
    ['PORT', '70000', /<= 65535/],
    ['TRAINING_BACKEND', 'gpu', /one of auto, tensorflow-gpu, tensorflow, wasm-blas, wasm, cpu/],
    ['LOG_LEVEL', 'loud', /one of fatal/],
    ['DATABASE_URL', 'mysql://x', /postgres/],
    ['REDIS_URL', 'localhost:6379', /redis/],
    ['WORKER_CONCURRENCY', '0', />= 1/],
    ['QUEUE_NAME', 'a b', /matching/],
    ['PUBLIC_URL', 'distill.example.com', /matching/],
    ['LOG_FORMAT', 'xml', /one of auto, json, pretty/],
  ];
  for (const [name, value, allowed] of bad) {
    it(`refuses ${name}=${value}, naming the variable and what is allowed`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, new RegExp(`${name}=`));
          assert.match(err.message, allowed);
          return true;
        },
      );
    });
  }

  it('names every bad variable at once', () => {
    assert.throws(
      () => loadConfig({ PORT: 'abc', TRAINING_BACKEND: 'gpu', WORKERS: '-1' }),
      (err: Error) => {
        for (const name of ['PORT', 'TRAINING_BACKEND', 'WORKERS']) assert.match(err.message, new RegExp(`${name}=`));
        return true;
      },
    );
  });
});

describe('distill serve with a bad config', () => {
  it('exits non-zero naming PORT and TRAINING_BACKEND, and starts nothing', async () => {
    const serve = spawnCli(['serve'], { PORT: 'abc', TRAINING_BACKEND: 'gpu' });
    const { code } = await serve.exited;
    assert.notEqual(code, 0);
    assert.match(serve.stderr(), /PORT="abc" is invalid: expected an integer/);
    assert.match(serve.stderr(), /TRAINING_BACKEND="gpu" is invalid: expected one of auto, tensorflow-gpu/);
    assert.doesNotMatch(serve.output(), /API listening/);
  });
});
