import type { RunningService } from '../infra/runtime/service.ts';
import { buildGateway, type GatewayOptions } from './app.ts';
import type { GatewayDeps } from './gateway.types.ts';

export interface RunningGateway extends RunningService {
  /** The address it listens on, e.g. http://127.0.0.1:3000 (the real port when config.port is 0). */
  readonly url: string;
}

/**
 * Starts the gateway on config.host:config.port. `stop()` stops accepting connections, lets
 * in-flight requests finish (new ones on kept-alive connections get 503), then closes.
 */
export async function startGatewayService(deps: GatewayDeps, opts: GatewayOptions = {}): Promise<RunningGateway> {
  const logger = deps.logger.child({ service: 'gateway' });
  const app = await buildGateway(deps, opts);
  const url = await app.listen({ host: deps.config.host, port: deps.config.port });
  if (deps.config.adminTokens.length === 0) logger.warn('ADMIN_TOKENS is empty: the admin API refuses every request');
  if (deps.config.stripeWebhookSecrets.length === 0) logger.warn('STRIPE_WEBHOOK_SECRET is not set: Stripe webhooks are stored as invalid');
  if (deps.config.payuSecondKey === undefined) logger.warn('PAYU_SECOND_KEY is not set: PayU webhooks are stored as invalid');
  logger.info({ url, docs: `${url}/docs` }, 'gateway listening');
  let stopping: Promise<void> | null = null;
  return {
    name: 'gateway',
    url,
    stop() {
      stopping ??= (async () => {
        await app.close();
        logger.info('gateway stopped');
      })();
      return stopping;
    },
  };
}
