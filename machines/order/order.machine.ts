import { and, assign, not, setup } from 'xstate';
import type { Address, AdminNotice, CorrectionRecord, EmailDocumentParams, OrderContext, OrderData, OrderEvent, RefundRecord } from './order.types.ts';
import { paymentMatchesOrder } from './order.payment.ts';

/**
 * Bump when a change makes old snapshots unreadable (renamed states, reshaped context). The host
 * refuses snapshots of a version it does not know instead of guessing.
 */
export const ORDER_MACHINE_VERSION = 'order@2';
/**
 * Versions whose snapshots this machine still reads: order@1 lacks the optional `refunds`,
 * `corrections`, `shipmentCancel` and `documentEmailTo` (read as empty / null) and has no state the
 * machine dropped.
 */
export const READABLE_MACHINE_VERSIONS: readonly string[] = ['order@1', ORDER_MACHINE_VERSION];

/** `DocumentInfo.provider` of a document an admin attached that the invoicing system does not know. */
export const MANUAL_DOCUMENT_PROVIDER = 'manual';

const refundsOf = (c: OrderContext): RefundRecord[] => c.refunds ?? [];
const correctionsOf = (c: OrderContext): CorrectionRecord[] => c.corrections ?? [];
/** What can still be refunded: the payment less every refund not known to have failed. */
export function refundableAmount(c: OrderContext): number {
  if (c.payment === null) return 0;
  return c.payment.amount - refundsOf(c).filter((r) => r.status !== 'failed').reduce((s, r) => s + r.amount, 0);
}
/** What of the document can still be corrected: its gross total less every correction not failed. */
export function correctableAmount(c: OrderContext): number {
  if (c.document === null || c.document.provider === MANUAL_DOCUMENT_PROVIDER) return 0;
  return c.order.total - correctionsOf(c).filter((r) => r.status !== 'failed').reduce((s, r) => s + r.amount, 0);
}
const lastOf = <T>(list: readonly T[] | undefined): T => {
  const last = list?.[list.length - 1];
  if (last === undefined) throw new Error('no record to act on');
  return last;
};
/**
 * A document was asked for and neither issued nor failed since: its request is still out. What a
 * cancelled order (whose document region the cancel ended) still waits for, or takes a failure for.
 */
export const documentRequestOut = (c: Pick<OrderContext, 'documentRequests' | 'document' | 'documentFailure'>): boolean =>
  c.documentRequests > 0 && c.document === null && c.documentFailure === null;

const cancelReason = (c: OrderContext): string => `order cancelled${c.cancellation?.note ? `: ${c.cancellation.note}` : ''}`;

/** Side effects are declared by name only; the host runs them (as outbox rows or timers). */
const effect = () => {};

/**
 * The order statechart. Pure: no clocks, no I/O, no delayed transitions (timers live in Postgres).
 * `pending → paid → processing (fulfilment ∥ document) → inShipment | held → closed`, or `cancelled`.
 */
/** An address's fields in a fixed order, absent optional ones as empty: comparable as JSON. */
const normalisedAddress = (a: Address) => [a.name, a.line1, a.line2 ?? '', a.postalCode, a.city, a.country, a.phone ?? ''];

