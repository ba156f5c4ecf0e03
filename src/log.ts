import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Keys whose values never reach a log line, wherever they appear. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'webhook.secret',
  'spec.webhook.secret',
  '*.secret',
  '*.apiKey',
  '*.key',
];

/**
 * One logger per process: readable lines for a person at a terminal, JSON lines otherwise (for log
 * shippers), unless LOG_FORMAT says which. `distill up` runs its children on the same stdout, so they
 * choose alike.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>, bindings: Record<string, unknown> = {}): Logger {
  const options: LoggerOptions = {
    level: config.LOG_LEVEL,
    base: { pid: process.pid, ...bindings },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  const terminal = process.stdout.isTTY === true;
  if (config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && terminal)) {
    options.transport = {
      target: 'pino-pretty',
      options: {
        colorize: terminal,
        translateTime: 'HH:MM:ss.l',
        // `[api] API listening`: which of `distill up`'s processes said it, without a line of its own.
        messageFormat: '{if service}[{service}] {end}{msg}',
        ignore: 'pid,hostname,service',
      },
    };
  }
  return pino(options);
}
