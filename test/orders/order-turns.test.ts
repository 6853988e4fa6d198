import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { LeftForRedelivery } from '../../infra/nats/consumer-runner.ts';
import { createOrderTurns } from '../../services/orders/order-turns.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * Several events in flight per partition (ORDER_PARTITION_WINDOW): an order's event waits while an
 * earlier event of the same order is still in the work-queue stream — held by another instance,
 * nak'd for a retry, awaiting redelivery — on the real NATS server. (Two host processes applying 500
 * orders in publish order: order-host.test.ts; crash and chaos suites: unchanged.)
 */
let t: TestContext;
let jsm: JetStreamManager;
beforeAll(async () => {
  t = await createTestContext();
  jsm = await jetstreamManager(t.nc);
});
afterAll(async () => {
  await t?.cleanup();
});

/** Publishes `n` raw messages on one order's subject; their stream sequences. */
async function publishOn(subject: string, n: number): Promise<number[]> {
  const js = jetstream(t.nc);
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push((await js.publish(subject, new TextEncoder().encode(`{"n":${i}}`))).seq);
  return seqs;
}

/** Whether `p` has settled after giving the event loop and NATS a moment (a round trip or two). */
async function settledSoon(p: Promise<unknown>, ms = 600): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, ms));
  return done;
}

describe('order turns', () => {
  it('an event goes only once every earlier event of its order has left the stream; other orders do not wait', async () => {
    const turns = createOrderTurns({ jsm, stream: t.names.streams.orderEvents });
    const order = t.names.subjects.orderEvent('ord_turns_a');
    const other = t.names.subjects.orderEvent('ord_turns_b');
    const [s1, s2, s3] = (await publishOn(order, 3)) as [number, number, number];
    const [o1] = (await publishOn(other, 1)) as [number];
    const ran: number[] = [];
    const third = turns.inTurn({ subject: order, seq: s3 }).then(() => ran.push(s3));
    const second = turns.inTurn({ subject: order, seq: s2 }).then(() => ran.push(s2));
    // Another order's event in the same stream is in its turn at once.
    await turns.inTurn({ subject: other, seq: o1 });
    // The first is its order's first: in turn at once, and the later two keep waiting while it is there.
    await turns.inTurn({ subject: order, seq: s1 });
    expect(await settledSoon(second)).toBe(false);
    expect(ran).toEqual([]);
    // Acked by another instance (gone from the work queue): the second goes, the third still waits for it.
    await jsm.streams.deleteMessage(t.names.streams.orderEvents, s1);
    await second;
    expect(await settledSoon(third)).toBe(false);
    // Settled by this host: the third is woken and goes.
    turns.settle({ subject: order, seq: s2 });
    await third;
    expect(ran).toEqual([s2, s3]);
    turns.stop();
  });

  it('an event settled here is not waited for again, though its ack may not have reached the server yet', async () => {
    const turns = createOrderTurns({ jsm, stream: t.names.streams.orderEvents });
    const order = t.names.subjects.orderEvent('ord_turns_c');
    const [s1, s2] = (await publishOn(order, 2)) as [number, number];
    await turns.inTurn({ subject: order, seq: s1 });
    // s1 is still in the stream (no ack was sent at all here): settled by this host is enough.
    turns.settle({ subject: order, seq: s1 });
    await turns.inTurn({ subject: order, seq: s2 });
    turns.stop();
  });

  it('stopping: a waiting event is left for redelivery (LeftForRedelivery), not applied out of turn', async () => {
    const turns = createOrderTurns({ jsm, stream: t.names.streams.orderEvents });
    const order = t.names.subjects.orderEvent('ord_turns_d');
    const [, s2] = (await publishOn(order, 2)) as [number, number];
    const waiting = turns.inTurn({ subject: order, seq: s2 });
    expect(await settledSoon(waiting)).toBe(false);
    turns.stop();
    await expect(waiting).rejects.toBeInstanceOf(LeftForRedelivery);
  });
});
