import { ConfigError } from '../../infra/config.ts';
import { runConsumer } from '../../infra/nats/consumer-runner.ts';
import type { RunningService, ServiceDeps } from '../../infra/runtime/service.ts';
import { retryPolicyFromConfig } from '../../infra/retry-policy.ts';
import { COMMANDS, OrderpilotError } from '../contracts/index.ts';
import { createHttpWarehouse } from './http-warehouse.adapter.ts';
import { createNatsLogisticsOut } from './nats-order-events.adapter.ts';
import { createSubmitShipmentHandler } from './submit-shipment.handler.ts';
import { createCancelShipmentHandler } from './cancel-shipment.handler.ts';
import { createChangeShipmentAddressHandler } from './change-shipment-address.handler.ts';
import { createWarehouseLog } from './warehouse-log.adapter.ts';
import { createWarehouseStatusHandler } from './warehouse-status.handler.ts';
import type { WarehousePort } from './warehouse.port.ts';

export interface LogisticsServiceOptions {
  /** Another warehouse adapter (a real 3PL's); default: our HTTP contract at WAREHOUSE_URL. */
  warehouse?: WarehousePort;
}

/**
 * The logistics service: one shared consumer on the logistics command queue (`submit-shipment`
 * from the order actor, `warehouse-status` from the gateway's webhook route). Stateless between
 * messages; run as many copies as you like.
 */
export async function startLogisticsService(deps: ServiceDeps, opts: LogisticsServiceOptions = {}): Promise<RunningService> {
  const { config, names, nc, sql } = deps;
  const logger = deps.logger.child({ service: 'logistics' });
  const log = createWarehouseLog(sql);
  let warehouse = opts.warehouse;
  if (warehouse === undefined) {
    if (config.warehouseUrl === undefined) {
      throw new ConfigError('WAREHOUSE_URL', 'required by the logistics service (a local sandbox: npm run sandbox:warehouse)');
    }
    warehouse = createHttpWarehouse({ baseUrl: config.warehouseUrl, apiKey: config.warehouseApiKey, timeoutMs: config.warehouseTimeoutMs, log });
  }
  const out = createNatsLogisticsOut(nc, names);
  const submit = createSubmitShipmentHandler({ warehouse, log, out, logger });
  const status = createWarehouseStatusHandler({ log, out, logger, isKnownReference: (r) => log.isKnownReference(r) });
  const cancel = createCancelShipmentHandler({ warehouse, log, out, logger });
  const submitSubject = names.subjects.command('submitShipment');
  const cancelSubject = names.subjects.command('cancelShipment');
  const readdress = createChangeShipmentAddressHandler({ warehouse, log, out, logger });
  const readdressSubject = names.subjects.command('changeShipmentAddress');
  const statusSubject = names.subjects.command('warehouseStatus');

  const consumer = await runConsumer({
    nc,
    sql,
    logger,
    stream: names.streams.command(COMMANDS.submitShipment.service),
    consumer: names.consumers.command(COMMANDS.submitShipment.service),
    concurrency: config.logisticsConcurrency,
    // The handler turns the last transient failure into SHIPMENT_REJECTED WAREHOUSE_UNREACHABLE.
    maxDeliver: config.logisticsMaxAttempts,
    ackWaitMs: config.ackWaitMs,
    gate: deps.bulkGate,
    retry: retryPolicyFromConfig(config, 'logistics'),
    handler: async (env, ctx) => {
      if (ctx.subject === submitSubject) return submit(env, ctx);
      if (ctx.subject === statusSubject) return status(env);
      if (ctx.subject === cancelSubject) return cancel(env, ctx);
      if (ctx.subject === readdressSubject) return readdress(env, ctx);
      throw new OrderpilotError('MALFORMED_MESSAGE', `logistics has no handler for subject ${ctx.subject}`);
    },
  });
  logger.info({ warehouse: config.warehouseUrl, maxAttempts: config.logisticsMaxAttempts, concurrency: config.logisticsConcurrency }, 'logistics service started');
  return {
    name: 'logistics',
    async stop() {
      await consumer.stop();
      logger.info('logistics service stopped');
    },
  };
}
