import type { KsefConfig } from '../../infra/config.ts';
import { isRetryable } from '../../infra/nats/consumer-runner.ts';
import type { Logger } from '../../infra/logger.ts';
import type { DocumentEvents, KsefReport } from '../contracts/index.ts';
import type { InvoicingProvider, KsefFileKind } from './invoicing.port.ts';
import { ksefNumberIn, ksefVerdict, type KsefReading } from './ksef-status.mapping.ts';
import type { KsefPatch, KsefRow, KsefStore } from './ksef.store.ts';
import { exponentialBackoff } from '../../infra/retry-policy.ts';

export interface KsefPollerDeps {
  provider: InvoicingProvider;
  store: KsefStore;
  events: DocumentEvents;
  logger: Logger;
  config: KsefConfig;
  /** How often the loop looks for due documents (default: min(1 s, KSEF_POLL_BASE_MS)). */
  tickMs?: number;
  hooks?: KsefPollerHooks;
  now?: () => Date;
}

export interface KsefPollerHooks {
  /**
   * Called after a verdict is saved and before it is reported. Tests use it to SIGKILL the process
   * at the worst moment; production leaves it unset.
   */
  afterVerdictSaved?: (row: KsefRow, patch: KsefPatch) => void | Promise<void>;
}

export interface KsefPoller {
  /** Runs one round now (tests; the loop runs rounds by itself). */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

const FILES: ReadonlyArray<{ kind: KsefFileKind; contentType: string }> = [
  { kind: 'gov', contentType: 'text/xml' },
  { kind: 'gov_upo', contentType: 'text/xml' },
];

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The KSeF poller: each invoicing instance runs this loop. It claims documents whose KSeF work is
 * due (`documents.ksef_next_poll_at`, a lease so instances never share one and a killed poller's
 * claim expires), reads their `gov_*` fields from the invoicing system, and per document:
 * 1. `processing` / `offline` → ask again later, with backoff; after KSEF_GIVE_UP_MS → KSEF_STATUS_UNKNOWN;
 * 2. `server_error` (a KSeF outage) → send again (`send_to_ksef=yes`) up to KSEF_OUTAGE_RESENDS, then KSEF_UNAVAILABLE;
 * 3. `duplicate_error` → look the KSeF number up and accept it when it is this document's, never issue again;
 * 4. a verdict is saved first, then reported (KSEF_ACCEPTED / KSEF_REJECTED / KSEF_OFFLINE with a stable
 *    message id), then marked reported: a crash in between reports it again, and the duplicate is dropped;
 * 5. once accepted, the KSeF XML and UPO are fetched and kept (retried with backoff while the
 *    invoicing system does not have them yet);
 * 6. a KSEF_STATUS_UNKNOWN is not KSeF's verdict (the status could not be told, the number may still
 *    come): the document is read again every KSEF_POLL_MAX_MS for KSEF_LATE_CHECK_MS more, and a late
 *    number is reported KSEF_ACCEPTED (the order takes it from `ksefRejected`).
 * Nothing here runs inside a message handler: no consumer is blocked while KSeF thinks.
 */
