import type { OrderSnapshot } from '../../machines/order/index.ts';
import type { OrderEffect } from '../../machines/order/index.ts';
import {
  makeEnvelope,
  type CommandKey,
  type Envelope,
  type AttachDocumentCommand,
  type CancelShipmentCommand,
  type ChangeShipmentAddressCommand,
  type IssueCorrectionCommand,
  type RefundPaymentCommand,
  type IssueDocumentCommand,
  type Names,
  type NotifyCommand,
  type ResendToKsefCommand,
  type SendDocumentCommand,
  type SubmitShipmentCommand,
} from '../contracts/index.ts';

/** What the host writes for the machine's named actions: outbox messages and timer changes. */
export interface EffectPlan {
  outbox: Array<{ subject: string; envelope: Envelope }>;
  timers: Array<{ kind: 'payment-timeout'; fireAt: Date; subject: string; envelope: Envelope }>;
  cancelTimers: Array<'payment-timeout'>;
}

export interface EffectInput {
  names: Names;
  snapshot: OrderSnapshot;
  /** The actions `transition()` returned (the named ones are effects; others are ignored). */
  actions: ReadonlyArray<{ type: string; params?: unknown }>;
  cause: Envelope;
  now: Date;
  paymentTimeoutMs: number;
}

/**
 * Pure mapping from the machine's named actions to outbox rows and timers. The host never calls a
 * provider: a command lands in the outbox in the same transaction as the state change.
 */
export function planEffects(i: EffectInput): EffectPlan {
  const plan: EffectPlan = { outbox: [], timers: [], cancelTimers: [] };
  const ctx = i.snapshot.context;
  const orderId = ctx.order.orderId;
  const command = <P>(key: CommandKey, type: string, payload: P) =>
    plan.outbox.push({
      subject: i.names.subjects.command(key),
      envelope: makeEnvelope({ type, orderId, payload, cause: i.cause }),
    });
  for (const a of i.actions as ReadonlyArray<OrderEffect | { type: string }>) {
    const effect = a as OrderEffect;
    switch (effect.type) {
      case 'schedulePaymentTimeout':
        plan.timers.push({
          kind: 'payment-timeout',
          fireAt: new Date(i.now.getTime() + i.paymentTimeoutMs),
          subject: i.names.subjects.orderEvent(orderId),
          envelope: makeEnvelope({
            id: `timer:payment-timeout:${orderId}`,
            type: 'PAYMENT_TIMEOUT',
            orderId,
            payload: {},
            cause: i.cause,
            actor: 'system',
          }),
        });
        break;
      case 'cancelPaymentTimeout':
        plan.cancelTimers.push('payment-timeout');
        break;
      case 'requestDocument':
        command<IssueDocumentCommand>('issueDocument', 'issue-document', {
          order: ctx.order,
          reason: effect.params.reason,
          document: ctx.document,
          payment: ctx.payment,
        });
        break;
      case 'verifyDocument':
        command<AttachDocumentCommand>('attachDocument', 'attach-document', { order: ctx.order, number: effect.params.number, issueDate: effect.params.issueDate });
        break;
      case 'resendToKsef':
        if (ctx.document) command<ResendToKsefCommand>('resendToKsef', 'resend-to-ksef', { order: ctx.order, document: ctx.document });
        break;
      case 'emailDocument': {
        if (!ctx.document) break;
        const k = ctx.ksef ?? null;
        command<SendDocumentCommand>('sendDocument', 'send-document', {
          order: ctx.order,
          document: ctx.document,
          ksef: k !== null && k.status === 'accepted' && k.number !== null ? { number: k.number, verificationLink: k.verificationLink } : null,
          to: effect.params.to,
          resend: effect.params.resend,
        });
        break;
      }
      case 'submitToWarehouse':
        command<SubmitShipmentCommand>('submitShipment', 'submit-shipment', {
          order: ctx.order,
          reason: effect.params.reason,
          shipmentId: ctx.shipmentId,
        });
        break;
      case 'cancelShipment':
        command<CancelShipmentCommand>('cancelShipment', 'cancel-shipment', { orderId, shipmentId: ctx.shipmentId });
        break;
      case 'changeShipmentAddress':
        if (ctx.shipmentId && ctx.pendingShippingAddress) {
          command<ChangeShipmentAddressCommand>('changeShipmentAddress', 'change-shipment-address', { order: ctx.order, shipmentId: ctx.shipmentId, shippingAddress: ctx.pendingShippingAddress });
        }
        break;
      case 'refundPayment': {
        const r = (ctx.refunds ?? []).find((x) => x.refundId === effect.params.refundId);
        if (!r || !ctx.payment) break;
        command<RefundPaymentCommand>('refundPayment', 'refund-payment', {
          refundId: r.refundId,
          orderId,
          externalId: ctx.order.externalId,
          payment: ctx.payment,
          amount: r.amount,
          currency: ctx.order.currency,
          reason: r.reason,
        });
        break;
      }
      case 'issueCorrection': {
        const c = (ctx.corrections ?? []).find((x) => x.correctionId === effect.params.correctionId);
        if (!c || !ctx.document) break;
        command<IssueCorrectionCommand>('issueCorrection', 'issue-correction', {
          correctionId: c.correctionId,
          order: ctx.order,
          document: ctx.document,
          amount: c.amount,
          full: c.full,
          reason: c.reason,
        });
        break;
      }
      case 'resendCorrectionToKsef': {
        const c = (ctx.corrections ?? []).find((x) => x.correctionId === effect.params.correctionId);
        if (!c?.document) break;
        command<ResendToKsefCommand>('resendToKsef', 'resend-to-ksef', { order: ctx.order, document: c.document, correctionId: c.correctionId });
        break;
      }
      case 'emailCorrection': {
        const c = (ctx.corrections ?? []).find((x) => x.correctionId === effect.params.correctionId);
        if (!c?.document) break;
        command<SendDocumentCommand>('sendDocument', 'send-document', { order: ctx.order, document: c.document, ksef: null, correctionId: c.correctionId });
        break;
      }
      case 'notifyAdmin':
        command<NotifyCommand>('notify', 'notify', { ...effect.params, orderId, externalId: ctx.order.externalId });
        break;
      default:
        // xstate built-ins (assign, raise, …) are already applied to the snapshot.
        break;
    }
  }
  return plan;
}
