import { and, assign, not, setup } from 'xstate';
import type { AdminNotice, EmailDocumentParams, OrderContext, OrderData, OrderEvent } from './order.types.ts';
import { paymentMatchesOrder } from './order.payment.ts';

/**
 * Bump when a change makes old snapshots unreadable (renamed states, reshaped context). The host
 * refuses snapshots of a version it does not know instead of guessing.
 */
export const ORDER_MACHINE_VERSION = 'order@1';

/** `DocumentInfo.provider` of a document an admin attached that the invoicing system does not know. */
export const MANUAL_DOCUMENT_PROVIDER = 'manual';

/** Side effects are declared by name only; the host runs them (as outbox rows or timers). */
const effect = () => {};

/**
 * The order statechart. Pure: no clocks, no I/O, no delayed transitions (timers live in Postgres).
 * `pending → paid → processing (fulfilment ∥ document) → inShipment | held → closed`, or `cancelled`.
 */
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
          ? { providerId: event.providerId, number: event.number, issueDate: event.issueDate, provider: event.provider }
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
    // Only the mailer's failure moves an issued document to failed: a late failure of a duplicate
    // issue command (a twin delivery that gave up) must not undo a document that exists.
    emailFailed: ({ event }) => event.type === 'DOCUMENT_FAILED' && event.stage === 'email',
    sentToKsef: ({ event }) => event.type === 'DOCUMENT_ISSUED' && event.ksef === 'sent',
    trackingUnknown: ({ context }) => context.trackingNumber === null,
    // The warehouse has no shipment yet (a rejected submit): a new address can still reach it.
    noShipment: ({ context }) => context.shipmentId === null,
    // Recorded as the admin gave it: not found at the invoicing system, so there is no PDF to e-mail.
    manualDocument: ({ event }) => event.type === 'DOCUMENT_ISSUED' && event.provider === MANUAL_DOCUMENT_PROVIDER,
    adminResendReported: ({ event }) => event.type === 'DOCUMENT_EMAILED' && event.resend === true,
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
    lastAdminNote: null,
  }),
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
              },
            },
            accepted: {
              on: {
                HANDED_TO_CARRIER: { target: 'inShipment', actions: 'saveTracking' },
                // Disorder: delivered reported before handed-to-carrier still closes the order.
                DELIVERED: 'closed',
                SHIPMENT_PROBLEM: { target: 'held', actions: 'holdFromEvent' },
                SHIPMENT_REJECTED: { target: 'held', actions: 'holdFromEvent' },
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
                CANCEL: { target: '#order.cancelled', actions: 'recordAdminCancel' },
                // The corrected address goes to the warehouse at once (a release with the new data).
                UPDATE_SHIPPING_ADDRESS: {
                  guard: and(['hasNote', 'noShipment']),
                  target: 'submitting',
                  actions: ['updateShippingAddress', assign({ hold: null }), 'saveAdminNote'],
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
                RESEND_TO_KSEF: { target: 'ksefSent', actions: ['saveAdminNote', 'ksefSent', 'resendToKsef'] },
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
