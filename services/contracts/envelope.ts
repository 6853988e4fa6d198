import { randomUUID } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { OrderpilotError } from './errors.ts';

/**
 * Every message on NATS is one envelope. `id` is also the JetStream message id (`Nats-Msg-Id`), so a
 * republish within the stream's duplicate window is dropped by the server.
 */
export const EnvelopeSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.String({ minLength: 1, maxLength: 100 }),
  version: Type.Integer({ minimum: 1 }),
  occurredAt: Type.String({ minLength: 1 }),
  orderId: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]),
  correlationId: Type.String({ minLength: 1 }),
  causationId: Type.Union([Type.String(), Type.Null()]),
  /** Who caused it: an admin's name, a provider, "system". */
  actor: Type.Optional(Type.String()),
  payload: Type.Unknown(),
});

export type Envelope<P = unknown> = Omit<Static<typeof EnvelopeSchema>, 'payload'> & { payload: P };

const checkEnvelope = Compile(EnvelopeSchema);

export interface NewEnvelope<P> {
  type: string;
  orderId: string | null;
  payload: P;
  /** The message this one is caused by: copies its correlation id and sets the causation id. */
  cause?: Pick<Envelope, 'id' | 'correlationId'> | undefined;
  id?: string;
  actor?: string | undefined;
  occurredAt?: string;
  version?: number;
}

export function makeEnvelope<P>(n: NewEnvelope<P>): Envelope<P> {
  const id = n.id ?? randomUUID();
  const env: Envelope<P> = {
    id,
    type: n.type,
    version: n.version ?? 1,
    occurredAt: n.occurredAt ?? new Date().toISOString(),
    orderId: n.orderId,
    correlationId: n.cause?.correlationId ?? id,
    causationId: n.cause?.id ?? null,
    payload: n.payload,
  };
  if (n.actor !== undefined) env.actor = n.actor;
  return env;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEnvelope(env: Envelope): Uint8Array {
  return encoder.encode(JSON.stringify(env));
}

/** Parses and checks the envelope shape; throws MALFORMED_MESSAGE (permanent) when it is not one. */
export function decodeEnvelope(data: Uint8Array): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    throw new OrderpilotError('MALFORMED_MESSAGE', 'message is not JSON');
  }
  if (!checkEnvelope.Check(parsed)) {
    const first = [...checkEnvelope.Errors(parsed)][0];
    throw new OrderpilotError('MALFORMED_MESSAGE', `not an envelope: ${first?.instancePath || '/'} ${first?.message ?? ''}`);
  }
  return parsed as Envelope;
}
