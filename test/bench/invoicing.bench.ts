/**
 * `npm run bench:invoicing` — sales documents per second through the invoicing service (real
 * Postgres, NATS and the sandbox invoicing system over HTTP), at 0 ms and 50 ms provider latency.
 * Each document is: look-up by oid + create at the sandbox, save in `documents`, DOCUMENT_ISSUED
 * published. The commands are queued first, then one service instance drains them. The sandbox runs
 * in its own process (as a real provider would), so it does not share the service's event loop.
 *   BENCH_DOCUMENTS (default 1000) per run; INVOICING_CONCURRENCY (default 64); BENCH_LATENCIES (default "0,50").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishCommand } from '../../infra/nats/publish.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import type { IssueDocumentCommand } from '../../services/contracts/index.ts';
import { sampleOrder } from '../support/orders.ts';
import { createBenchEnv, peakRssMiB } from './bench-env.ts';

const DOCUMENTS = Number(process.env['BENCH_DOCUMENTS'] ?? 1000);
const LATENCIES = (process.env['BENCH_LATENCIES'] ?? '0,50').split(',').map(Number);

const SANDBOX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../infra/sandbox/invoicing-sandbox.ts');

/** Starts the standalone sandbox on an ephemeral port; resolves with its URL and token. */
async function startSandboxProcess(latencyMs: number): Promise<{ url: string; token: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SANDBOX, '--port', '0', '--latency', String(latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sandbox exited (${code}): ${out}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /FAKTUROWNIA_URL=(\S+)/.exec(out)?.[1];
      const token = /FAKTUROWNIA_API_TOKEN=(\S+)/.exec(out)?.[1];
      if (url && token) resolve({ url, token, child });
    });
  });
}

async function run(latencyMs: number): Promise<{ latencyMs: number; documents: number; seconds: number; perSecond: number; concurrency: number }> {
  const sandbox = await startSandboxProcess(latencyMs);
  const b = await createBenchEnv({
    FAKTUROWNIA_URL: sandbox.url,
    FAKTUROWNIA_API_TOKEN: sandbox.token,
    ...(process.env['INVOICING_CONCURRENCY'] ? { INVOICING_CONCURRENCY: process.env['INVOICING_CONCURRENCY'] } : {}),
  });
  try {
    const orders = Array.from({ length: DOCUMENTS }, () => sampleOrder());
    for (let i = 0; i < orders.length; i += 200) {
      await Promise.all(
        orders.slice(i, i + 200).map((order) =>
          publishCommand<IssueDocumentCommand>(b.nc, b.names, 'issueDocument', { type: 'issue-document', orderId: order.orderId, payload: { order, reason: 'payment', document: null } }),
        ),
      );
    }
    const t0 = performance.now();
    const service = await startInvoicingService(b);
    for (;;) {
      const [r] = await b.sql<{ n: number }[]>`select count(*)::int as n from documents where status = 'issued'`;
      if ((r?.n ?? 0) >= DOCUMENTS) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    await service.stop();
    const [d] = await b.sql<{ n: number }[]>`select count(distinct provider_id)::int as n from documents`;
    if (d?.n !== DOCUMENTS) throw new Error(`expected ${DOCUMENTS} distinct documents, found ${d?.n}`);
    return { latencyMs, documents: DOCUMENTS, seconds: Number(seconds.toFixed(2)), perSecond: Math.round(DOCUMENTS / seconds), concurrency: b.config.invoicingConcurrency };
  } finally {
    await b.cleanup();
    sandbox.child.removeAllListeners('exit');
    sandbox.child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const results = [];
  for (const latency of LATENCIES) {
    const r = await run(latency);
    results.push(r);
    process.stdout.write(`provider latency ${String(r.latencyMs).padStart(3)} ms: ${r.documents} documents in ${r.seconds} s = ${r.perSecond} documents/s (concurrency ${r.concurrency})\n`);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'invoicing', results, peakRssMiB: peakRssMiB() })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