export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as { order: OrderData },
  },
  actions: {
    schedulePaymentTimeout: effect,
    cancelPaymentTimeout: effect,
    requestDocument: (_: unknown, _params: { reason: 'payment' | 'admin' }) => {},
    emailDocument: (_: unknown, _params: EmailDocumentParams) => {},
    verifyDocument: (_: unknown, _params: { number: string; issueDate: string }) => {},
    resendToKsef: effect,
    submitToWarehouse: (_: unknown, _params: { reason: 'payment' | 'release' }) => {},
    notifyAdmin: (_: unknown, _params: AdminNotice) => {},
    cancelShipment: effect,
    changeShipmentAddress: effect,
    refundPayment: (_: unknown, _params: { refundId: string }) => {},
    issueCorrection: (_: unknown, _params: { correctionId: string }) => {},
    emailCorrection: (_: unknown, _params: { correctionId: string }) => {},
    resendCorrectionToKsef: (_: unknown, _params: { correctionId: string }) => {},
    // Money of a cancel: the whole remaining payment back, the whole remaining document corrected.
    addFullRefund: assign({
      refunds: ({ context, event }) => [
        ...refundsOf(context),
        { refundId: `${context.order.orderId}:refund:${refundsOf(context).length + 1}`, amount: refundableAmount(context), reason: cancelReason(context), status: 'requested' as const, providerRefundId: null, error: null, requestedAt: event.at, settledAt: null },
      ],
    }),
    addFullCorrection: assign({
      corrections: ({ context, event }) => [
        ...correctionsOf(context),
        { correctionId: `${context.order.orderId}:correction:${correctionsOf(context).length + 1}`, amount: correctableAmount(context), full: correctableAmount(context) === context.order.total, reason: cancelReason(context), status: 'requested' as const, document: null, ksefNumber: null, error: null, requestedAt: event.at },
      ],
    }),
    // An admin's partial REFUND: that amount back, and corrected on the document.
    addPartialRefund: assign({
      refunds: ({ context, event }) =>
        event.type !== 'REFUND'
          ? refundsOf(context)
          : [...refundsOf(context), { refundId: `${context.order.orderId}:refund:${refundsOf(context).length + 1}`, amount: event.amount, reason: event.reason, status: 'requested' as const, providerRefundId: null, error: null, requestedAt: event.at, settledAt: null }],
    }),
    addPartialCorrection: assign({
      corrections: ({ context, event }) =>
        event.type !== 'REFUND'
          ? correctionsOf(context)
          : [...correctionsOf(context), { correctionId: `${context.order.orderId}:correction:${correctionsOf(context).length + 1}`, amount: event.amount, full: false, reason: event.reason, status: 'requested' as const, document: null, ksefNumber: null, error: null, requestedAt: event.at }],
    }),
    updateRefund: assign({
      refunds: ({ context, event }) =>
        refundsOf(context).map((r) =>
          event.type === 'REFUND_COMPLETED' && r.refundId === event.refundId
            ? { ...r, status: 'refunded' as const, providerRefundId: event.providerRefundId, error: null, settledAt: event.at }
            : event.type === 'REFUND_FAILED' && r.refundId === event.refundId
              ? { ...r, status: 'failed' as const, error: `${event.code}: ${event.message}`, settledAt: event.at }
              : r,
        ),
    }),
    updateCorrection: assign({
      corrections: ({ context, event }) =>
        correctionsOf(context).map((c): CorrectionRecord => {
          switch (event.type) {
            case 'CORRECTION_ISSUED':
              return c.correctionId !== event.correctionId
                ? c
                : { ...c, status: event.ksef === 'sent' ? 'ksefSent' : 'issued', document: { providerId: event.providerId, number: event.number, issueDate: event.issueDate, provider: event.provider }, error: null };
            case 'CORRECTION_KSEF_ACCEPTED':
              return c.correctionId === event.correctionId ? { ...c, status: 'issued', ksefNumber: event.ksefNumber, error: null } : c;
            case 'CORRECTION_KSEF_REJECTED':
              return c.correctionId === event.correctionId ? { ...c, status: 'ksefRejected', error: `${event.code}: ${event.errors.join('; ')}` } : c;
            case 'CORRECTION_EMAILED':
              return c.correctionId === event.correctionId ? { ...c, status: 'emailed' } : c;
            case 'CORRECTION_FAILED':
              return c.correctionId === event.correctionId ? { ...c, status: 'failed', error: `${event.code}: ${event.message}` } : c;
            case 'RESEND_TO_KSEF':
              return c.correctionId === event.correctionId ? { ...c, status: 'ksefSent', error: null } : c;
            default:
              return c;
          }
        }),
    }),
    holdFromEvent: assign({
      hold: ({ event }) =>
        event.type === 'SHIPMENT_REJECTED' || event.type === 'SHIPMENT_PROBLEM'
          ? { code: event.code, message: event.message, since: event.at }
          : null,
      holdCount: ({ context }) => context.holdCount + 1,
    }),
    saveTracking: assign({
      trackingNumber: ({ context, event }) => (event.type === 'HANDED_TO_CARRIER' ? event.trackingNumber : context.trackingNumber),
      carrier: ({ context, event }) => (event.type === 'HANDED_TO_CARRIER' ? event.carrier : context.carrier),
    }),
    saveDocument: assign({
      document: ({ context, event }) =>
        event.type === 'DOCUMENT_ISSUED'
          ? { providerId: event.providerId, number: event.number, issueDate: event.issueDate, provider: event.provider, ...(event.pdfUrl ? { pdfUrl: event.pdfUrl } : {}) }
          : context.document,
      documentFailure: null,
    }),
    ksefSent: assign({
      ksef: ({ context, event }) => ({
        status: 'sent' as const,
        number: null,
        verificationLink: null,
        code: null,
        errors: [],
        sends: (context.ksef?.sends ?? 0) + 1,
        since: event.at,
      }),
    }),
    ksefAccepted: assign({
      ksef: ({ context, event }) =>
        event.type === 'KSEF_ACCEPTED'
          ? {
              status: 'accepted' as const,
              number: event.ksefNumber,
              verificationLink: event.verificationLink,
              code: null,
              errors: [],
              sends: context.ksef?.sends ?? 1,
              since: event.at,
            }
          : (context.ksef ?? null),
    }),
    ksefNotAccepted: assign({
      ksef: ({ context, event }) =>
        event.type === 'KSEF_REJECTED' || event.type === 'KSEF_OFFLINE'
          ? {
              status: event.type === 'KSEF_REJECTED' ? ('rejected' as const) : ('offline' as const),
              number: null,
              verificationLink: null,
              code: event.type === 'KSEF_REJECTED' ? event.code : 'KSEF_OFFLINE',
              errors: event.errors,
              sends: context.ksef?.sends ?? 1,
              since: event.at,
            }
          : (context.ksef ?? null),
    }),
    documentFailed: assign({
      documentFailure: ({ context, event }) =>
        event.type === 'DOCUMENT_FAILED' ? { code: event.code, message: event.message, at: event.at } : context.documentFailure,
    }),
    shipmentCancelled: assign({
      shipmentCancel: ({ event }) => ({ status: 'cancelled' as const, message: event.type === 'SHIPMENT_CANCELLED' && !event.existed ? 'the warehouse had no shipment' : null }),
    }),
    recordAdminCancel: assign({
      cancellation: ({ context, event }) =>
        event.type === 'CANCEL' ? { reason: 'ADMIN_CANCEL' as const, note: event.note ?? null, by: event.actor ?? null } : context.cancellation,
    }),
    updateShippingAddress: assign({
      order: ({ context, event }) => (event.type === 'UPDATE_SHIPPING_ADDRESS' ? { ...context.order, shippingAddress: event.shippingAddress } : context.order),
    }),
    updateBuyer: assign({
      order: ({ context, event }) => {
        if (event.type !== 'UPDATE_BUYER') return context.order;
        // The three fields are replaced as given: a company or tax id left out is removed.
        const { company: _company, taxId: _taxId, ...kept } = context.order.customer;
        const customer = { ...kept, name: event.customer.name, ...(event.customer.company ? { company: event.customer.company } : {}), ...(event.customer.taxId ? { taxId: event.customer.taxId } : {}) };
        return { ...context.order, customer, billingAddress: event.billingAddress ?? context.order.billingAddress };
      },
    }),
    saveAdminNote: assign({
      lastAdminNote: ({ context, event }) =>
        'note' in event && typeof event.note === 'string' && event.note.trim() !== ''
          ? { note: event.note, by: event.actor ?? null, at: event.at }
          : context.lastAdminNote,
    }),
  },
  guards: {
    paymentMatchesOrder: ({ context, event }) => event.type === 'PAYMENT_CONFIRMED' && paymentMatchesOrder(context.order, event),
    hasNote: ({ event }) => 'note' in event && typeof event.note === 'string' && event.note.trim() !== '',
    hasTrackingNumber: ({ event }) =>
      event.type === 'MARK_SHIPPED' && event.trackingNumber.trim() !== '',
    hasDocument: ({ context }) => context.document !== null,
    documentAwaitedAfterCancel: ({ context }) => documentRequestOut(context),
    // Only the mailer's failure moves an issued document to failed: a late failure of a duplicate
    // issue command (a twin delivery that gave up) must not undo a document that exists.
    emailFailed: ({ event }) => event.type === 'DOCUMENT_FAILED' && event.stage === 'email',
    sentToKsef: ({ event }) => event.type === 'DOCUMENT_ISSUED' && event.ksef === 'sent',
    trackingUnknown: ({ context }) => context.trackingNumber === null,
    // The warehouse has no shipment yet (a rejected submit): a new address can still reach it.
    noShipment: ({ context }) => context.shipmentId === null,
    // An answer settles the pending change only if it answers that change (same address asked for).
    addressChangePending: ({ context, event }) => {
      const pending = context.pendingShippingAddress ?? null;
      if (pending === null) return false;
      if ((event.type !== 'SHIPMENT_ADDRESS_CHANGED' && event.type !== 'SHIPMENT_ADDRESS_REFUSED') || event.address === undefined) return true;
      return JSON.stringify(normalisedAddress(event.address)) === JSON.stringify(normalisedAddress(pending));
    },
    // Recorded as the admin gave it: not found at the invoicing system, so there is no PDF to e-mail.
    manualDocument: ({ event }) => event.type === 'DOCUMENT_ISSUED' && event.provider === MANUAL_DOCUMENT_PROVIDER,
    adminResendReported: ({ event }) => event.type === 'DOCUMENT_EMAILED' && event.resend === true,
    refundable: ({ context }) => refundableAmount(context) > 0,
    correctable: ({ context }) => correctableAmount(context) > 0,
    refundAllowed: ({ context, event }) =>
      event.type === 'REFUND' && Number.isInteger(event.amount) && event.amount > 0 && event.amount <= refundableAmount(context) && event.reason.trim() !== '',
    refundCorrectable: ({ context, event }) => event.type === 'REFUND' && event.amount <= correctableAmount(context),
    // A result for a refund / correction this order asked for, in a state that result may follow.
    refundPending: ({ context, event }) =>
      (event.type === 'REFUND_COMPLETED' || event.type === 'REFUND_FAILED') && refundsOf(context).some((r) => r.refundId === event.refundId && r.status === 'requested'),
    correctionIn: ({ context, event }, params: { from: ReadonlyArray<CorrectionRecord['status']> }) =>
      'correctionId' in event && correctionsOf(context).some((c) => c.correctionId === event.correctionId && params.from.includes(c.status)),
    correctionSentToKsef: ({ event }) => event.type === 'CORRECTION_ISSUED' && event.ksef === 'sent',
    forInvoice: ({ event }) => !('correctionId' in event) || event.correctionId === undefined,
  },
}).createMachine({
  id: 'order',
  initial: 'pending',
  context: ({ input }) => ({
    order: input.order,
    payment: null,
    paymentFailures: 0,
    document: null,
    documentEmailedAt: null,
    documentFailure: null,
    documentRequests: 0,
    documentEmailTo: null,
    ksef: null,
    shipmentId: null,
    trackingNumber: null,
    carrier: null,
    warehouseSubmissions: 0,
    hold: null,
    holdCount: 0,
    cancellation: null,
    refunds: [],
    corrections: [],
    shipmentCancel: null,
    pendingShippingAddress: null,
    lastAdminNote: null,
  }),
  // Refunds and corrections live beside whatever else the order does (a partial REFUND while it
  // ships, a cancel's full reversal): their requests and results are handled in every state.
  on: {
    REFUND: [
      {
        guard: and(['refundAllowed', 'refundCorrectable']),
        actions: [
          'saveAdminNote',
          'addPartialRefund',
          { type: 'refundPayment', params: ({ context }) => ({ refundId: lastOf(context.refunds).refundId }) },
          'addPartialCorrection',
          { type: 'issueCorrection', params: ({ context }) => ({ correctionId: lastOf(context.corrections).correctionId }) },
        ],
      },
      {
        guard: 'refundAllowed',
        actions: ['saveAdminNote', 'addPartialRefund', { type: 'refundPayment', params: ({ context }) => ({ refundId: lastOf(context.refunds).refundId }) }],
      },
    ],
    REFUND_COMPLETED: { guard: 'refundPending', actions: 'updateRefund' },
    REFUND_FAILED: {
      guard: 'refundPending',
      actions: [
        'updateRefund',
        {
          type: 'notifyAdmin',
          params: ({ context, event }) => ({
            kind: 'refund.failed',
            severity: 'critical',
            code: event.code,
            message: `Refund ${event.refundId} of order ${context.order.externalId} (${context.payment?.provider ?? ''} ${context.payment?.paymentId ?? ''}) failed: ${event.code}: ${event.message}. Refund by hand at the provider, or send REFUND again.`,
          }),
        },
      ],
    },
    CORRECTION_ISSUED: [
      { guard: and([{ type: 'correctionIn', params: { from: ['requested', 'failed'] as const } }, 'correctionSentToKsef']), actions: 'updateCorrection' },
      {
        guard: { type: 'correctionIn', params: { from: ['requested', 'failed'] as const } },
        actions: ['updateCorrection', { type: 'emailCorrection', params: ({ event }) => ({ correctionId: event.correctionId }) }],
      },
    ],
    CORRECTION_KSEF_ACCEPTED: {
      guard: { type: 'correctionIn', params: { from: ['ksefSent', 'ksefRejected'] as const } },
      actions: ['updateCorrection', { type: 'emailCorrection', params: ({ event }) => ({ correctionId: event.correctionId }) }],
    },
    CORRECTION_KSEF_REJECTED: {
      guard: { type: 'correctionIn', params: { from: ['ksefSent'] as const } },
      actions: [
        'updateCorrection',
        {
          type: 'notifyAdmin',
          params: ({ context, event }) => ({
            kind: 'correction.ksef-rejected',
            severity: 'critical',
            code: event.code,
            message: `KSeF did not accept the correction ${event.correctionId} of order ${context.order.externalId}: ${event.errors.join('; ') || 'no message'}`,
          }),
        },
      ],
    },
    CORRECTION_EMAILED: { guard: { type: 'correctionIn', params: { from: ['issued', 'failed'] as const } }, actions: 'updateCorrection' },
    // A correction KSeF refused, fixed at the invoicing system: sent again through the same poll path.
    RESEND_TO_KSEF: {
      guard: { type: 'correctionIn', params: { from: ['ksefRejected'] as const } },
      actions: ['saveAdminNote', 'updateCorrection', { type: 'resendCorrectionToKsef', params: ({ event }) => ({ correctionId: event.correctionId ?? '' }) }],
    },
    // The warehouse's answer to an address change asked before hand-off (the order may have moved on since).
    SHIPMENT_ADDRESS_CHANGED: {
      guard: 'addressChangePending',
      actions: assign({
        order: ({ context }) => (context.pendingShippingAddress ? { ...context.order, shippingAddress: context.pendingShippingAddress } : context.order),
        pendingShippingAddress: null,
      }),
    },
    SHIPMENT_ADDRESS_REFUSED: {
      guard: 'addressChangePending',
      actions: [
        assign({ pendingShippingAddress: null }),
        {
          type: 'notifyAdmin',
          params: ({ context, event }) => ({
            kind: 'shipment.address-refused',
            severity: 'warning',
            code: event.code,
            message: `The warehouse did not take the corrected address of order ${context.order.externalId} (${event.code}): ${event.message}. The shipment keeps its address.`,
          }),
        },
      ],
    },
    CORRECTION_FAILED: {
      guard: { type: 'correctionIn', params: { from: ['requested', 'issued', 'ksefSent'] as const } },
      actions: [
        'updateCorrection',
        {
          type: 'notifyAdmin',
          params: ({ context, event }) => ({
            kind: 'correction.failed',
            severity: 'critical',
            code: event.code,
            message: `Correction ${event.correctionId} of order ${context.order.externalId} failed (${event.stage ?? 'issue'}): ${event.code}: ${event.message}`,
          }),
        },
      ],
    },
  },
  states: {
    pending: {
      entry: 'schedulePaymentTimeout',
      exit: 'cancelPaymentTimeout',
      on: {
        PAYMENT_CONFIRMED: [
          {
            guard: 'paymentMatchesOrder',
            target: 'paid',
            actions: assign({
              payment: ({ event }) => ({
                provider: event.provider,
                paymentId: event.paymentId,
                amount: event.amount,
                currency: event.currency,
                confirmedAt: event.at,
                ...(event.method ? { method: event.method } : {}),
              }),
            }),
          },
          {
            // A payment that does not match the order is not a payment: stay pending, tell an admin.
            actions: {
              type: 'notifyAdmin',
              params: ({ context, event }) => ({
                kind: 'payment.mismatch',
                severity: 'critical',
                code: 'PAYMENT_MISMATCH',
                message: `Payment ${event.paymentId} (${event.provider}) of ${event.amount} ${event.currency} does not match order total ${context.order.total} ${context.order.currency}`,
              }),
            },
          },
        ],
        // The customer may retry; the failure is only counted (and recorded in history by the host).
        PAYMENT_FAILED: { actions: assign({ paymentFailures: ({ context }) => context.paymentFailures + 1 }) },
        PAYMENT_TIMEOUT: {
          target: 'cancelled',
          actions: assign({ cancellation: () => ({ reason: 'PAYMENT_TIMEOUT', note: null, by: 'system' }) }),
        },
        CANCEL: { target: 'cancelled', actions: 'recordAdminCancel' },
        // Nothing has gone out yet: the corrected data is simply what will be used.
        UPDATE_SHIPPING_ADDRESS: { guard: 'hasNote', actions: ['updateShippingAddress', 'saveAdminNote'] },
        UPDATE_BUYER: { guard: 'hasNote', actions: ['updateBuyer', 'saveAdminNote'] },
      },
    },
    // Payment confirmed: the moment that starts both the document and the fulfilment process.
    paid: { always: 'processing' },
    processing: {
      type: 'parallel',
      states: {
        fulfilment: {
          initial: 'submitting',
          states: {
            submitting: {
              entry: [
                assign({ warehouseSubmissions: ({ context }) => context.warehouseSubmissions + 1 }),
                {
                  type: 'submitToWarehouse',
                  params: ({ context }) => ({ reason: context.warehouseSubmissions > 1 ? 'release' : 'payment' }),
                },
              ],
              on: {
                SHIPMENT_ACCEPTED: {
                  target: 'accepted',
                  actions: assign({ shipmentId: ({ event }) => event.shipmentId }),
                },
                SHIPMENT_REJECTED: { target: 'held', actions: 'holdFromEvent' },
                // Disorder: a warehouse status may overtake the submit's own answer.
                SHIPMENT_PROBLEM: { target: 'held', actions: 'holdFromEvent' },
                HANDED_TO_CARRIER: { target: 'inShipment', actions: 'saveTracking' },
                DELIVERED: 'closed',
                CANCEL: { target: 'cancelling', actions: 'recordAdminCancel' },
              },
            },
            accepted: {
              on: {
                HANDED_TO_CARRIER: { target: 'inShipment', actions: 'saveTracking' },
                // Disorder: delivered reported before handed-to-carrier still closes the order.
                DELIVERED: 'closed',
                SHIPMENT_PROBLEM: { target: 'held', actions: 'holdFromEvent' },
                SHIPMENT_REJECTED: { target: 'held', actions: 'holdFromEvent' },
                CANCEL: { target: 'cancelling', actions: 'recordAdminCancel' },
                // Not with a carrier yet: the warehouse is asked to take the corrected address; the
                // order keeps the old one until the warehouse says it did.
                UPDATE_SHIPPING_ADDRESS: {
                  guard: and(['hasNote', not('addressChangePending')]),
                  actions: ['saveAdminNote', assign({ pendingShippingAddress: ({ event }) => event.shippingAddress }), 'changeShipmentAddress'],
                },
              },
            },
            // A paid order cancelled before hand-off: the warehouse cancels the shipment first (a
            // carrier may have it already); only then is the money refunded and the document corrected.
            cancelling: {
              entry: [assign({ shipmentCancel: () => ({ status: 'requested' as const, message: null }) }), 'cancelShipment'],
              on: {
                SHIPMENT_CANCELLED: [
                  {
                    guard: and(['refundable', 'correctable']),
                    target: '#order.cancelled',
                    actions: [
                      'shipmentCancelled',
                      'addFullRefund',
                      { type: 'refundPayment', params: ({ context }) => ({ refundId: lastOf(context.refunds).refundId }) },
                      'addFullCorrection',
                      { type: 'issueCorrection', params: ({ context }) => ({ correctionId: lastOf(context.corrections).correctionId }) },
                    ],
                  },
                  {
                    guard: 'refundable',
                    target: '#order.cancelled',
                    actions: ['shipmentCancelled', 'addFullRefund', { type: 'refundPayment', params: ({ context }) => ({ refundId: lastOf(context.refunds).refundId }) }],
                  },
                  {
                    guard: 'correctable',
                    target: '#order.cancelled',
                    actions: ['shipmentCancelled', 'addFullCorrection', { type: 'issueCorrection', params: ({ context }) => ({ correctionId: lastOf(context.corrections).correctionId }) }],
                  },
                  { target: '#order.cancelled', actions: 'shipmentCancelled' },
                ],
                // Too late (CANCEL_TOO_LATE: a carrier has the parcel) or the warehouse could not be
                // reached: not cancelled, nothing refunded; held for a human with that code.
                SHIPMENT_CANCEL_REFUSED: {
                  target: 'held',
                  actions: assign({
                    hold: ({ event }) => ({ code: event.code, message: event.message, since: event.at }),
                    holdCount: ({ context }) => context.holdCount + 1,
                    cancellation: null,
                    shipmentCancel: ({ event }) => ({ status: 'tooLate' as const, message: event.message }),
                  }),
                },
                SHIPMENT_ACCEPTED: { actions: assign({ shipmentId: ({ event }) => event.shipmentId }) },
                HANDED_TO_CARRIER: { actions: 'saveTracking' },
              },
            },
            inShipment: {
              on: {
                DELIVERED: 'closed',
                SHIPMENT_PROBLEM: { target: 'held', actions: 'holdFromEvent' },
              },
            },
            held: {
              entry: {
                type: 'notifyAdmin',
                params: ({ context }) => ({
                  kind: 'order.held',
                  severity: 'warning',
                  code: context.hold?.code ?? 'HELD',
                  message: `Order ${context.order.externalId} held: ${context.hold?.code ?? 'HELD'}: ${context.hold?.message ?? ''}`,
                }),
              },
              on: {
                RELEASE: {
                  guard: 'hasNote',
                  target: 'submitting',
                  actions: assign({
                    hold: null,
                    lastAdminNote: ({ event }) => ({ note: event.note, by: event.actor ?? null, at: event.at }),
                  }),
                },
                MARK_SHIPPED: {
                  guard: 'hasTrackingNumber',
                  target: 'inShipment',
                  actions: assign({
                    hold: null,
                    trackingNumber: ({ event }) => event.trackingNumber.trim(),
                    carrier: ({ event }) => event.carrier ?? null,
                    lastAdminNote: ({ event }) =>
                      event.note ? { note: event.note, by: event.actor ?? null, at: event.at } : null,
                  }),
                },
                CANCEL: { target: 'cancelling', actions: 'recordAdminCancel' },
                UPDATE_SHIPPING_ADDRESS: [
                  // No shipment yet (a rejected submit): the corrected address goes out at once (a release with the new data).
                  {
                    guard: and(['hasNote', 'noShipment']),
                    target: 'submitting',
                    actions: ['updateShippingAddress', assign({ hold: null }), 'saveAdminNote'],
                  },
                  // The warehouse has the shipment (held there, not with a carrier): it is asked to take the
                  // corrected address; once it did, the order is released (below). Too late → refused, still held.
                  {
                    guard: and(['hasNote', not('noShipment'), 'trackingUnknown', not('addressChangePending')]),
                    actions: ['saveAdminNote', assign({ pendingShippingAddress: ({ event }) => event.shippingAddress }), 'changeShipmentAddress'],
                  },
                ],
                // The warehouse took the corrected address: the order goes on as after a release.
                SHIPMENT_ADDRESS_CHANGED: {
                  guard: 'addressChangePending',
                  target: 'submitting',
                  actions: assign({
                    order: ({ context }) => (context.pendingShippingAddress ? { ...context.order, shippingAddress: context.pendingShippingAddress } : context.order),
                    pendingShippingAddress: null,
                    hold: null,
                  }),
                },
              },
            },
            closed: {
              on: {
                // Disorder: DELIVERED overtook HANDED_TO_CARRIER; keep the tracking number it brings.
                HANDED_TO_CARRIER: { guard: 'trackingUnknown', actions: 'saveTracking' },
              },
            },
          },
        },
        document: {
          initial: 'requested',
          states: {
            requested: {
              entry: [
                assign({ documentRequests: ({ context }) => context.documentRequests + 1, documentFailure: null }),
                {
                  type: 'requestDocument',
                  params: ({ context }) => ({ reason: context.documentRequests > 1 ? 'admin' : 'payment' }),
                },
              ],
              on: {
                DOCUMENT_ISSUED: [
                  // Created and sent to KSeF: it counts as issued only once KSeF gives it a number.
                  { guard: 'sentToKsef', target: 'ksefSent', actions: ['saveDocument', 'ksefSent'] },
                  { target: 'issued', actions: 'saveDocument' },
                ],
                DOCUMENT_FAILED: { target: 'failed', actions: 'documentFailed' },
                // "Just in case": ask again (the invoicing service looks the order up first, so a
                // document issued meanwhile is found, never issued twice).
                ISSUE_DOCUMENT: { target: 'requested', reenter: true, actions: 'saveAdminNote' },
                UPDATE_BUYER: { guard: 'hasNote', target: 'requested', reenter: true, actions: ['updateBuyer', 'saveAdminNote'] },
                ATTACH_DOCUMENT: { guard: 'hasNote', target: 'attaching', actions: ['saveAdminNote', { type: 'verifyDocument', params: ({ event }) => ({ number: event.number, issueDate: event.issueDate }) }] },
              },
            },
            // A document issued by hand is looked up at the invoicing system before it counts.
            attaching: {
              on: {
                DOCUMENT_ISSUED: [
                  { guard: 'manualDocument', target: 'attached', actions: 'saveDocument' },
                  { guard: 'sentToKsef', target: 'ksefSent', actions: ['saveDocument', 'ksefSent'] },
                  { target: 'issued', actions: 'saveDocument' },
                ],
                DOCUMENT_FAILED: { target: 'failed', actions: 'documentFailed' },
              },
            },
            attached: {},
            // The invoicing service polls KSeF's verdict and reports it; nothing here blocks.
            ksefSent: {
              on: {
                KSEF_ACCEPTED: { target: 'issued', actions: 'ksefAccepted' },
                KSEF_REJECTED: { target: 'ksefRejected', actions: 'ksefNotAccepted' },
                KSEF_OFFLINE: { target: 'ksefOffline', actions: 'ksefNotAccepted' },
              },
            },
            ksefOffline: {
              entry: {
                type: 'notifyAdmin',
                params: ({ context }) => ({
                  kind: 'document.ksef-offline',
                  severity: 'warning',
                  code: 'KSEF_OFFLINE',
                  message: `Sales document ${context.document?.number ?? ''} for order ${context.order.externalId} was issued offline and waits to be sent to KSeF; the customer e-mail waits for its KSeF number`,
                }),
              },
              on: {
                KSEF_ACCEPTED: { target: 'issued', actions: 'ksefAccepted' },
                KSEF_REJECTED: { target: 'ksefRejected', actions: 'ksefNotAccepted' },
              },
            },
            ksefRejected: {
              entry: {
                type: 'notifyAdmin',
                params: ({ context }) => ({
                  kind: 'document.ksef-rejected',
                  severity: 'critical',
                  code: context.ksef?.code ?? 'KSEF_REJECTED',
                  message: `KSeF did not accept sales document ${context.document?.number ?? ''} for order ${context.order.externalId} (${context.ksef?.code ?? 'KSEF_REJECTED'}): ${(context.ksef?.errors ?? []).join('; ') || 'no message'}. Fix the cause, then resend it to KSeF.`,
                }),
              },
              on: {
                RESEND_TO_KSEF: { guard: 'forInvoice', target: 'ksefSent', actions: ['saveAdminNote', 'ksefSent', 'resendToKsef'] },
                // A late verdict still counts (a status check that failed, then the number arrived).
                KSEF_ACCEPTED: { target: 'issued', actions: 'ksefAccepted' },
              },
            },
            issued: {
              entry: { type: 'emailDocument', params: ({ context }) => ({ to: context.documentEmailTo ?? null, resend: false }) },
              on: {
                DOCUMENT_EMAILED: {
                  target: 'emailed',
                  actions: assign({ documentEmailedAt: ({ event }) => event.at }),
                },
                DOCUMENT_FAILED: { guard: 'emailFailed', target: 'failed', actions: 'documentFailed' },
              },
            },
            emailed: {
              on: {
                RESEND_DOCUMENT_EMAIL: {
                  actions: ['saveAdminNote', { type: 'emailDocument', params: ({ event }) => ({ to: event.email ?? null, resend: true }) }],
                },
                DOCUMENT_EMAILED: { guard: 'adminResendReported', actions: assign({ documentEmailedAt: ({ event }) => event.at }) },
              },
            },
            failed: {
              entry: {
                type: 'notifyAdmin',
                params: ({ context }) => ({
                  kind: 'document.failed',
                  severity: 'critical',
                  code: context.documentFailure?.code ?? 'DOCUMENT_FAILED',
                  message: `Sales document for order ${context.order.externalId} failed: ${context.documentFailure?.code ?? ''}: ${context.documentFailure?.message ?? ''}`,
                }),
              },
              on: {
                ISSUE_DOCUMENT: { guard: not('hasDocument'), target: 'requested', actions: 'saveAdminNote' },
                UPDATE_BUYER: { guard: and(['hasNote', not('hasDocument')]), target: 'requested', actions: ['updateBuyer', 'saveAdminNote'] },
                ATTACH_DOCUMENT: { guard: and(['hasNote', not('hasDocument')]), target: 'attaching', actions: ['saveAdminNote', { type: 'verifyDocument', params: ({ event }) => ({ number: event.number, issueDate: event.issueDate }) }] },
                // The e-mail failed (a wrong address?): send it again, to the address the admin gives.
                RESEND_DOCUMENT_EMAIL: {
                  guard: 'hasDocument',
                  target: 'issued',
                  actions: ['saveAdminNote', assign({ documentEmailTo: ({ event }) => event.email ?? null })],
                },
                RETRY_DOCUMENT: [
                  // The document exists, only its e-mail failed: retry the e-mail.
                  { guard: 'hasDocument', target: 'issued', actions: 'saveAdminNote' },
                  { target: 'requested', actions: 'saveAdminNote' },
                ],
                // A late answer from the invoicing system still counts (and still waits for KSeF) —
                // unless the document is known already (its e-mail failed): a twin's report of the
                // same document must not send the e-mail again behind the admin's back.
                DOCUMENT_ISSUED: [
                  { guard: and([not('hasDocument'), 'sentToKsef']), target: 'ksefSent', actions: ['saveDocument', 'ksefSent'] },
                  { guard: not('hasDocument'), target: 'issued', actions: 'saveDocument' },
                ],
              },
            },
          },
        },
      },
    },
    // Not a `final` node: a final root would stop the actor, and a payment that arrives after a
    // cancellation must still reach an admin (money to refund).
    cancelled: {
      on: {
        // A late answer to a submit that was in flight at the cancel: that shipment is cancelled too.
        SHIPMENT_ACCEPTED: {
          actions: [assign({ shipmentId: ({ event }) => event.shipmentId, shipmentCancel: () => ({ status: 'requested' as const, message: null }) }), 'cancelShipment'],
        },
        SHIPMENT_CANCELLED: { actions: 'shipmentCancelled' },
        SHIPMENT_CANCEL_REFUSED: {
          actions: {
            type: 'notifyAdmin',
            params: ({ context, event }) => ({
              kind: 'shipment.after-cancel',
              severity: 'critical',
              code: 'SHIPPED_AFTER_CANCEL',
              message: `Order ${context.order.externalId} is cancelled but its shipment could not be cancelled (${event.message}): stop or recall the parcel by hand`,
            }),
          },
        },
        // A document issued after the cancel (its request was in flight): it must be corrected by hand.
        DOCUMENT_ISSUED: {
          guard: not('hasDocument'),
          actions: [
            'saveDocument',
            {
              type: 'notifyAdmin',
              params: ({ context, event }) => ({
                kind: 'document.after-cancel',
                severity: 'critical',
                code: 'DOCUMENT_AFTER_CANCEL',
                message: `Sales document ${event.number} was issued for order ${context.order.externalId} after it was cancelled: correct it (a correction document) by hand`,
              }),
            },
          ],
        },
        // The request that was out at the cancel failed for good (a tax id the invoicing system
        // refuses, say): recorded, so nothing waits for that document any more (the re-drive stops
        // asking), and an admin hears it under its own code; there is no document to correct.
        DOCUMENT_FAILED: {
          guard: 'documentAwaitedAfterCancel',
          actions: [
            'documentFailed',
            {
              type: 'notifyAdmin',
              params: ({ context, event }) => ({
                kind: 'document.failed',
                severity: 'warning',
                code: event.code,
                message: `Sales document for cancelled order ${context.order.externalId} could not be issued (${event.code}: ${event.message}); no document exists: issue one by hand if the sale needs it`,
              }),
            },
          ],
        },
        KSEF_ACCEPTED: { actions: 'ksefAccepted' },
        PAYMENT_CONFIRMED: {
          actions: {
            type: 'notifyAdmin',
            params: ({ context, event }) => ({
              kind: 'payment.after-cancel',
              severity: 'critical',
              code: 'PAYMENT_AFTER_CANCEL',
              message: `Payment ${event.paymentId} (${event.provider}) of ${event.amount} ${event.currency} arrived for cancelled order ${context.order.externalId}: refund or reopen by hand`,
            }),
          },
        },
      },
    },
  },
});
