/**
 * The one typed configuration of orderpilot: environment variables in, one frozen object out.
 * Every value is checked at start; a bad value stops the process with an error naming the variable
 * (fail fast beats a service that half-works).
 */

import { redactUrl } from './redact.ts';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface AdminToken {
  readonly name: string;
  readonly token: string;
}

/** One intake key of a shop (`SHOP_KEYS`); a shop may have several at once (key rotation). */
export interface ShopKey {
  readonly shop: string;
  readonly key: string;
}

/** A shop connector's kind (`SHOPS=name:kind`): WooCommerce, or our generic signed webhooks. */
export type ShopKind = 'woocommerce' | 'webhook' | 'magento';
export const SHOP_KINDS: readonly ShopKind[] = ['woocommerce', 'webhook', 'magento'];

/**
 * One connected shop (`SHOPS=name:kind,…` and `SHOP_<NAME>_*`): where its REST API is, its
 * credentials, the secret its webhooks are signed with, where the paid signal comes from, and
 * overrides of its connector's status mapping (`SHOP_<NAME>_MAPPING=shipped=wc-shipped,closed=-`).
 */
export interface ShopConfig {
  readonly name: string;
  readonly kind: ShopKind;
  readonly url: string;
  /** WooCommerce: consumer key; Magento: the integration's access token ('' for `webhook`). */
  readonly key: string;
  /** WooCommerce: consumer secret ('' for `webhook`). */
  readonly secret: string;
  /** WooCommerce: the secret its webhooks are signed with; `webhook`: the secret we sign ours with. */
  readonly webhookSecret: string;
  /** `provider`: the payment provider's webhook confirms payment (today's path); `shop`: the shop's own paid signal. */
  readonly payment: 'provider' | 'shop';
  /** Status overrides per change kind (`-` = no status change), parsed; checked against the kinds by the shops service. */
  readonly mapping: Readonly<Record<string, string | null>>;
  /** Note overrides per change kind (`SHOP_<NAME>_NOTES`, JSON; null = no note); checked by the shops service. */
  readonly notes: Readonly<Record<string, { text: string; customer: boolean } | null>>;
  /** WooCommerce: the order meta key holding the buyer's NIP (tax id). */
  readonly nipMetaKey: string;
  /** `SHOP_<NAME>_MAX_ATTEMPTS`: this shop's tries of one update (0: only SHOPS_RETRY_HOURS); unset = SHOPS_MAX_ATTEMPTS. */
  readonly maxAttempts: number | null;
}

/** KSeF (Polish national e-invoicing): `off` as before, `demo` (KSeF test environment), `on` (production). */
export type KsefMode = 'off' | 'demo' | 'on';
/** Which documents go to KSeF, named like Fakturownia's `gov_auto_send_mode`. */
export type KsefScope = 'all' | 'all_companies' | 'pl_companies';

/** The seller's data printed on every document (KSeF requires name, tax id and address). */
export interface SellerConfig {
  readonly name: string | undefined;
  readonly taxNo: string | undefined;
  readonly street: string | undefined;
  readonly postCode: string | undefined;
  readonly city: string | undefined;
  readonly country: string;
  readonly email: string | undefined;
  readonly phone: string | undefined;
  readonly bankAccount: string | undefined;
}

export interface KsefConfig {
  readonly mode: KsefMode;
  readonly scope: KsefScope;
  /** First wait before asking the invoicing system for KSeF's verdict; doubles per poll, with jitter. */
  readonly pollBaseMs: number;
  /** Longest wait between two polls of one document. */
  readonly pollMaxMs: number;
  /** How long one instance's claim on a document's poll blocks the others (a killed poller's claim expires). */
  readonly pollLeaseMs: number;
  /** Documents polled at once per invoicing process. */
  readonly pollBatch: number;
  /** After this long without a verdict the document is reported KSEF_STATUS_UNKNOWN (an admin looks). */
  readonly giveUpMs: number;
  /** After a give-up the document is still read now and then for this long: a late KSeF number counts. */
  readonly lateCheckMs: number;
  /** Times a document is sent again after a KSeF outage (`server_error`) before an admin is told. */
  readonly outageResends: number;
  /** A document waiting longer than this for its KSeF number needs attention (console). */
  readonly attentionMs: number;
}

