/**
 * The invoicing service's entry point: the invoicing system's port (the mailer and the console read
 * document PDFs through it), the KSeF read model (console, metrics) and how to start the service.
 * Others import only this file.
 */
export type { InvoicingProvider } from './invoicing.port.ts';
export { invoicingProviderFromConfig, startInvoicingService, type InvoicingServiceOptions } from './main.ts';
export {
  documentsWaitingForKsef,
  ksefDocumentsNeedingAttention,
  ksefFile,
  ksefFilesOf,
  correctionKsefFile,
  correctionKsefFilesOf,
  type KsefAttention,
  type KsefFileInfo,
  type KsefFileKind,
} from './ksef.queries.ts';
