/**
 * The invoicing service as its own process, for the crash tests. Test-only. It SIGKILLs itself at
 * the worst moment to die:
 * - TEST_KILL_AFTER_PROVIDER_ANSWER=1: right after the invoicing system answered with a document,
 *   before the answer is saved or reported;
 * - TEST_KILL_AFTER_KSEF_VERDICT=1: right after the KSeF poller saved a verdict, before it is reported
 *   to the order (and so before any e-mail).
 */
import { startRuntime } from '../../infra/runtime/process.ts';
import { startInvoicingService, type InvoicingServiceOptions } from '../../services/invoicing/main.ts';

const die = (): Promise<void> => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise<void>(() => {});
};

const opts: InvoicingServiceOptions = {};
if (process.env['TEST_KILL_AFTER_PROVIDER_ANSWER'] === '1') opts.hooks = { afterProviderAnswer: die };
if (process.env['TEST_KILL_AFTER_KSEF_VERDICT'] === '1') opts.ksefHooks = { afterVerdictSaved: die };

await startRuntime({
  services: [{ name: 'invoicing', start: (deps) => startInvoicingService(deps, opts) }],
});
process.stdout.write('ready\n');