export function startKsefPoller(deps: KsefPollerDeps): KsefPoller {
  const { provider, store, events, config } = deps;
  const log = deps.logger.child({ component: 'ksef-poller' });
  const now = deps.now ?? (() => new Date());
  const backoff = exponentialBackoff(config.pollBaseMs, config.pollMaxMs);
  const later = (polls: number) => new Date(now().getTime() + backoff(Math.max(1, polls)));
  const tickMs = deps.tickMs ?? Math.min(1000, config.pollBaseMs);
  /** Step 6: when an unknown status is read again (null: it is over, an admin has it). */
  const lateCheckAt = (row: KsefRow, p: KsefPatch): Date | null =>
    p.state === 'rejected' && p.code === 'KSEF_STATUS_UNKNOWN' && now().getTime() < row.sentAt.getTime() + config.giveUpMs + config.lateCheckMs
      ? new Date(now().getTime() + config.pollMaxMs)
      : null;

  function patchOf(row: KsefRow): KsefPatch {
    return {
      state: row.state,
      govStatus: row.govStatus,
      ksefNumber: row.ksefNumber,
      link: row.link,
      code: row.code,
      errors: row.errors,
      outageResends: row.outageResends,
      polls: row.polls,
      verdictAt: row.verdictAt,
    };
  }

  /** Steps 1–3: one reading of the invoicing system turned into the document's next KSeF state. */
  async function poll(row: KsefRow): Promise<KsefPatch> {
    const p: KsefPatch = { ...patchOf(row), polls: row.polls + 1 };
    const verdict = (state: 'accepted' | 'rejected', fields: Partial<KsefPatch>): KsefPatch => ({ ...p, ...fields, state, verdictAt: now() });
    let reading: KsefReading;
    try {
      reading = await provider.ksefStatus(row.providerId);
    } catch (err) {
      if (isRetryable(err)) {
        log.warn({ orderId: row.orderId, err: message(err) }, 'could not read the KSeF status; will ask again');
        return p;
      }
      return verdict('rejected', { code: 'KSEF_STATUS_UNKNOWN', errors: [`the invoicing system would not show the document: ${message(err)}`] });
    }
    p.govStatus = reading.govStatus;
    const v = ksefVerdict(reading);
    switch (v.kind) {
      case 'accepted':
        return verdict('accepted', { ksefNumber: v.ksefNumber, link: v.verificationLink, code: null, errors: [] });
      case 'rejected':
        return verdict('rejected', { code: v.code, errors: v.errors });
      case 'offline':
        return { ...p, state: 'offline', code: 'KSEF_OFFLINE', errors: v.errors };
      case 'pending':
      case 'uncertain':
        if (v.kind === 'uncertain') p.errors = v.errors;
        break;
      case 'outage':
      case 'not-sent':
        if (p.outageResends >= config.outageResends) {
          return verdict('rejected', {
            code: v.kind === 'outage' ? 'KSEF_UNAVAILABLE' : 'KSEF_STATUS_UNKNOWN',
            errors: v.kind === 'outage' ? [`KSeF failed (server_error) ${p.outageResends + 1} times`, ...v.errors] : ['the invoicing system did not send the document to KSeF'],
          });
        }
        try {
          await provider.sendToKsef(row.providerId);
          p.outageResends += 1;
          p.state = 'processing';
          log.info({ orderId: row.orderId, resend: p.outageResends, govStatus: reading.govStatus }, 'sent the document to KSeF again');
        } catch (err) {
          log.warn({ orderId: row.orderId, err: message(err) }, 'could not send the document to KSeF again; will try later');
        }
        return p;
      case 'duplicate': {
        const candidate = reading.ksefNumber ?? ksefNumberIn(v.errors);
        if (candidate !== null) {
          try {
            const ids = await provider.findByKsefNumber(candidate);
            if (ids.includes(row.providerId)) {
              log.info({ orderId: row.orderId, ksefNumber: candidate }, 'duplicate_error reconciled: KSeF already has this very document');
              return verdict('accepted', { ksefNumber: candidate, link: reading.verificationLink, code: null, errors: [] });
            }
          } catch (err) {
            if (isRetryable(err)) return p;
          }
        }
        return verdict('rejected', { code: 'KSEF_DUPLICATE_UNRESOLVED', errors: [candidate ? `KSeF number ${candidate} is not this document` : 'no KSeF number to look up', ...v.errors] });
      }
    }
    if (now().getTime() - row.sentAt.getTime() > config.giveUpMs) {
      return verdict('rejected', { code: 'KSEF_STATUS_UNKNOWN', errors: [`no verdict from KSeF after ${Math.round(config.giveUpMs / 60_000)} min (last gov_status: ${reading.govStatus ?? 'null'})`, ...p.errors] });
    }
    return p;
  }

  function reportOf(p: KsefPatch): KsefReport | null {
    if (p.state === 'accepted' && p.ksefNumber !== null) return { type: 'KSEF_ACCEPTED', ksefNumber: p.ksefNumber, verificationLink: p.link };
    if (p.state === 'rejected') return { type: 'KSEF_REJECTED', code: p.code ?? 'KSEF_REJECTED', errors: p.errors.slice(0, 50) };
    if (p.state === 'offline') return { type: 'KSEF_OFFLINE', errors: p.errors.slice(0, 50) };
    return null;
  }

  /** Step 5: the XML and UPO; true when both are kept. */
  async function fetchFiles(row: KsefRow): Promise<boolean> {
    const have = new Set((await store.filesOf(row.orderId)).map((f) => f.kind));
    for (const f of FILES) {
      if (have.has(f.kind)) continue;
      try {
        const content = await provider.downloadKsefFile(row.providerId, f.kind);
        if (content === null) continue;
        await store.saveFile(row, f.kind, content, f.contentType);
        have.add(f.kind);
      } catch (err) {
        log.warn({ orderId: row.orderId, kind: f.kind, err: message(err) }, 'could not fetch a KSeF file; will try again');
      }
    }
    return have.size >= FILES.length;
  }

  async function work(row: KsefRow): Promise<void> {
    let p = patchOf(row);
    const late = row.state === 'rejected' && row.code === 'KSEF_STATUS_UNKNOWN';
    if (row.state === 'processing' || row.state === 'offline' || late) {
      p = await poll(row);
      // Still no verdict after a give-up: the unknown status stands as it was (no new report).
      if (late && p.state === 'rejected') p = { ...patchOf(row), polls: p.polls, govStatus: p.govStatus };
      const waiting = p.state === 'processing' || (p.state === 'offline' && row.reported === 'offline');
      await store.update(row.providerId, p, waiting ? later(p.polls) : now());
      if (p.state !== row.state) log.info({ orderId: row.orderId, number: row.number, state: p.state, ksefNumber: p.ksefNumber, code: p.code }, 'KSeF verdict');
      if (p.state !== 'processing') await deps.hooks?.afterVerdictSaved?.(row, p);
    }
    const report = reportOf(p);
    if (report !== null && row.reported !== p.state) {
      await events.ksef(row.orderId, row.providerId, row.sends, report, row.parentOrderId ?? undefined);
      const next = p.state === 'accepted' ? now() : p.state === 'offline' ? later(p.polls) : lateCheckAt(row, p);
      await store.reported(row.providerId, p.state, next);
      if (p.state !== 'accepted') return;
    }
    if (p.state === 'accepted' && row.files < FILES.length) {
      const done = await fetchFiles({ ...row, ...p });
      const since = (p.verdictAt ?? now()).getTime();
      const giveUp = !done && now().getTime() - since > config.giveUpMs;
      if (giveUp) log.warn({ orderId: row.orderId }, 'KSeF files still missing after KSEF_GIVE_UP_MS; giving up on them');
      await store.update(row.providerId, { ...p, polls: p.polls + 1 }, done || giveUp ? null : later(p.polls + 1));
    } else if (p.state === 'accepted' || p.state === 'rejected') {
      await store.reported(row.providerId, p.state, p.state === 'rejected' ? lateCheckAt(row, p) : null);
    }
  }

  let stopped = false;
  let wake: (() => void) | null = null;
  async function tick(): Promise<number> {
    const rows = await store.claimDue(config.pollBatch, config.pollLeaseMs);
    await Promise.all(
      rows.map((row) =>
        work(row).catch((err: unknown) => {
          // The claim's lease brings the document back after KSEF_POLL_LEASE_MS.
          log.error({ orderId: row.orderId, err: message(err) }, 'KSeF poll failed; the document comes back when its lease ends');
        }),
      ),
    );
    return rows.length;
  }
  const loop = (async () => {
    while (!stopped) {
      try {
        const n = await tick();
        if (n === config.pollBatch) continue;
      } catch (err) {
        log.warn({ err: message(err) }, 'KSeF poll round failed; will retry');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, tickMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  })();
  return {
    tick,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
