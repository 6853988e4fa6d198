import { pino, type Logger } from 'pino';
import { humanLogStream } from './log-format.ts';
import { redactText, secretsFromEnv } from './redact.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  name?: string;
  /**
   * Secret values hidden in every line (default: the secrets found in `process.env`). URL
   * credentials (`scheme://user:password@`) are hidden in any case.
   */
  secrets?: readonly string[];
  /** One readable line per entry instead of JSON (the demo talking to a person in a terminal). */
  human?: boolean;
}

/**
 * One pino logger per process; services take a child (`logger.child({ service })`). Every line is
 * redacted as the last step before it is written (`hooks.streamWrite`), so a secret quoted anywhere
 * in it — a message, a field, a nested error — is never printed; a `human` logger then rewrites the
 * redacted JSON line for a terminal.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const plain = opts.secrets ?? secretsFromEnv(process.env);
  // A secret with a quote or backslash appears JSON-escaped in the line.
  const secrets = [...new Set([...plain, ...plain.map((s) => JSON.stringify(s).slice(1, -1))])];
  const options = {
    name: opts.name ?? 'orderpilot',
    level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
    base: { pid: process.pid },
    hooks: { streamWrite: (line: string) => redactText(line, secrets) },
  };
  return opts.human ? pino(options, humanLogStream(process.stdout)) : pino(options);
}
