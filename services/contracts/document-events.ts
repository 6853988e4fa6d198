import { createHash } from 'node:crypto';
import type { Static, TSchema } from 'typebox';
import type { DocumentInfo } from '../../machines/order/index.ts';
import type { Envelope, NewEnvelope } from './envelope.ts';
import { isOrderpilotError, OrderpilotError } from './errors.ts';
import { validate, type OrderEventPayload, type OrderMessageType } from './schemas.ts';

/**
 * A message id that is the same every time the same command is handled again (a redelivery, a
 * second instance), so JetStream drops the republish; a *new* command (an admin's re-request) gets a
 * new id, so its answer is never mistaken for a duplicate.
 */
export function stableMessageId(kind: string, ...parts: string[]): string {
  const id = [kind, ...parts].join(':');
  return id.length <= 200 ? id : `${kind}:${createHash('sha256').update(parts.join('\u0000')).digest('hex')}`;
}

/** An event into the order actor, as `infra/nats/publish.ts` `publishOrderEvent` takes it. */
export type OrderEventMessage<P> = Omit<NewEnvelope<P>, 'orderId' | 'type'> & { type: OrderMessageType; orderId: string };

/** Publishes one order event (the NATS side is injected, so this module stays free of I/O). */
export type PublishOrderEvent = <P>(message: OrderEventMessage<P>) => Promise<unknown>;

/** How the invoicing service and the mailer report back to the order actor (they never write order state). */
/** KSeF's verdict on a document, as the KSeF poller reports it to the order actor. */
export type KsefReport =
  | { type: 'KSEF_ACCEPTED'; ksefNumber: string; verificationLink: string | null }
  | { type: 'KSEF_REJECTED'; code: string; errors: string[] }
  | { type: 'KSEF_OFFLINE'; errors: string[] };

export interface DocumentEvents {
  /** `ksef: 'sent'`: the document went to KSeF and counts as issued only once KSeF accepts it. */
  issued(cause: Envelope, orderId: string, doc: DocumentInfo, ksef?: 'sent' | 'outside'): Promise<void>;
  /**
   * KSeF's verdict on send number `send` of a document. The message id is stable per document, send
   * and verdict, so a poller that dies after publishing and reports again is dropped as a duplicate.
   */
  ksef(orderId: string, providerId: string, send: number, report: KsefReport, correctionOf?: string): Promise<void>;
  /** A correction document issued (`ksef: 'sent'`: it waits for KSeF's number before its e-mail). */
  correctionIssued(cause: Envelope, orderId: string, correctionId: string, doc: DocumentInfo, ksef?: 'sent' | 'outside'): Promise<void>;
  correctionFailed(cause: Envelope, orderId: string, correctionId: string, code: string, message: string, stage?: 'issue' | 'email'): Promise<void>;
  correctionEmailed(cause: Envelope, orderId: string, correctionId: string, to: string, messageId: string): Promise<void>;
  failed(cause: Envelope, orderId: string, code: string, message: string): Promise<void>;
  /** `resend`: the e-mail an admin asked for again (RESEND_DOCUMENT_EMAIL). */
  emailed(cause: Envelope, orderId: string, to: string, messageId: string, resend?: boolean): Promise<void>;
}

/**
 * The document events on the wire: stable ids derived from the command, payloads of the order
 * machine's events. `publish` is `(m) => publishOrderEvent(nc, names, m)` in a service's main.ts.
 */
