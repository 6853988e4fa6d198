/** The admin events the needs-attention page sends to many held orders at once, with one note. */
export const BULK_ACTIONS = {
  release: { type: 'RELEASE', verb: 'Release', done: 'Released', what: 'is resubmitted to the warehouse' },
  cancel: { type: 'CANCEL', verb: 'Cancel', done: 'Cancelled', what: 'is cancelled: its shipment cancelled at the warehouse, a payment refunded and a document corrected' },
} as const;
export type BulkAction = keyof typeof BULK_ACTIONS;
