/**
 * Secrets never printed: credentials in URLs (`scheme://user:password@host`) and known secret values
 * (tokens, keys, passwords from the configuration) are replaced by `***` in every error message and
 * log line. One place for the rule, used by the config errors, the CLI's last words and the logger.
 */

export const REDACTED = '***';

/**
 * User info of anything that looks like a URL with credentials, also when the URL does not parse
 * (`postgres://u:p@[bad`): everything between `//` and the last `@` before the host is hidden,
 * user name included (it is often a secret too, e.g. an API key as the user of a webhook URL).
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi;

/** Secret values shorter than this are not replaced in free text (they would hide ordinary words). */
const MIN_SECRET_LENGTH = 6;

/** Hides URL credentials, and each of `secrets`, in `text`. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(URL_USERINFO, `$1${REDACTED}@`);
  for (const s of secrets) {
    if (s.length >= MIN_SECRET_LENGTH && out.includes(s)) out = out.split(s).join(REDACTED);
  }
  return out;
}

/** A URL as it may be shown: the same URL with its user info hidden. */
export function redactUrl(url: string): string {
  return redactText(url);
}

/** Names of environment variables that hold secrets outright (the whole value is one or more secrets). */
const SECRET_VARIABLES = [
  'ADMIN_TOKENS',
  'SHOP_KEYS',
  'STRIPE_WEBHOOK_SECRET',
  'PAYU_SECOND_KEY',
  'FAKTUROWNIA_API_TOKEN',
  'WAREHOUSE_API_KEY',
  'WAREHOUSE_WEBHOOK_SECRET',
  'METRICS_TOKEN',
] as const;

/** Variables that hold URLs, whose passwords (and user names) are secrets. */
const URL_VARIABLES = ['DATABASE_URL', 'NATS_URL', 'SMTP_URL', 'ADMIN_WEBHOOK_URL', 'FAKTUROWNIA_URL', 'WAREHOUSE_URL'] as const;

/**
 * Every secret value found in the environment: each token of the secret variables (for `name:token`
 * lists, the token part) and the raw and decoded passwords of the URL variables. Used so that a
 * secret quoted by a library error (a driver echoing its connection string, a password in a
 * message) is still hidden.
 */
export function secretsFromEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  const out = new Set<string>();
  for (const name of SECRET_VARIABLES) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    out.add(raw);
    for (const part of raw.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      out.add(p);
      const i = p.indexOf(':');
      if (i > 0) out.add(p.slice(i + 1).trim());
    }
  }
  for (const name of URL_VARIABLES) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^\s/?#]*)@/i.exec(raw);
    const userinfo = m?.[1];
    if (userinfo === undefined) continue;
    // The password only: user names are ordinary words ("postgres") that free text needs.
    const colon = userinfo.indexOf(':');
    if (colon < 0) continue;
    const password = userinfo.slice(colon + 1);
    out.add(password);
    try {
      out.add(decodeURIComponent(password));
    } catch {
      // a malformed %-escape: the raw form is enough
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}
