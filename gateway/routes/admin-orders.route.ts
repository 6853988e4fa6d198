import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { publishOrderEvent } from '../../infra/nats/publish.ts';
import { ADMIN_EVENT_TYPES, ORDER_STATUSES, refundableAmount, restoreOrderSnapshot, type AdminEventType, type OrderEvent } from '../../machines/order/index.ts';
import {
  AddressSchema,
  BuyerUpdateSchema,
  httpStatusOf,
  isOrderpilotError,
  IsoDate,
  ORDER_EVENT_PAYLOADS,
  OrderpilotError,
  taxIdProblem,
  validate,
  type Envelope,
} from '../../services/contracts/index.ts';
import { findOrder, listOrders, ORDER_SORTS, orderHistory, type OrderCursor, type OrderDetail } from '../../services/orders/index.ts';
import { createAdminIdempotency, IDEMPOTENCY_KEY_PATTERN, type RecordedAnswer } from '../admin-idempotency.ts';
import { adminAuthHook } from '../admin-auth.ts';
import { errorBody } from '../errors.ts';
import type { GatewayRoute } from '../gateway.types.ts';


const security = [{ adminToken: [] }];

const ListQuery = Type.Object({
  state: Type.Optional(Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)))),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text search in externalId, customer e-mail and name; or an exact order id, document number or tracking number' })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'created at or after (ISO 8601 with offset)' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'created before' })),
  sort: Type.Optional(Type.Union(ORDER_SORTS.map((s) => Type.Literal(s)), { default: 'newest' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
});

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128, description: 'order id or the shop externalId' }) });

/**
 * An admin event. Besides `note`: `trackingNumber`/`carrier` (MARK_SHIPPED), `shippingAddress`
 * (UPDATE_SHIPPING_ADDRESS, the intake shape), `customer` + optional `billingAddress` (UPDATE_BUYER,
 * NIP checksum checked), `number`/`issueDate` (ATTACH_DOCUMENT), `email` (RESEND_DOCUMENT_EMAIL),
 * `amount`/`reason` (REFUND).
 */
const EventBody = Type.Object({
  type: Type.Unsafe<AdminEventType>(Type.Union(ADMIN_EVENT_TYPES.map((t) => Type.Literal(t)))),
  note: Type.Optional(Type.String({ maxLength: 2000 })),
  trackingNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'MARK_SHIPPED only' })),
  carrier: Type.Optional(Type.String({ maxLength: 100, description: 'MARK_SHIPPED only' })),
  shippingAddress: Type.Optional(AddressSchema),
  customer: Type.Optional(BuyerUpdateSchema),
  billingAddress: Type.Optional(AddressSchema),
  number: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'ATTACH_DOCUMENT: the number of the document issued by hand' })),
  issueDate: Type.Optional(IsoDate),
  email: Type.Optional(Type.String({ format: 'email', maxLength: 254, description: 'RESEND_DOCUMENT_EMAIL: another recipient (default: the customer)' })),
  correctionId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'RESEND_TO_KSEF: a correction document KSeF refused (default: the invoice)' })),
  amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000_00, description: 'REFUND: the amount in minor units (grosze, cents)' })),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'REFUND: why (printed on the correction document)' })),
});

/** The body fields each event carries besides `note` (the rest are refused as not belonging to it). */
const EVENT_FIELDS: Partial<Record<AdminEventType, ReadonlyArray<keyof Static<typeof EventBody>>>> = {
  MARK_SHIPPED: ['trackingNumber', 'carrier'],
  UPDATE_SHIPPING_ADDRESS: ['shippingAddress'],
  UPDATE_BUYER: ['customer', 'billingAddress'],
  ATTACH_DOCUMENT: ['number', 'issueDate'],
  RESEND_DOCUMENT_EMAIL: ['email'],
  REFUND: ['amount', 'reason'],
  RESEND_TO_KSEF: ['correctionId'],
};

/** Events whose note is required (each changes data an admin must explain). */
const NOTE_REQUIRED: readonly AdminEventType[] = ['RELEASE', 'UPDATE_SHIPPING_ADDRESS', 'UPDATE_BUYER', 'ATTACH_DOCUMENT'];

