import type { ServiceStarter } from '../runtime/service.ts';
import { startOrdersService } from '../../services/orders/main.ts';
import { startInvoicingService } from '../../services/invoicing/main.ts';
import { startMailerService } from '../../services/mailer/main.ts';
import { startNotificationsService } from '../../services/notifications/main.ts';
import { startLogisticsService } from '../../services/logistics/main.ts';
import { startPaymentsService } from '../../services/payments/index.ts';
import { startShopsService } from '../../services/shops/index.ts';
import { startInspectedOrdersService } from '../../services/orders/inspector.ts';
import { startGatewayService } from '../../gateway/main.ts';

/**
 * Every service `orderpilot run` can start, in start order (consumers before the gateway that feeds
 * them). Later services register here.
 */
export const SERVICES: ReadonlyArray<{ name: string; start: ServiceStarter }> = [
  { name: 'orders', start: (deps) => (deps.config.inspect ? startInspectedOrdersService(deps, startOrdersService) : startOrdersService(deps)) },
  { name: 'invoicing', start: (deps) => startInvoicingService(deps) },
  { name: 'mailer', start: (deps) => startMailerService(deps) },
  { name: 'notifications', start: (deps) => startNotificationsService(deps) },
  { name: 'logistics', start: (deps) => startLogisticsService(deps) },
  { name: 'payments', start: (deps) => startPaymentsService(deps) },
  { name: 'shops', start: (deps) => startShopsService(deps) },
  { name: 'gateway', start: (deps) => startGatewayService(deps) },
];

export function selectServices(names: readonly string[]): Array<{ name: string; start: ServiceStarter }> {
  if (names.length === 0) return [...SERVICES];
  const unknown = names.filter((n) => !SERVICES.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(`unknown service(s): ${unknown.join(', ')}. Known: ${SERVICES.map((s) => s.name).join(', ')}`);
  }
  return SERVICES.filter((s) => names.includes(s.name));
}