/** The SMTP client's timeouts (infra/smtp.ts): a mail claim's lease must cover them. */
export const SMTP_TIMEOUTS_MS = { connection: 5000, greeting: 5000, socket: 15_000 } as const;

export interface Config {
  /** Postgres URL; undefined means "use the local server if it answers, else embedded Postgres". */
  readonly databaseUrl: string | undefined;
  /** NATS URL; undefined means "nats://127.0.0.1:4222 if it answers, else nats-server from the PATH". */
  readonly natsUrl: string | undefined;
  /** Prefix of every stream, consumer and subject: isolates deployments and test runs on one server. */
  readonly natsPrefix: string;
  /** JetStream replicas of every stream (1, or 3/5 on a NATS cluster). */
  readonly natsReplicas: number;
  /** How often the gateway checks that every order it accepted exists, republishing any that does not (0: never); gateway/intake-recheck.ts. */
  readonly intakeRecheckMs: number;
  /** How often the orders service looks for orders that have waited too long for a service, and asks again (0: never); services/orders/order-redrive.ts. */
  readonly orderRedriveMs: number;
  /** How long an order waits for a service before it is asked again (doubling each time). */
  readonly orderRedriveAfterMs: number;
  /** How often the work-queue sweeper looks for messages a consumer passed over (0: never); infra/nats/work-queue-sweeper.ts. */
  readonly natsSweepMs: number;
  readonly port: number;
  readonly host: string;
  /**
   * Behind a TLS-terminating proxy: trust its X-Forwarded-* headers (Fastify's `trustProxy`: true,
   * a hop count, or addresses/CIDRs), so the console's cookie is `Secure` and the client address is real.
   */
  readonly trustProxy: boolean | number | string;
  /** When set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>`. */
  readonly metricsToken: string | undefined;
  /** Webhooks rejected on arrival (bad signature, unreadable) are deleted after this long. */
  readonly webhookInvalidRetentionMs: number;
  /** Admin Idempotency-Keys (and the answers they replay) are deleted this long after their answer. */
  readonly adminIdempotencyRetentionMs: number;
  /** Rejected webhooks accepted (and stored) per client address per minute; more → 429, not stored. */
  readonly webhookInvalidRateLimit: number;
  /** Hours a console session lasts (revoked at sign-out). */
  readonly consoleSessionHours: number;
  /** Refuse to send mail over a connection that did not upgrade to TLS (nodemailer `requireTLS`). */
  readonly smtpRequireTls: boolean;
  /** SMTP connections the mailer keeps open at once (each carries one message at a time). */
  readonly smtpMaxConnections: number;
  readonly logLevel: string;
  readonly adminTokens: readonly AdminToken[];
  /** Keys shops present on `POST /orders` (`Authorization: Bearer <key>`); empty = no intake. */
  readonly shopKeys: readonly ShopKey[];
  readonly stripeWebhookSecrets: readonly string[];
  readonly payuSecondKey: string | undefined;
  readonly fakturowniaUrl: string | undefined;
  readonly fakturowniaApiToken: string | undefined;
  readonly warehouseUrl: string | undefined;
  readonly warehouseApiKey: string | undefined;
  readonly warehouseWebhookSecret: string | undefined;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly adminEmail: string | undefined;
  readonly adminWebhookUrl: string | undefined;
  readonly inspect: boolean;
  /** Port of the local Stately inspector bridge (WebSocket + page) when `inspect` is on. */
  readonly inspectPort: number;
  /** Admin notifications wait for this much quiet before going out, so a burst becomes one digest. */
  readonly notifyDigestWindowMs: number;
  /** …but never wait longer than this after the oldest pending one. */
  readonly notifyDigestMaxWaitMs: number;
  /**
   * Order event partitions: each has one message in flight, so an order's events apply in publish
   * order; the host group-commits across partitions, so more partitions make bigger commits.
   */
  readonly orderPartitions: number;
  /** Old-generation growth past the live heap before V8's next full GC, in percent (0: V8's own, up to 300 %); infra/runtime/heap-policy.ts. */
  readonly heapGrowingPercent: number;
  /** How long an order may stay unpaid before it is cancelled (a Postgres timer). */
  readonly paymentTimeoutMs: number;
  /** Deliveries of one message before it is dead-lettered. */
  readonly maxDeliver: number;
  /** JetStream ack wait: an unacked message is redelivered after this. */
  readonly ackWaitMs: number;
  /** JetStream duplicate window for message-id de-duplication. */
  readonly duplicateWindowMs: number;
  /**
   * Bulk consumers (documents, e-mails, shipments, refunds, notifications) pause (one message at a
   * time) while the process's event loop runs this late (ms), so webhooks and order events go first; 0: off.
   */
  readonly bulkYieldLagMs: number;
  /** Outbox relay poll interval (LISTEN/NOTIFY wakes it sooner). */
  readonly outboxPollMs: number;
  /** Postgres connections per orderpilot process (mind max_connections when running many processes). */
  readonly databasePoolMax: number;
  /** Where `orderpilot demo` keeps embedded Postgres and NATS data. */
  readonly dataDir: string;
  /** Attempts to issue one sales document before DOCUMENT_FAILED RETRIES_EXHAUSTED. */
  readonly invoicingMaxAttempts: number;
  /** First retry delay of the invoicing service; doubles per attempt, with jitter. */
  readonly invoicingRetryBaseMs: number;
  /** Issue commands handled at once per invoicing process (hides provider latency). */
  readonly invoicingConcurrency: number;
  /** Timeout of one request to the invoicing system. */
  readonly fakturowniaTimeoutMs: number;
  /** Attempts to e-mail one document before DOCUMENT_FAILED RETRIES_EXHAUSTED. */
  readonly mailMaxAttempts: number;
  /** First retry delay of the mailer; doubles per attempt, with jitter. */
  readonly mailRetryBaseMs: number;
  /** Mail commands handled at once per mailer process. */
  readonly mailConcurrency: number;
  /** How long one instance's claim to send a document's e-mail blocks the others (a crashed sender's claim expires). */
  readonly mailClaimLeaseMs: number;
  /**
   * After a send whose outcome is unknown (the connection broke once the message was handed over):
   * `resend` it (same Message-ID, mail clients fold a duplicate) or `notify` an admin and stop.
   */
  readonly mailUncertain: 'resend' | 'notify';
  /** Attempts to hand one shipment to the warehouse before SHIPMENT_REJECTED WAREHOUSE_UNREACHABLE. */
  readonly logisticsMaxAttempts: number;
  /** First retry delay of the logistics service; doubles per attempt, with jitter. */
  readonly logisticsRetryBaseMs: number;
  /** Logistics commands handled at once per logistics process. */
  readonly logisticsConcurrency: number;
  /** Timeout of one request to the warehouse. */
  readonly warehouseTimeoutMs: number;
  /** Retry policies (infra/retry-policy.ts): first delay and longest wait, for the order/notify consumers, per service, for admin notification deliveries. */
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  readonly invoicingRetryCapMs: number;
  readonly mailRetryCapMs: number;
  readonly logisticsRetryCapMs: number;
  readonly notifyRetryBaseMs: number;
  readonly notifyRetryCapMs: number;
  readonly seller: SellerConfig;
  readonly ksef: KsefConfig;
  readonly payments: PaymentsConfig;
  /** Connected shops (`SHOPS`), and how their updates are retried. */
  readonly shops: readonly ShopConfig[];
  /** Tries of one shop update before it is given up (0: no count, only SHOPS_RETRY_HOURS). */
  readonly shopsMaxAttempts: number;
  /** How long after its first failure a shop update is still tried (hours). */
  readonly shopsRetryHours: number;
  readonly shopsRetryBaseMs: number;
  readonly shopsRetryCapMs: number;
  readonly shopsTimeoutMs: number;
  /** How often polled shops (Magento 2) are asked for orders updated since the cursor. */
  readonly shopsPollMs: number;
}

