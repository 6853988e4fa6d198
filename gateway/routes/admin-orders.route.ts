import { randomUUID } from 'node:crypto';
import Type from 'typebox';
import type { StateValue } from 'xstate';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import {
  ADMIN_EVENT_TYPES,
  allowedAdminEvents,
  ORDER_MACHINE_VERSION,
  ORDER_STATUSES,
  restoreOrderSnapshot,
  type AdminEventType,
  type OrderContext,
} from '../../machines/order/index.ts';
import { ORDER_EVENT_PAYLOADS, OrderpilotError, validate } from '../../services/contracts/index.ts';
import { adminAuthHook } from '../admin-auth.ts';
import type { GatewayRoute } from '../gateway.types.ts';
import { acknowledgeOrderNotifications } from './notifications.queries.ts';

/** The notification kinds (raised by the order machine) an admin event settles. */
const RESOLVES: Record<AdminEventType, readonly string[]> = {
  RELEASE: ['order.held'],
  MARK_SHIPPED: ['order.held'],
  CANCEL: ['order.held'],
  ISSUE_DOCUMENT: ['document.failed'],
  RETRY_DOCUMENT: ['document.failed'],
  RESEND_TO_KSEF: ['document.ksef-rejected'],
};

const security = [{ adminToken: [] }];

const ListQuery = Type.Object({
  state: Type.Optional(Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)))),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text search in externalId and customer e-mail' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
});

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, description: 'order id or the shop externalId' }) });

const EventBody = Type.Object({
  type: Type.Union(ADMIN_EVENT_TYPES.map((t) => Type.Literal(t))),
  note: Type.Optional(Type.String({ maxLength: 2000 })),
  trackingNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'MARK_SHIPPED only' })),
  carrier: Type.Optional(Type.String({ maxLength: 100, description: 'MARK_SHIPPED only' })),
});

interface OrderRow {
  id: string;
  external_id: string;
  state: string;
  document_state: string;
  customer_email: string;
  hold_code: string | null;
  snapshot: { value: StateValue; context: OrderContext };
  machine_version: string;
  version: number;
  created_at: Date;
  updated_at: Date;
  created_key: string;
}

interface Cursor {
  at: string;
  id: string;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' && !Number.isNaN(Date.parse(v[0]))) return { at: v[0], id: v[1] };
  } catch {
    // fall through
  }
  throw new OrderpilotError('VALIDATION_FAILED', 'invalid request: querystring.cursor is not a cursor this API gave out', {
    fields: [{ field: 'querystring.cursor', message: 'is not a cursor this API gave out' }],
  });
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The admin events the machine accepts now; none when the snapshot is of a machine version we do not run. */
function allowedFor(row: OrderRow): AdminEventType[] {
  if (row.machine_version !== ORDER_MACHINE_VERSION) return [];
  return allowedAdminEvents(restoreOrderSnapshot(row.snapshot));
}

