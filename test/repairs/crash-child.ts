/**
 * The payments or the invoicing service as its own process, for the SIGKILL tests. With
 * TEST_KILL_AFTER_PROVIDER_ANSWER=1 it SIGKILLs itself right after the provider answered a refund
 * (payments) or a correction (invoicing), before the answer is saved or reported — the worst moment
 * to die. `argv[2]`: `payments` | `invoicing`. Test-only.
 */
import { startRuntime } from '../../infra/runtime/process.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startPaymentsService } from '../../services/payments/index.ts';

const kill = process.env['TEST_KILL_AFTER_PROVIDER_ANSWER'] === '1';
const die = (): Promise<void> => {
  process.kill(process.pid, 'SIGKILL');
  return new Promise<void>(() => {});
};
const which = process.argv[2];

await startRuntime({
  services: [
    which === 'payments'
      ? { name: 'payments', start: (deps) => startPaymentsService(deps, kill ? { hooks: { afterProviderAnswer: die } } : {}) }
      : { name: 'invoicing', start: (deps) => startInvoicingService(deps, kill ? { correctionHooks: { afterProviderAnswer: die } } : {}) },
  ],
});
process.stdout.write('ready\n');
