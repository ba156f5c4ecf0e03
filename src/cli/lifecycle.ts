import { type Config, ConfigError, loadConfig } from '../config.js';
import { createLogger, type Logger } from '../log.js';

/** Loads config or exits with the message naming the bad variable: nothing starts on a bad config. */
export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`distill: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export interface Service {
  close(): Promise<void>;
}

/**
 * Runs a long-lived service until SIGTERM or SIGINT, then closes it within the grace period.
 * A second signal, or a close that outlives the grace period, exits at once.
 */
export async function runService(name: string, start: (config: Config, log: Logger) => Promise<Service>): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config, { service: name });
  let service: Service;
  try {
    service = await start(config, log);
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    const deadline = setTimeout(() => {
      log.error(`${name} did not stop within ${config.SHUTDOWN_GRACE_SECONDS}s: exiting`);
      process.exit(1);
    }, config.SHUTDOWN_GRACE_SECONDS * 1000);
    deadline.unref();
    service.close().then(
      () => {
        log.info(`${name} stopped`);
        log.flush?.();
        process.exit(0);
      },
      (err) => {
        log.error({ err }, `${name} failed to stop cleanly`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started by `distill up`: when the supervisor is gone, nobody would ever stop us.
  if (process.send) process.on('disconnect', () => stop('SIGTERM'));
}