/**
 * The payments service (refunds). Stripe: `STRIPE_SECRET_KEY` and, for a stand-in (the sandbox),
 * `STRIPE_API_URL` (the official SDK's host/port/protocol). PayU: `PAYU_URL` (default the
 * production API), `PAYU_CLIENT_ID` / `PAYU_CLIENT_SECRET` (OAuth client credentials).
 */
export interface PaymentsConfig {
  readonly stripeSecretKey: string | undefined;
  readonly stripeApiUrl: string | undefined;
  readonly payuUrl: string;
  readonly payuClientId: string | undefined;
  readonly payuClientSecret: string | undefined;
  /** Attempts of one refund before REFUND_FAILED RETRIES_EXHAUSTED (an admin is notified). */
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a valid URL: "${redactUrl(raw)}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got "${parsed.protocol}"`);
  }
  return raw;
}

/** One URL or several, comma-separated (the servers of a NATS cluster); each checked like `url`. */
function urlList(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  for (const part of raw.split(',')) url({ [name]: part.trim() }, name, protocols);
  return raw;
}

function bool(env: Env, name: string): boolean {
  const raw = str(env, name);
  if (raw === undefined) return false;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `expected 1/0, true/false, yes/no or on/off, got "${raw}"`);
}

/** A duration: `7d`, `12h`, `30m`, `45s` or plain milliseconds. */
function duration(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const m = /^(\d+)\s*(d|h|m|s|ms)?$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected a duration like 7d, 12h, 30m, 45s or milliseconds, got "${raw}"`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[(m[2] ?? 'ms') as 'd' | 'h' | 'm' | 's' | 'ms'];
  const ms = Number(m[1]) * unit;
  if (ms < 60_000) throw new ConfigError(name, 'must be at least one minute');
  return ms;
}

/** A secret of at least `min` characters, or undefined. */
function secret(env: Env, name: string, min: number): string | undefined {
  const raw = str(env, name);
  if (raw !== undefined && raw.length < min) throw new ConfigError(name, `must be at least ${min} characters`);
  return raw;
}

/** TRUST_PROXY: on/off, a hop count, or a comma-separated list of proxy addresses / CIDRs. */
function trustProxy(env: Env): boolean | number | string {
  const raw = str(env, 'TRUST_PROXY');
  if (raw === undefined) return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return bool(env, 'TRUST_PROXY');
  if (!/^[0-9a-fA-F:.,/\s]+$/.test(raw)) throw new ConfigError('TRUST_PROXY', 'expected on/off, a hop count, or proxy addresses / CIDRs separated by commas');
  return raw;
}

/** Parses `name:token,name:token`. */
export function parseAdminTokens(raw: string | undefined, variable = 'ADMIN_TOKENS'): AdminToken[] {
  if (raw === undefined || raw.trim() === '') return [];
  return raw.split(',').map((pair) => {
    const i = pair.indexOf(':');
    const name = i > 0 ? pair.slice(0, i).trim() : '';
    const token = i > 0 ? pair.slice(i + 1).trim() : '';
    if (!/^[\w.@-]+$/.test(name) || token.length < 16) {
      throw new ConfigError(variable, 'expected comma-separated name:token pairs, tokens of at least 16 characters');
    }
    return Object.freeze({ name, token });
  });
}

/** Parses `shop:key,shop:key` (keys of at least 32 characters; one shop may have several keys). */
export function parseShopKeys(raw: string | undefined, variable = 'SHOP_KEYS'): ShopKey[] {
  if (raw === undefined || raw.trim() === '') return [];
  const owners = new Map<string, string>();
  return raw.split(',').map((pair) => {
    const i = pair.indexOf(':');
    const shop = i > 0 ? pair.slice(0, i).trim() : '';
    const key = i > 0 ? pair.slice(i + 1).trim() : '';
    if (!/^[A-Za-z0-9][\w.-]{0,63}$/.test(shop) || key.length < 32 || /\s/.test(key)) {
      throw new ConfigError(variable, 'expected comma-separated shop:key pairs (shop: letters, digits, "_", "-", "."; keys of at least 32 characters, no spaces)');
    }
    const owner = owners.get(key);
    if (owner !== undefined && owner !== shop) throw new ConfigError(variable, `one key is given to two shops (${owner} and ${shop})`);
    owners.set(key, shop);
    return Object.freeze({ shop, key });
  });
}

/** Parses `SHOP_<NAME>_MAPPING`: `kind=status` pairs, comma-separated; `-` means "no status change". */
export function parseShopMapping(raw: string | undefined, variable: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    const [k, v] = pair.split('=').map((x) => x.trim());
    if (!k || v === undefined || v === '' || !/^[A-Za-z]+$/.test(k) || !/^[\w-]{1,40}$/.test(v)) {
      throw new ConfigError(variable, 'expected comma-separated kind=status pairs (e.g. shipped=wc-shipped,closed=-)');
    }
    out[k] = v === '-' ? null : v;
  }
  return out;
}

/**
 * `SHOP_<NAME>_NOTES`: a JSON object of note overrides per change kind, each a template string (a
 * private note), `{ "text": …, "customer": true|false }`, or null (no note). Templates may contain
 * commas, hence JSON rather than pairs.
 */
export function parseShopNotes(raw: string | undefined, variable: string): Record<string, { text: string; customer: boolean } | null> {
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(variable, 'expected a JSON object, e.g. {"held":"Wstrzymane: {message}","closed":null}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(variable, 'expected a JSON object of change kind → note');
  const out: Record<string, { text: string; customer: boolean } | null> = {};
  for (const [kind, v] of Object.entries(parsed as Record<string, unknown>)) {
    const note = typeof v === 'string' ? { text: v, customer: false } : v;
    if (note === null) {
      out[kind] = null;
      continue;
    }
    const n = note as { text?: unknown; customer?: unknown };
    if (typeof n !== 'object' || typeof n.text !== 'string' || n.text.trim() === '' || n.text.length > 1000 || (n.customer !== undefined && typeof n.customer !== 'boolean')) {
      throw new ConfigError(variable, `"${kind}": expected a template string, null, or { "text": "…", "customer": true|false } (text up to 1000 characters)`);
    }
    out[kind] = { text: n.text, customer: n.customer === true };
  }
  return out;
}

/** Parses `SHOPS=name:kind,…` and each shop's `SHOP_<NAME>_*` variables (NAME upper-cased, `-`/`.` as `_`). */
export function parseShops(env: Env): ShopConfig[] {
  const raw = str(env, 'SHOPS');
  if (raw === undefined) return [];
  const seen = new Set<string>();
  return raw.split(',').map((pair) => {
    const [name, kind] = pair.split(':').map((x) => x.trim());
    if (!name || !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(name) || kind === undefined || !(SHOP_KINDS as readonly string[]).includes(kind)) {
      throw new ConfigError('SHOPS', `expected comma-separated name:kind pairs (name: lower-case letters, digits, "_", "-"; kind: ${SHOP_KINDS.join(' | ')})`);
    }
    if (seen.has(name)) throw new ConfigError('SHOPS', `shop "${name}" is named twice`);
    seen.add(name);
    const v = (suffix: string) => `SHOP_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${suffix}`;
    const required = (suffix: string) => {
      const value = str(env, v(suffix));
      if (value === undefined) throw new ConfigError(v(suffix), `required for shop "${name}"`);
      return value;
    };
    const shopUrl = url(env, v('URL'), ['http:', 'https:']);
    if (shopUrl === undefined) throw new ConfigError(v('URL'), `required for shop "${name}"`);
    const webhookSecret = kind === 'magento' ? (str(env, v('WEBHOOK_SECRET')) ?? '') : required('WEBHOOK_SECRET');
    if (kind !== 'magento' && webhookSecret.length < 16) throw new ConfigError(v('WEBHOOK_SECRET'), 'must be at least 16 characters');
    return Object.freeze({
      name,
      kind: kind as ShopKind,
      url: shopUrl.replace(/\/+$/, ''),
      key: kind === 'webhook' ? (str(env, v('KEY')) ?? '') : required('KEY'),
      secret: kind === 'woocommerce' ? required('SECRET') : (str(env, v('SECRET')) ?? ''),
      webhookSecret,
      payment: oneOf(env, v('PAYMENT'), ['provider', 'shop'] as const, 'provider'),
      mapping: Object.freeze(parseShopMapping(str(env, v('MAPPING')), v('MAPPING'))),
      notes: Object.freeze(parseShopNotes(str(env, v('NOTES')), v('NOTES'))),
      nipMetaKey: str(env, v('NIP_META')) ?? '_billing_nip',
      maxAttempts: str(env, v('MAX_ATTEMPTS')) === undefined ? null : int(env, v('MAX_ATTEMPTS'), 0, 0, 100_000),
    });
  });
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `expected one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function sellerFrom(env: Env): SellerConfig {
  const country = str(env, 'SELLER_COUNTRY') ?? 'PL';
  if (!/^[A-Z]{2}$/.test(country)) throw new ConfigError('SELLER_COUNTRY', `expected an ISO 3166 country code like PL, got "${country}"`);
  return Object.freeze({
    name: str(env, 'SELLER_NAME'),
    taxNo: str(env, 'SELLER_TAX_NO'),
    street: str(env, 'SELLER_STREET'),
    postCode: str(env, 'SELLER_POST_CODE'),
    city: str(env, 'SELLER_CITY'),
    country,
    email: str(env, 'SELLER_EMAIL'),
    phone: str(env, 'SELLER_PHONE'),
    bankAccount: str(env, 'SELLER_BANK_ACCOUNT'),
  });
}

function ksefFrom(env: Env): KsefConfig {
  const k: KsefConfig = {
    mode: oneOf(env, 'KSEF_MODE', ['off', 'demo', 'on'] as const, 'off'),
    scope: oneOf(env, 'KSEF_SCOPE', ['all', 'all_companies', 'pl_companies'] as const, 'all'),
    pollBaseMs: int(env, 'KSEF_POLL_BASE_MS', 5_000, 10, 3600_000),
    pollMaxMs: int(env, 'KSEF_POLL_MAX_MS', 300_000, 10, 24 * 3600_000),
    pollLeaseMs: int(env, 'KSEF_POLL_LEASE_MS', 60_000, 1000, 3600_000),
    pollBatch: int(env, 'KSEF_POLL_BATCH', 50, 1, 1000),
    giveUpMs: int(env, 'KSEF_GIVE_UP_MS', 48 * 3600_000, 1000, 30 * 24 * 3600_000),
    lateCheckMs: int(env, 'KSEF_LATE_CHECK_MS', 7 * 24 * 3600_000, 0, 90 * 24 * 3600_000),
    outageResends: int(env, 'KSEF_OUTAGE_RESENDS', 3, 0, 100),
    attentionMs: int(env, 'KSEF_ATTENTION_MS', 15 * 60_000, 1000, 30 * 24 * 3600_000),
  };
  if (k.pollMaxMs < k.pollBaseMs) throw new ConfigError('KSEF_POLL_MAX_MS', 'must not be less than KSEF_POLL_BASE_MS');
  return Object.freeze(k);
}

export function loadConfig(env: Env = process.env): Config {
  const prefix = str(env, 'NATS_PREFIX') ?? 'orderpilot';
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,40}$/.test(prefix)) {
    throw new ConfigError('NATS_PREFIX', 'letters, digits, "_" and "-" only, starting with a letter (max 41)');
  }
  const stripe = (str(env, 'STRIPE_WEBHOOK_SECRET') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of stripe) {
    if (!s.startsWith('whsec_')) throw new ConfigError('STRIPE_WEBHOOK_SECRET', 'each secret must start with "whsec_"');
  }
  const config: Config = {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    natsUrl: urlList(env, 'NATS_URL', ['nats:', 'tls:']),
    natsReplicas: int(env, 'NATS_REPLICAS', 1, 1, 5),
    natsSweepMs: int(env, 'NATS_SWEEP_MS', 10_000, 0, 3600_000),
    intakeRecheckMs: int(env, 'INTAKE_RECHECK_MS', 60_000, 0, 24 * 3600_000),
    orderRedriveMs: int(env, 'ORDER_REDRIVE_MS', 60_000, 0, 24 * 3600_000),
    orderRedriveAfterMs: int(env, 'ORDER_REDRIVE_AFTER_MS', 120_000, 1000, 7 * 24 * 3600_000),
    natsPrefix: prefix,
    port: int(env, 'PORT', 3000, 0, 65535),
    host: str(env, 'HOST') ?? '127.0.0.1',
    trustProxy: trustProxy(env),
    metricsToken: secret(env, 'METRICS_TOKEN', 16),
    consoleSessionHours: int(env, 'CONSOLE_SESSION_HOURS', 12, 1, 24 * 30),
    webhookInvalidRetentionMs: duration(env, 'WEBHOOK_INVALID_RETENTION', 7 * 24 * 3600_000),
    adminIdempotencyRetentionMs: duration(env, 'ADMIN_IDEMPOTENCY_RETENTION', 7 * 24 * 3600_000),
    webhookInvalidRateLimit: int(env, 'WEBHOOK_INVALID_RATE_LIMIT', 60, 1, 1_000_000),
    smtpRequireTls: bool(env, 'SMTP_REQUIRE_TLS'),
    smtpMaxConnections: int(env, 'SMTP_MAX_CONNECTIONS', 16, 1, 100),
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
    adminTokens: Object.freeze(parseAdminTokens(str(env, 'ADMIN_TOKENS'))),
    shopKeys: Object.freeze(parseShopKeys(str(env, 'SHOP_KEYS'))),
    stripeWebhookSecrets: Object.freeze(stripe),
    payuSecondKey: str(env, 'PAYU_SECOND_KEY'),
    fakturowniaUrl: url(env, 'FAKTUROWNIA_URL', ['http:', 'https:']),
    fakturowniaApiToken: str(env, 'FAKTUROWNIA_API_TOKEN'),
    warehouseUrl: url(env, 'WAREHOUSE_URL', ['http:', 'https:']),
    warehouseApiKey: str(env, 'WAREHOUSE_API_KEY'),
    warehouseWebhookSecret: str(env, 'WAREHOUSE_WEBHOOK_SECRET'),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    mailFrom: str(env, 'MAIL_FROM') ?? 'orderpilot <orders@localhost>',
    adminEmail: str(env, 'ADMIN_EMAIL'),
    adminWebhookUrl: url(env, 'ADMIN_WEBHOOK_URL', ['http:', 'https:']),
    inspect: bool(env, 'ORDERPILOT_INSPECT'),
    inspectPort: int(env, 'ORDERPILOT_INSPECT_PORT', 8080, 1, 65535),
    notifyDigestWindowMs: int(env, 'NOTIFY_DIGEST_WINDOW_MS', 10_000, 0, 3600_000),
    notifyDigestMaxWaitMs: int(env, 'NOTIFY_DIGEST_MAX_WAIT_MS', 60_000, 0, 24 * 3600_000),
    orderPartitions: int(env, 'ORDER_PARTITIONS', 64, 1, 256),
    heapGrowingPercent: int(env, 'HEAP_GROWING_PERCENT', 50, 0, 1000),
    paymentTimeoutMs: int(env, 'PAYMENT_TIMEOUT_MS', 72 * 3600_000, 1, 365 * 24 * 3600_000),
    maxDeliver: int(env, 'MAX_DELIVER', 8, 1, 1000),
    ackWaitMs: int(env, 'ACK_WAIT_MS', 30_000, 500, 3600_000),
    duplicateWindowMs: int(env, 'DUPLICATE_WINDOW_MS', 10 * 60_000, 1000, 24 * 3600_000),
    bulkYieldLagMs: int(env, 'BULK_YIELD_LAG_MS', 10, 0, 10_000),
    outboxPollMs: int(env, 'OUTBOX_POLL_MS', 1000, 10, 60_000),
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 6, 2, 1000),
    dataDir: str(env, 'ORDERPILOT_DATA_DIR') ?? '.data',
    invoicingMaxAttempts: int(env, 'INVOICING_MAX_ATTEMPTS', 8, 1, 100),
    invoicingRetryBaseMs: int(env, 'INVOICING_RETRY_BASE_MS', 30_000, 1, 3600_000),
    invoicingConcurrency: int(env, 'INVOICING_CONCURRENCY', 64, 1, 256),
    fakturowniaTimeoutMs: int(env, 'FAKTUROWNIA_TIMEOUT_MS', 15_000, 100, 300_000),
    mailMaxAttempts: int(env, 'MAIL_MAX_ATTEMPTS', 8, 1, 100),
    mailRetryBaseMs: int(env, 'MAIL_RETRY_BASE_MS', 30_000, 1, 3600_000),
    mailConcurrency: int(env, 'MAIL_CONCURRENCY', 32, 1, 256),
    mailClaimLeaseMs: int(env, 'MAIL_CLAIM_LEASE_MS', 300_000, 1000, 24 * 3600_000),
    mailUncertain: oneOf(env, 'MAIL_UNCERTAIN', ['resend', 'notify'] as const, 'resend'),
    logisticsMaxAttempts: int(env, 'LOGISTICS_MAX_ATTEMPTS', 8, 1, 100),
    logisticsRetryBaseMs: int(env, 'LOGISTICS_RETRY_BASE_MS', 5_000, 1, 3600_000),
    logisticsConcurrency: int(env, 'LOGISTICS_CONCURRENCY', 32, 1, 256),
    warehouseTimeoutMs: int(env, 'WAREHOUSE_TIMEOUT_MS', 10_000, 50, 300_000),
    retryBaseMs: int(env, 'RETRY_BASE_MS', 200, 1, 3600_000),
    retryCapMs: int(env, 'RETRY_CAP_MS', 30_000, 1, 24 * 3600_000),
    invoicingRetryCapMs: int(env, 'INVOICING_RETRY_CAP_MS', 6 * 3600_000, 1, 24 * 3600_000),
    mailRetryCapMs: int(env, 'MAIL_RETRY_CAP_MS', 6 * 3600_000, 1, 24 * 3600_000),
    logisticsRetryCapMs: int(env, 'LOGISTICS_RETRY_CAP_MS', 300_000, 1, 24 * 3600_000),
    notifyRetryBaseMs: int(env, 'NOTIFY_RETRY_BASE_MS', 2000, 1, 3600_000),
    notifyRetryCapMs: int(env, 'NOTIFY_RETRY_CAP_MS', 300_000, 1, 24 * 3600_000),
    seller: sellerFrom(env),
    ksef: ksefFrom(env),
    payments: Object.freeze({
      stripeSecretKey: str(env, 'STRIPE_SECRET_KEY'),
      stripeApiUrl: url(env, 'STRIPE_API_URL', ['http:', 'https:']),
      payuUrl: url(env, 'PAYU_URL', ['http:', 'https:']) ?? 'https://secure.payu.com',
      payuClientId: str(env, 'PAYU_CLIENT_ID'),
      payuClientSecret: str(env, 'PAYU_CLIENT_SECRET'),
      maxAttempts: int(env, 'PAYMENTS_MAX_ATTEMPTS', 8, 1, 100),
      retryBaseMs: int(env, 'PAYMENTS_RETRY_BASE_MS', 5_000, 1, 3600_000),
      retryCapMs: int(env, 'PAYMENTS_RETRY_CAP_MS', 600_000, 1, 24 * 3600_000),
      timeoutMs: int(env, 'PAYMENTS_TIMEOUT_MS', 20_000, 100, 300_000),
      concurrency: int(env, 'PAYMENTS_CONCURRENCY', 16, 1, 256),
    }),
    shops: Object.freeze(parseShops(env)),
    shopsMaxAttempts: int(env, 'SHOPS_MAX_ATTEMPTS', 0, 0, 100_000),
    shopsRetryHours: int(env, 'SHOPS_RETRY_HOURS', 72, 1, 30 * 24),
    shopsRetryBaseMs: int(env, 'SHOPS_RETRY_BASE_MS', 10_000, 1, 3600_000),
    shopsRetryCapMs: int(env, 'SHOPS_RETRY_CAP_MS', 3600_000, 1, 24 * 3600_000),
    shopsTimeoutMs: int(env, 'SHOPS_TIMEOUT_MS', 10_000, 50, 300_000),
    shopsPollMs: int(env, 'SHOPS_POLL_MS', 30_000, 50, 3600_000),
  };
  // The command consumers' server-side cap is MAX_DELIVER + 2 (infra/nats/topology.ts): more attempts
  // than that would never be delivered, and the final DOCUMENT_FAILED would never be reported.
  for (const [variable, attempts] of [['INVOICING_MAX_ATTEMPTS', config.invoicingMaxAttempts], ['MAIL_MAX_ATTEMPTS', config.mailMaxAttempts], ['LOGISTICS_MAX_ATTEMPTS', config.logisticsMaxAttempts], ['PAYMENTS_MAX_ATTEMPTS', config.payments.maxAttempts]] as const) {
    if (attempts > config.maxDeliver + 2) throw new ConfigError(variable, `must not exceed MAX_DELIVER + 2 (${config.maxDeliver + 2})`);
  }
  // A claim must outlast one send it covers: the PDF download and every SMTP timeout (it is renewed
  // while sending, but a sender stalled in one step must not lose its claim to a second sender).
  const sendBudgetMs = config.fakturowniaTimeoutMs + SMTP_TIMEOUTS_MS.connection + SMTP_TIMEOUTS_MS.greeting + SMTP_TIMEOUTS_MS.socket;
  if (config.mailClaimLeaseMs < sendBudgetMs) {
    throw new ConfigError('MAIL_CLAIM_LEASE_MS', `must be at least ${sendBudgetMs} (FAKTUROWNIA_TIMEOUT_MS + the SMTP connection, greeting and socket timeouts), got ${config.mailClaimLeaseMs}`);
  }
  if (config.ackWaitMs > config.duplicateWindowMs) {
    throw new ConfigError('ACK_WAIT_MS', 'must not exceed DUPLICATE_WINDOW_MS');
  }
  return Object.freeze(config);
}
