/**
 * The orders service's entry point: its read model (typed queries over `orders` and
 * `order_history`) and how to start it. Other services and the gateway import only this file.
 */
export {
  countsPerState,
  countsPerStateNode,
  failedDocuments,
  findOrder,
  findOrderByReference,
  heldOrders,
  attentionFacts,
  problemCounts,
  listOrders,
  missingOrders,
  ORDER_SORTS,
  orderHistory,
  recentTransitions,
  type AttentionFacts,
  type FailedDocument,
  type HeldOrder,
  type OrderCursor,
  type OrderDetail,
  type OrderHistoryEntry,
  type OrderListFilter,
  type OrderReference,
  type OrderSort,
  type OrderSummary,
  type RecentTransition,
} from './order.queries.ts';
export { orderAnswers, type OrderAnswer } from './order-answers.read.ts';
export { readOrderMetrics, type OrderMetrics } from './order-metrics.read.ts';
export { startOrdersService } from './main.ts';
