import type { Logger } from '../../infra/logger.ts';
import {
  COMMAND_PAYLOADS,
  validate,
  warehouseEventKey,
  WarehouseWebhookSchema,
  type Envelope,
  type WarehouseWebhook,
} from '../contracts/index.ts';
import type { LogisticsOutPort } from './order-events.port.ts';
import { mapWarehouseWebhook } from './warehouse-status.mapping.ts';
import type { WarehouseLogPort } from './warehouse.port.ts';

export interface WarehouseStatusDeps {
  log: WarehouseLogPort;
  out: LogisticsOutPort;
  logger: Logger;
  /** True when we handed a shipment with this reference to the warehouse (it is one of our orders). */
  isKnownReference(reference: string): Promise<boolean>;
}

function parseBody(body: unknown): { raw: string; parsed: unknown } {
  if (typeof body === 'string') {
    try {
      return { raw: body, parsed: JSON.parse(body) };
    } catch {
      return { raw: body, parsed: undefined };
    }
  }
  return { raw: JSON.stringify(body) ?? '', parsed: body };
}

function isoOrUndefined(s: string): string | undefined {
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * `warehouse-status`: one status webhook the gateway verified and stored. Logs it raw in the
 * warehouse log (once per event id), maps the status with `warehouse-status.mapping.ts` and
 * publishes the order event with the stable id `warehouse:<eventId>` (a repeated webhook changes
 * nothing). A reference we never submitted is logged as unmatched and an admin is told; so is a
 * body that is not a status webhook, or a status the mapping does not know.
 */
export function createWarehouseStatusHandler(deps: WarehouseStatusDeps) {
  const log = deps.logger.child({ handler: 'warehouse-status' });

  return async function handleWarehouseStatus(env: Envelope): Promise<void> {
    const cmd = validate(COMMAND_PAYLOADS.warehouseStatus, env.payload, 'warehouse-status payload');
    const { raw, parsed } = parseBody(cmd.body);
    let hook: WarehouseWebhook;
    try {
      hook = validate(WarehouseWebhookSchema, parsed, 'warehouse webhook');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await deps.log.record({
        orderId: null,
        reference: null,
        direction: 'in',
        kind: 'webhook',
        status: 'INVALID',
        dedupeKey: `warehouse-webhook:${cmd.webhookId}`,
        matched: false,
        errorCode: 'VALIDATION_FAILED',
        raw,
        timeline: true,
        summary: `Unreadable warehouse webhook: ${message}`,
      });
      await deps.out.notifyAdmin({
        id: `warehouse-invalid:${cmd.webhookId}`,
        cause: env,
        notice: {
          kind: 'warehouse.invalid-webhook',
          severity: 'warning',
          code: 'VALIDATION_FAILED',
          message: `Warehouse webhook ${cmd.webhookId} is not a status webhook: ${message}`.slice(0, 4000),
          orderId: null,
          externalId: null,
        },
      });
      log.warn({ webhookId: cmd.webhookId, err: message }, 'unreadable warehouse webhook logged; admin told');
      return;
    }

    const key = warehouseEventKey(hook.eventId);
    const matched = await deps.isKnownReference(hook.reference);
    const mapped = mapWarehouseWebhook(hook);
    const base = {
      reference: hook.reference,
      shipmentId: hook.shipmentId,
      direction: 'in' as const,
      kind: 'webhook',
      status: hook.status,
      eventId: hook.eventId,
      dedupeKey: key,
      raw,
      occurredAt: hook.occurredAt,
    };
    if (!matched) {
      const fresh = await deps.log.record({
        ...base,
        orderId: null,
        matched: false,
        timeline: true,
        summary: `Unmatched status ${hook.status} for unknown reference ${hook.reference} (shipment ${hook.shipmentId})`,
      });
      await deps.out.notifyAdmin({
        id: `warehouse-unmatched:${hook.eventId}`,
        cause: env,
        notice: {
          kind: 'warehouse.unmatched',
          severity: 'warning',
          code: 'WAREHOUSE_UNMATCHED',
          message: `Warehouse reported ${hook.status} for shipment ${hook.shipmentId} with reference ${hook.reference}, which is not one of our orders`.slice(0, 4000),
          orderId: null,
          externalId: null,
        },
      });
      if (fresh) log.warn({ eventId: hook.eventId, reference: hook.reference, status: hook.status }, 'warehouse status for an unknown reference; admin told');
      return;
    }

    const fresh = await deps.log.record({
      ...base,
      orderId: hook.reference,
      matched: true,
      orderEvent: mapped.event?.type ?? null,
      errorCode: mapped.unknownStatus ? 'WAREHOUSE_STATUS_UNKNOWN' : null,
      timeline: mapped.timeline,
      summary: mapped.summary,
    });
    if (mapped.unknownStatus) {
      await deps.out.notifyAdmin({
        id: `warehouse-unknown-status:${hook.eventId}`,
        cause: env,
        notice: {
          kind: 'warehouse.unknown-status',
          severity: 'warning',
          code: 'WAREHOUSE_STATUS_UNKNOWN',
          message: `Warehouse reported status "${hook.status}" for order ${hook.reference}; the status mapping does not know it`.slice(0, 4000),
          orderId: hook.reference,
          externalId: null,
        },
      });
    }
    if (mapped.event !== null) {
      await deps.out.orderEvent({
        id: key,
        orderId: hook.reference,
        type: mapped.event.type,
        payload: mapped.event.payload,
        cause: env,
        occurredAt: isoOrUndefined(hook.occurredAt),
      });
    }
    log.info({ orderId: hook.reference, eventId: hook.eventId, status: hook.status, orderEvent: mapped.event?.type ?? null, duplicate: !fresh }, 'warehouse status');
  };
}
