import { pino, type Logger } from 'pino';

export type { Logger };

/** One pino logger per process; services take a child (`logger.child({ service })`). */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'orderpilot',
    level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { pid: process.pid },
  });
}
