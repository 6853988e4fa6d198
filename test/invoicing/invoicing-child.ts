/**
 * The invoicing service as its own process, for the crash test. With
 * TEST_KILL_AFTER_PROVIDER_ANSWER=1 it SIGKILLs itself right after the invoicing system answered
 * and before the answer is saved or reported — the worst moment to die. Test-only.
 */
import { startRuntime } from '../../infra/runtime/process.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';

const kill = process.env['TEST_KILL_AFTER_PROVIDER_ANSWER'] === '1';

await startRuntime({
  services: [
    {
      name: 'invoicing',
      start: (deps) =>
        startInvoicingService(
          deps,
          kill
            ? {
                hooks: {
                  afterProviderAnswer: () => {
                    process.kill(process.pid, 'SIGKILL');
                    return new Promise<void>(() => {});
                  },
                },
              }
            : {},
        ),
    },
  ],
});
process.stdout.write('ready\n');
