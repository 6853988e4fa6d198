import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { LIVE_PRESENCE_MS } from '../../services/contracts/index.ts';

/**
 * Server-sent events for the console: every NATS `orderChanged` hint on a subject becomes a
 * `changed` event (the page then re-fetches itself). Hints are fire-and-forget: the database stays
 * the truth, so a lost hint costs only freshness. Streams end when the client goes or on `closeAll`
 * (the app's preClose), so open streams never hold a shutdown. While any stream is open the
 * gateway announces it on `liveListening` (order hosts publish hints only then).
 */
export function createLiveStreams(nc: NatsConnection, listeningSubject: string) {
  const streams = new Set<() => void>();
  let presence: NodeJS.Timeout | null = null;
  const announce = () => nc.publish(listeningSubject);
  const track = () => {
    if (streams.size > 0 && presence === null) {
      announce();
      presence = setInterval(announce, LIVE_PRESENCE_MS);
    } else if (streams.size === 0 && presence !== null) {
      clearInterval(presence);
      presence = null;
    }
  };
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
        track();
        res.end();
      };
      streams.add(end);
      track();
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
