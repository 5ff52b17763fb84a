import pino, { Logger } from 'pino';
import { setting } from './config';

let root: Logger | undefined;

/**
 * Structured JSON logs. Silent under jest unless LOG_LEVEL is set explicitly, so test output
 * shows failures, not chatter.
 */
export function rootLogger(): Logger {
  if (!root) {
    const quiet = (process.env.JEST_WORKER_ID !== undefined || process.env.NODE_ENV === 'test') && !process.env.LOG_LEVEL;
    root = pino({
      level: quiet ? 'silent' : setting('LOG_LEVEL'),
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    });
  }
  return root;
}

export function logger(component: string): Logger {
  return rootLogger().child({ component });
}

export type { Logger };
