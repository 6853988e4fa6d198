import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { ADMIN_EVENT_TYPES, ORDER_STATUSES, type AdminEventType } from '../../machines/order/index.ts';
import { httpStatusOf, isOrderpilotError, ORDER_EVENT_PAYLOADS, OrderpilotError, validate } from '../../services/contracts/index.ts';
import { findOrder, listOrders, orderHistory, type OrderCursor, type OrderDetail } from '../../services/orders/index.ts';
import { createAdminIdempotency, IDEMPOTENCY_KEY_PATTERN, type RecordedAnswer } from '../admin-idempotency.ts';
import { adminAuthHook } from '../admin-auth.ts';
import { errorBody } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';


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

function encodeCursor(c: OrderCursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString('base64url');
}

function decodeCursor(raw: string): OrderCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string' && !Number.isNaN(Date.parse(v[0]))) return { at: v[0], id: v[1] };
  } catch {
    // fall through
  }
  throw new OrderpilotError('VALIDATION_FAILED', 'invalid request: querystring.cursor is not a cursor this API gave out', { details: {
    fields: [{ field: 'querystring.cursor', message: 'is not a cursor this API gave out' }],
  } });
}

/** `/admin/api/orders`: list, detail (context, history, allowed events), admin events. */
export const adminOrdersRoute: GatewayRoute = async (app, ctx) => {
  const { sql, nc, names } = ctx.deps;
  const idempotency = createAdminIdempotency({ sql });
  app.addHook('onRequest', adminAuthHook(ctx.deps.config.adminTokens));

  async function load(idOrExternal: string): Promise<OrderDetail> {
    const order = await findOrder(sql, idOrExternal);
    if (!order) throw new OrderpilotError('NOT_FOUND', `no order ${idOrExternal}`);
    return order;
  }

  /** The event's payload from the request body (422 naming what is missing). */
  function eventPayload(body: Static<typeof EventBody>): unknown {
    const { type, note, trackingNumber, carrier } = body;
    const raw: Record<string, unknown> = {};
    if (note !== undefined && note.trim() !== '') raw['note'] = note.trim();
    if (type === 'MARK_SHIPPED') {
      if (trackingNumber !== undefined) raw['trackingNumber'] = trackingNumber;
      if (carrier !== undefined) raw['carrier'] = carrier;
    }
    try {
      return validate(ORDER_EVENT_PAYLOADS[type], raw, type);
    } catch (err) {
      if (err instanceof OrderpilotError) {
        const need = type === 'RELEASE' ? 'body.note is required for RELEASE' : type === 'MARK_SHIPPED' ? 'body.trackingNumber is required for MARK_SHIPPED' : err.message;
        throw new OrderpilotError('VALIDATION_FAILED', `invalid request: ${need}`, { details: err.details });
      }
      throw err;
    }
  }

  /**
   * Asks the machine whether the event is allowed now (409 with the allowed list otherwise) and
   * publishes it. Notifications are not settled here: the order host settles them once the event
   * is actually applied (services/orders), so an event that is dropped or ignored settles nothing.
   */
  async function decide(row: OrderDetail, admin: string, type: AdminEventType, payload: unknown, messageId: string): Promise<RecordedAnswer> {
    const allowed = row.allowedEvents;
    if (!allowed.includes(type)) {
      throw new OrderpilotError('EVENT_NOT_ALLOWED', `${type} is not allowed for order ${row.id} in state ${row.state}; allowed: ${allowed.join(', ') || 'none'}`, {
        details: { state: row.state, allowed },
      });
    }
    try {
      await publishOrderEvent(nc, names, { type, orderId: row.id, id: messageId, actor: admin, payload });
    } catch (err) {
      throw new OrderpilotError('NATS_UNAVAILABLE', 'could not forward the event; try again', { cause: err, retryAfterMs: 1000 });
    }
    ctx.metrics.published.inc({ type });
    ctx.deps.logger.info({ orderId: row.id, type, admin, messageId }, 'admin event sent');
    return { status: 202, body: JSON.stringify({ accepted: true, orderId: row.id, type, messageId, by: admin }) };
  }

  app.get(
    '/admin/api/orders',
    { schema: { summary: 'List orders, newest first', tags: ['admin'], security, querystring: ListQuery } },
    async (request) => {
      const { state, q, cursor } = request.query;
      const limit = request.query.limit ?? 50;
      const before = cursor === undefined ? null : decodeCursor(cursor);
      const page = await listOrders(sql, { state, q, limit, before });
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get(
    '/admin/api/orders/:id',
    { schema: { summary: 'One order: state, context, history, allowed admin events', tags: ['admin'], security, params: IdParams } },
    async (request) => {
      const order = await load(request.params.id);
      const history = await orderHistory(sql, order.id);
      const c = order.context;
      return {
        id: order.id,
        externalId: order.externalId,
        state: order.state,
        documentState: order.documentState,
        value: order.value,
        machineVersion: order.machineVersion,
        version: order.version,
        createdAt: order.createdAt,
        updatedAt: order.updatedAt,
        hold: c.hold,
        document: c.document,
        documentFailure: c.documentFailure,
        documentEmailedAt: c.documentEmailedAt,
        tracking: { shipmentId: c.shipmentId, trackingNumber: c.trackingNumber, carrier: c.carrier },
        payment: c.payment,
        cancellation: c.cancellation,
        lastAdminNote: c.lastAdminNote,
        context: c,
        history,
        allowedEvents: order.allowedEvents,
      };
    },
  );

  app.post(
    '/admin/api/orders/:id/events',
    {
      schema: {
        summary: 'Send an admin event (RELEASE, CANCEL, ISSUE_DOCUMENT, RETRY_DOCUMENT, MARK_SHIPPED)',
        description: '202 when the machine allows it now; 409 with the allowed events otherwise. Optional Idempotency-Key header: a repeat gets the first answer again; the same key with another order, type or body is 422 IDEMPOTENCY_KEY_REUSED.',
        tags: ['admin'],
        security,
        params: IdParams,
        body: EventBody,
      },
    },
    async (request, reply) => {
      const row = await load(request.params.id);
      const admin = request.adminName ?? 'admin';
      const { type } = request.body;
      // A body the event cannot carry is refused before any key is spent on it.
      const payload = eventPayload(request.body);
      const rawKey = request.headers['idempotency-key'];
      if (rawKey === undefined) {
        const answer = await decide(row, admin, type, payload, `admin:${randomUUID()}`);
        return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.body);
      }
      if (typeof rawKey !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(rawKey)) {
        const message = 'must be 1–100 letters, digits, "_", ".", ":" or "-"';
        throw new OrderpilotError('VALIDATION_FAILED', `invalid request: headers.idempotency-key ${message}`, { details: { fields: [{ field: 'headers.idempotency-key', message }] } });
      }
      // The key first, the decision second: every repeat of one request gets the first one's answer,
      // whatever the order's state is by then (so ten concurrent repeats answer alike).
      const claim = await idempotency.claim({ admin, key: rawKey, orderId: row.id, eventType: type, body: payload });
      if (claim.kind === 'repeat') {
        request.log.info({ orderId: row.id, type, admin, key: rawKey, status: claim.answer.status }, 'admin event repeated: the original answer');
        return reply.code(claim.answer.status).type('application/json; charset=utf-8').send(claim.answer.body);
      }
      let answer: RecordedAnswer;
      try {
        answer = await decide(row, admin, type, payload, claim.messageId);
      } catch (err) {
        if (isOrderpilotError(err) && !err.retryable) {
          await idempotency.answer(admin, rawKey, { status: httpStatusOf(err.code), body: JSON.stringify(errorBody(err.code, err.message, err.details)) });
        } else {
          // NATS or Postgres down: nothing was decided, so a retry with this key is tried anew.
          await idempotency.release(admin, rawKey).catch(() => {});
        }
        throw err;
      }
      await idempotency.answer(admin, rawKey, answer);
      return reply.code(answer.status).type('application/json; charset=utf-8').send(answer.body);
    },
  );
};