/** `/admin/api/orders`: list, detail (context, history, allowed events), admin events. */
export const adminOrdersRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc, names } = ctx.deps;
  app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));

  async function load(idOrExternal: string): Promise<OrderRow> {
    const [row] = await sql<OrderRow[]>`
      select *, created_at::text as created_key from orders where id = ${idOrExternal}
      union all
      select *, created_at::text as created_key from orders where external_id = ${idOrExternal} and id <> ${idOrExternal}
      limit 1`;
    if (!row) throw new OrderpilotError('NOT_FOUND', `no order ${idOrExternal}`);
    return row;
  }

  app.get(
    '/admin/api/orders',
    { schema: { summary: 'List orders, newest first', tags: ['admin'], security, querystring: ListQuery } },
    async (request) => {
      const { state, q, cursor } = request.query;
      const limit = request.query.limit ?? 50;
      const c = cursor === undefined ? null : decodeCursor(cursor);
      const rows = await sql<OrderRow[]>`
        select *, created_at::text as created_key from orders
        where true
          ${state ? sql`and state = ${state}` : sql``}
          ${q ? sql`and (external_id ilike ${likePattern(q)} or customer_email ilike ${likePattern(q.toLowerCase())} or id = ${q})` : sql``}
          ${c ? sql`and (created_at, id) < (${c.at}::timestamptz, ${c.id})` : sql``}
        order by created_at desc, id desc
        limit ${limit + 1}`;
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => ({
          id: r.id,
          externalId: r.external_id,
          state: r.state,
          documentState: r.document_state,
          customerEmail: r.customer_email,
          holdCode: r.hold_code,
          total: r.snapshot.context.order.total,
          currency: r.snapshot.context.order.currency,
          createdAt: r.created_at.toISOString(),
          updatedAt: r.updated_at.toISOString(),
        })),
        nextCursor: rows.length > limit && last ? encodeCursor({ at: last.created_key, id: last.id }) : null,
      };
    },
  );

  app.get(
    '/admin/api/orders/:id',
    { schema: { summary: 'One order: state, context, history, allowed admin events', tags: ['admin'], security, params: IdParams } },
    async (request) => {
      const row = await load(request.params.id);
      const history = await sql<Record<string, unknown>[]>`
        select id::text as id, message_id, type, source, outcome, from_state, to_state, to_value, payload, actor, note, occurred_at, at
        from order_history where order_id = ${row.id} order by id`;
      const c = row.snapshot.context;
      return {
        id: row.id,
        externalId: row.external_id,
        state: row.state,
        documentState: row.document_state,
        value: row.snapshot.value,
        machineVersion: row.machine_version,
        version: row.version,
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        hold: c.hold,
        document: c.document,
        documentFailure: c.documentFailure,
        documentEmailedAt: c.documentEmailedAt,
        tracking: { shipmentId: c.shipmentId, trackingNumber: c.trackingNumber, carrier: c.carrier },
        payment: c.payment,
        cancellation: c.cancellation,
        lastAdminNote: c.lastAdminNote,
        context: c,
        history: history.map((h) => ({
          id: h['id'],
          messageId: h['message_id'],
          type: h['type'],
          source: h['source'],
          outcome: h['outcome'],
          from: h['from_state'],
          to: h['to_state'],
          toValue: h['to_value'],
          payload: h['payload'],
          actor: h['actor'],
          note: h['note'],
          occurredAt: (h['occurred_at'] as Date).toISOString(),
          at: (h['at'] as Date).toISOString(),
        })),
        allowedEvents: allowedFor(row),
      };
    },
  );

  app.post(
    '/admin/api/orders/:id/events',
    {
      schema: {
        summary: 'Send an admin event (RELEASE, CANCEL, ISSUE_DOCUMENT, RETRY_DOCUMENT, MARK_SHIPPED)',
        description: '202 when the machine allows it now; 409 with the allowed events otherwise. Optional Idempotency-Key header.',
        tags: ['admin'],
        security,
        params: IdParams,
        body: EventBody,
      },
    },
    async (request, reply) => {
      const row = await load(request.params.id);
      const { type, note, trackingNumber, carrier } = request.body;
      const allowed = allowedFor(row);
      if (!allowed.includes(type)) {
        throw new OrderpilotError('EVENT_NOT_ALLOWED', `${type} is not allowed for order ${row.id} in state ${row.state}; allowed: ${allowed.join(', ') || 'none'}`, {
          state: row.state,
          allowed,
        });
      }
      const raw: Record<string, unknown> = {};
      if (note !== undefined && note.trim() !== '') raw['note'] = note.trim();
      if (type === 'MARK_SHIPPED') {
        if (trackingNumber !== undefined) raw['trackingNumber'] = trackingNumber;
        if (carrier !== undefined) raw['carrier'] = carrier;
      }
      let payload: unknown;
      try {
        payload = validate(ORDER_EVENT_PAYLOADS[type], raw, type);
      } catch (err) {
        if (err instanceof OrderpilotError) {
          const need = type === 'RELEASE' ? 'body.note is required for RELEASE' : type === 'MARK_SHIPPED' ? 'body.trackingNumber is required for MARK_SHIPPED' : err.message;
          throw new OrderpilotError('VALIDATION_FAILED', `invalid request: ${need}`, err.details);
        }
        throw err;
      }
      const admin = request.adminName ?? 'admin';
      const key = request.headers['idempotency-key'];
      const id = typeof key === 'string' && /^[\w.:-]{1,100}$/.test(key) ? `admin:${admin}:${key}` : `admin:${randomUUID()}`;
      try {
        await publishOrderEvent(nc, names, { type, orderId: row.id, id, actor: admin, payload });
      } catch (err) {
        throw new OrderpilotError('NATS_UNAVAILABLE', 'could not forward the event; try again', undefined, { cause: err, retryAfterMs: 1000 });
      }
      ctx.metrics.published.inc({ type });
      // The admin has acted on the problem: its notification is done, and if the problem comes back
      // (a release that fails again) it notifies anew instead of only counting up.
      const resolved = await acknowledgeOrderNotifications(sql, row.id, admin, RESOLVES[type]).catch((err: unknown) => {
        request.log.warn({ orderId: row.id, err: err instanceof Error ? err.message : String(err) }, 'could not acknowledge the order notifications');
        return [];
      });
      request.log.info({ orderId: row.id, type, admin, messageId: id, acknowledged: resolved }, 'admin event sent');
      return reply.code(202).send({ accepted: true, orderId: row.id, type, messageId: id, by: admin });
    },
  );
};
