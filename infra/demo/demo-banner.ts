/** What the demo's banner names: every address a person needs, as they are in use right now. */
export interface DemoBannerInfo {
  consoleUrl: string;
  adminName: string;
  /** null when ADMIN_TOKENS came from the environment (the token is the user's own). */
  adminToken: string | null;
  docsUrl: string;
  mailboxUrl: string;
  /** The console's offline live inspector page (`/admin/inspector`). */
  inspectorUrl: string | null;
  /** Stately's inspector bridge, when `--inspect` / ORDERPILOT_INSPECT=1 is on. */
  statelyInspectorUrl: string | null;
  databaseUrl: string;
  natsUrl: string;
  natsPrefix: string;
  shop: string;
  /** The connected shop sandboxes (WooCommerce, Magento) or the user's own SHOPS. */
  connectedShops?: string;
  dataDir: string;
  /** What the demo started itself (embedded Postgres, nats-server). */
  started: readonly string[];
}

/**
 * The banner the demo prints last at start and again whenever Enter is pressed. Plain text, one
 * address per line, so it can be read, copied, and found by a test.
 */
export function demoBanner(b: DemoBannerInfo): string {
  const cli = `DATABASE_URL='${b.databaseUrl}' NATS_URL='${b.natsUrl}' NATS_PREFIX=${b.natsPrefix}`;
  return [
    '',
    '──────────────────────────────────────────────────────────────────────────────',
    ' orderpilot demo is running',
    '',
    `  admin console    ${b.consoleUrl}`,
    `  sign in as       ${b.adminName}`,
    `  admin token      ${b.adminToken ?? '(your ADMIN_TOKENS from the environment)'}`,
    `  live inspector   ${b.inspectorUrl ?? '—'}`,
    ...(b.statelyInspectorUrl ? [`  Stately bridge   ${b.statelyInspectorUrl}   (needs internet: embeds stately.ai)`] : []),
    `  demo mailbox     ${b.mailboxUrl}   (invoices sent to customers, admin notices)`,
    `  API docs         ${b.docsUrl}`,
    `  Postgres         ${b.databaseUrl}`,
    `  NATS             ${b.natsUrl}   (prefix ${b.natsPrefix})`,
    `  demo shop        ${b.shop}`,
    ...(b.connectedShops ? [`  connected shops  ${b.connectedShops}`] : []),
    `  data             ${b.dataDir}${b.started.length ? `   (${b.started.join(', ')} started here)` : ''}`,
    '',
    `  CLI against this demo:  ${cli} npx orderpilot dead-letters`,
    '',
    ' Enter shows this again · Ctrl-C stops everything cleanly · `npm start` continues where it stopped',
    '──────────────────────────────────────────────────────────────────────────────',
    '',
  ].join('\n');
}
