import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Server-sent events for the console: every NATS `orderChanged` hint on a subject becomes a
 * `changed` event (the page then re-fetches itself). Hints are fire-and-forget: the database stays
 * the truth, so a lost hint costs only freshness. Streams end when the client goes or on `closeAll`
 * (the app's preClose), so open streams never hold a shutdown.
 */
export function createLiveStreams(nc: NatsConnection) {
  const streams = new Set<() => void>();
  return {
    open(subject: string, request: FastifyRequest, reply: FastifyReply): void {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n: connected\n\n');
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          res.write(`event: changed\ndata: ${msg.string().replace(/\n/g, ' ')}\n\n`);
        },
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        sub.unsubscribe();
        streams.delete(end);
        res.end();
      };
      streams.add(end);
      request.raw.on('close', end);
    },
    get size(): number {
      return streams.size;
    },
    closeAll(): void {
      for (const end of [...streams]) end();
    },
  };
}
