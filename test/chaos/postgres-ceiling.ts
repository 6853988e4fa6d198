import { createSql, type Sql } from '../../infra/db/postgres.ts';
import { createScratchDatabase } from '../support/world.ts';

/**
 * What one Postgres primary can write: `concurrency` connections each committing one small row
 * (jsonb, about an order event's size) per transaction — one WAL flush per commit, as the order host's
 * statements are — for `seconds`, in a throw-away database. Reported beside the chaos run's own
 * commits per order, it bounds orders/s however many NATS nodes and service copies there are.
 */
export async function measurePostgresWrites(baseUrl: string, o: { seconds: number; concurrency: number }): Promise<{ commitsPerSecond: number }> {
  const db = await createScratchDatabase(baseUrl, 'op_pgceiling');
  let sql: Sql | null = null;
  try {
    sql = createSql(db.url, { max: o.concurrency, name: 'pg-ceiling' });
    const s = sql;
    await s`create table probe (id bigserial primary key, payload jsonb not null, at timestamptz not null default now())`;
    const payload = { type: 'SHIPMENT_ACCEPTED', shipmentId: 'shp_0123456789abcdef', at: new Date().toISOString(), note: 'x'.repeat(200) };
    const until = Date.now() + o.seconds * 1000;
    let commits = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (Date.now() < until) {
          await s`insert into probe (payload) values (${s.json(payload)})`;
          commits++;
        }
      }),
    );
    return { commitsPerSecond: commits / ((Date.now() - t0) / 1000) };
  } finally {
    await sql?.end({ timeout: 5 }).catch(() => {});
    await db.drop();
  }
}
