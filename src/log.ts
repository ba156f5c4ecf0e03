import pino, { type Logger, type LoggerOptions } from 'pino';

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

/** One logger per process: pretty in a terminal, JSON lines otherwise (for log shippers). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  const options: LoggerOptions = {
    level,
    base: { pid: process.pid, ...bindings },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (process.stdout.isTTY) {
    options.transport = { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } };
  }
  return pino(options);
}