function fieldError(problems: Array<{ field: string; message: string }>): OrderpilotError {
  return new OrderpilotError('VALIDATION_FAILED', `invalid request: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, { details: { fields: problems } });
}

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

  /**
   * The order and its history as of one moment. They are two reads: an event committed between them
   * would show in the history but not in the state and context beside it, so the order is read again
   * after the history and both are read anew while its version moved (twice at most; after that the
   * order is newer than the history, never older).
   */
  async function loadWithHistory(idOrExternal: string): Promise<{ order: OrderDetail; history: Awaited<ReturnType<typeof orderHistory>> }> {
    let order = await load(idOrExternal);
    for (let attempt = 1; ; attempt++) {
      const history = await orderHistory(sql, order.id);
      const again = await load(order.id);
      if (again.version === order.version || attempt >= 3) return { order: again, history };
      order = again;
    }
  }

  /**
   * The event's payload from the request body (422 naming each bad or missing field, so a form can
   * show the message beside it). UPDATE_BUYER is validated like the intake, NIP checksum included.
   */
  function eventPayload(body: Static<typeof EventBody>, row: OrderDetail): unknown {
    const { type, note } = body;
    const raw: Record<string, unknown> = {};
    if (note !== undefined && note.trim() !== '') raw['note'] = note.trim();
    const problems: Array<{ field: string; message: string }> = [];
    if (NOTE_REQUIRED.includes(type) && raw['note'] === undefined) problems.push({ field: 'body.note', message: `is required for ${type}` });
    for (const f of EVENT_FIELDS[type] ?? []) if (body[f] !== undefined) raw[f] = body[f];
    if (type === 'UPDATE_SHIPPING_ADDRESS' && body.shippingAddress === undefined) problems.push({ field: 'body.shippingAddress', message: 'is required for UPDATE_SHIPPING_ADDRESS' });
    if (type === 'ATTACH_DOCUMENT') {
      if (body.number === undefined || body.number.trim() === '') problems.push({ field: 'body.number', message: 'is required for ATTACH_DOCUMENT' });
      else raw['number'] = body.number.trim();
      if (body.issueDate === undefined) problems.push({ field: 'body.issueDate', message: 'is required for ATTACH_DOCUMENT' });
    }
    if (type === 'REFUND') {
      if (body.amount === undefined) problems.push({ field: 'body.amount', message: 'is required for REFUND (minor units)' });
      if (body.reason === undefined || body.reason.trim() === '') problems.push({ field: 'body.reason', message: 'is required for REFUND' });
      else raw['reason'] = body.reason.trim();
    }
    if (type === 'UPDATE_BUYER') {
      const c = body.customer;
      if (c === undefined) problems.push({ field: 'body.customer', message: 'is required for UPDATE_BUYER' });
      else {
        const company = c.company?.trim() ?? '';
        const taxId = c.taxId?.trim() ?? '';
        const customer: Record<string, string> = { name: c.name.trim() };
        if (company !== '') customer['company'] = company;
        if (taxId !== '') customer['taxId'] = taxId;
        raw['customer'] = customer;
        if (customer['name'] === '') problems.push({ field: 'body.customer.name', message: 'must not be blank' });
        if (company !== '' && taxId === '') problems.push({ field: 'body.customer.taxId', message: 'is required for a company (NIP)' });
        const country = body.billingAddress?.country ?? row.context.order.billingAddress.country;
        const problem = taxId === '' ? null : taxIdProblem(taxId, country);
        if (problem !== null) problems.push({ field: 'body.customer.taxId', message: problem.replace(/^buyer tax id "[^"]*" /, '') });
      }
    }
    if (problems.length > 0) throw fieldError(problems);
    try {
      return validate(ORDER_EVENT_PAYLOADS[type], raw, type);
    } catch (err) {
      if (err instanceof OrderpilotError) {
        const need = type === 'MARK_SHIPPED' ? 'body.trackingNumber is required for MARK_SHIPPED' : err.message;
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
    // The kind of event is allowed; this very one (its amount, its note) must be too.
    const snapshot = restoreOrderSnapshot({ value: row.value, context: row.context });
    const event = { ...(payload as Record<string, unknown>), type, at: new Date().toISOString(), actor: admin } as OrderEvent;
    if (!snapshot.can(event)) {
      const why = type === 'REFUND' ? `: at most ${refundableAmount(row.context)} (minor units) is left to refund` : ' with this payload';
      throw new OrderpilotError('EVENT_NOT_ALLOWED', `${type} is not allowed for order ${row.id} now${why}`, { details: { state: row.state, allowed, ...(type === 'REFUND' ? { refundable: refundableAmount(row.context) } : {}) } });
    }
    let envelope: Envelope;
    try {
      envelope = await publishOrderEvent(nc, names, { type, orderId: row.id, id: messageId, actor: admin, payload });
    } catch (err) {
      throw new OrderpilotError('NATS_UNAVAILABLE', 'could not forward the event; try again', { cause: err, retryAfterMs: 1000 });
    }
    ctx.metrics.published.inc({ type });
    ctx.deps.logger.info({ orderId: row.id, type, admin, messageId }, 'admin event sent');
    return { status: 202, body: JSON.stringify({ accepted: true, orderId: row.id, type, messageId, by: admin }), sent: { subject: names.subjects.orderEvent(row.id), envelope } };
  }

  app.get(
    '/admin/api/orders',
    { schema: { summary: 'List orders (newest first unless sort says otherwise)', tags: ['admin'], security, querystring: ListQuery } },
    async (request) => {
      const { state, q, cursor, from, to, sort } = request.query;
      const limit = request.query.limit ?? 50;
      const before = cursor === undefined ? null : decodeCursor(cursor);
      const page = await listOrders(sql, { state, q, from, to, sort, limit, before });
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get(
    '/admin/api/orders/:id',
    { schema: { summary: 'One order: state, context, history, allowed admin events', tags: ['admin'], security, params: IdParams } },
    async (request) => {
      const { order, history } = await loadWithHistory(request.params.id);
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
        shipmentCancel: c.shipmentCancel ?? null,
        refunds: c.refunds ?? [],
        corrections: c.corrections ?? [],
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
        summary: `Send an admin event (${ADMIN_EVENT_TYPES.join(', ')})`,
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
      const payload = eventPayload(request.body, row);
      // Without an Idempotency-Key the request gets a key of its own, never repeated: every accepted
      // event is then on record for the admin-event recheck (gateway/admin-event-recheck.ts).
      const rawKey = request.headers['idempotency-key'] ?? `auto-${randomUUID()}`;
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