export function createDocumentEvents(publishEvent: PublishOrderEvent, actor: 'invoicing' | 'mailer'): DocumentEvents {
  // The step a failure belongs to: the order keeps an issued document unless its e-mail failed.
  const stage = actor === 'mailer' ? 'email' : 'issue';
  type Reported = 'DOCUMENT_ISSUED' | 'DOCUMENT_FAILED' | 'DOCUMENT_EMAILED' | KsefReport['type'] | 'CORRECTION_ISSUED' | 'CORRECTION_FAILED' | 'CORRECTION_EMAILED' | 'CORRECTION_KSEF_ACCEPTED' | 'CORRECTION_KSEF_REJECTED';
  const publish = async <P>(type: Reported, id: string, cause: Envelope | undefined, orderId: string, payload: P) => {
    try {
      await publishEvent<P>({ type, orderId, id, payload, cause, actor });
    } catch (err) {
      // Not reported yet: retry the command (the provider is asked nothing new; see the handlers).
      throw new OrderpilotError('NATS_UNAVAILABLE', `could not publish ${type} for order ${orderId}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  return {
    issued: (cause, orderId, doc, ksef = 'outside') =>
      publish<OrderEventPayload<'DOCUMENT_ISSUED'>>('DOCUMENT_ISSUED', stableMessageId('document-issued', orderId, doc.providerId, cause.id), cause, orderId, {
        providerId: doc.providerId,
        number: doc.number,
        issueDate: doc.issueDate,
        provider: doc.provider,
        ...(doc.pdfUrl ? { pdfUrl: doc.pdfUrl } : {}),
        ksef,
      }),
    ksef: async (orderId, providerId, send, report, correctionOf) => {
      const { type, ...payload } = report;
      if (correctionOf === undefined) return publish(type, stableMessageId(type.toLowerCase(), orderId, providerId, String(send)), undefined, orderId, payload);
      // A correction's verdict goes to its order (`orderId` is the correction's own id, its oid). An
      // offline correction simply waits for its number: the order keeps it as sent to KSeF.
      if (type === 'KSEF_OFFLINE') return;
      const ctype = type === 'KSEF_ACCEPTED' ? 'CORRECTION_KSEF_ACCEPTED' : 'CORRECTION_KSEF_REJECTED';
      return publish(ctype, stableMessageId(ctype.toLowerCase(), orderId, providerId, String(send)), undefined, correctionOf, { correctionId: orderId, ...payload });
    },
    correctionIssued: (cause, orderId, correctionId, doc, ksef = 'outside') =>
      publish<OrderEventPayload<'CORRECTION_ISSUED'>>('CORRECTION_ISSUED', stableMessageId('correction-issued', correctionId, doc.providerId, cause.id), cause, orderId, {
        correctionId,
        providerId: doc.providerId,
        number: doc.number,
        issueDate: doc.issueDate,
        provider: doc.provider,
        ksef,
      }),
    correctionFailed: (cause, orderId, correctionId, code, message, failedStage = stage) =>
      publish<OrderEventPayload<'CORRECTION_FAILED'>>('CORRECTION_FAILED', stableMessageId('correction-failed', correctionId, cause.id), cause, orderId, { correctionId, code, message: message.slice(0, 2000), stage: failedStage }),
    correctionEmailed: (cause, orderId, correctionId, to, messageId) =>
      publish<OrderEventPayload<'CORRECTION_EMAILED'>>('CORRECTION_EMAILED', stableMessageId('correction-emailed', correctionId, cause.id), cause, orderId, { correctionId, to, messageId }),
    failed: (cause, orderId, code, message) =>
      publish<OrderEventPayload<'DOCUMENT_FAILED'>>('DOCUMENT_FAILED', stableMessageId('document-failed', orderId, cause.id), cause, orderId, {
        code,
        message: message.slice(0, 2000),
        stage,
      }),
    emailed: (cause, orderId, to, messageId, resend = false) =>
      publish<OrderEventPayload<'DOCUMENT_EMAILED'>>('DOCUMENT_EMAILED', stableMessageId('document-emailed', orderId, cause.id), cause, orderId, resend ? { to, messageId, resend } : { to, messageId }),
  };
}

/** The one thing `documentCommandOrReportFailed` logs (a pino logger fits). */
export interface InvalidCommandLog {
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * The payload of a document command (`issue-document`, `send-document`), validated; or, when it is
 * invalid and names an order, `null` after reporting DOCUMENT_FAILED with the validation code to that
 * order (the caller then acks: redelivering a malformed command cannot fix it). Without an order id
 * there is no one to report to: the error is thrown, and the runner dead-letters the message.
 */
export async function documentCommandOrReportFailed<S extends TSchema>(
  schema: S,
  env: Envelope,
  what: string,
  deps: { events: DocumentEvents; logger: InvalidCommandLog },
): Promise<Static<S> | null> {
  try {
    return validate(schema, env.payload, what);
  } catch (err) {
    if (env.orderId === null || !isOrderpilotError(err)) throw err;
    deps.logger.error({ orderId: env.orderId, messageId: env.id, err: err.message }, `invalid ${what}`);
    await deps.events.failed(env, env.orderId, err.code, err.message);
    return null;
  }
}
