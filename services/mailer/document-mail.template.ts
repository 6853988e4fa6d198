import type { DocumentInfo, Language, OrderData } from '../../machines/order/index.ts';
import { formatMoney, moneyLocale } from '../contracts/index.ts';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** File name of the PDF attachment (the number with `/` made safe). */
  filename: string;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

interface Vars {
  name: string;
  number: string;
  issueDate: string;
  externalId: string;
  amount: string;
}

/** The document's KSeF number and verification link, when it went through KSeF. */
export interface KsefMailInfo {
  number: string;
  verificationLink: string | null;
}

const KSEF_LINES: Record<Language, (k: KsefMailInfo) => string[]> = {
  pl: (k) => [`Numer KSeF faktury: ${k.number}`, ...(k.verificationLink ? [`Weryfikacja w KSeF: ${k.verificationLink}`] : [])],
  en: (k) => [`KSeF number of the invoice: ${k.number}`, ...(k.verificationLink ? [`Verify it in KSeF: ${k.verificationLink}`] : [])],
};

const TEMPLATES: Record<Language, { subject: (v: Vars) => string; lines: (v: Vars) => string[] }> = {
  pl: {
    subject: (v) => `Faktura ${v.number} do zamówienia ${v.externalId}`,
    lines: (v) => [
      `Dzień dobry ${v.name},`,
      `w załączniku przesyłamy fakturę ${v.number} z dnia ${v.issueDate} do zamówienia ${v.externalId} na kwotę ${v.amount}.`,
      'Dziękujemy za zakupy!',
    ],
  },
  en: {
    subject: (v) => `Invoice ${v.number} for order ${v.externalId}`,
    lines: (v) => [
      `Hello ${v.name},`,
      `please find attached invoice ${v.number} of ${v.issueDate} for your order ${v.externalId}, amounting to ${v.amount}.`,
      'Thank you for shopping with us!',
    ],
  },
};

/** A correction document (a cancel's reversal or a partial refund's): its own words, no order total. */
const CORRECTION_TEMPLATES: Record<Language, { subject: (v: Vars) => string; lines: (v: Vars) => string[] }> = {
  pl: {
    subject: (v) => `Faktura korygująca ${v.number} do zamówienia ${v.externalId}`,
    lines: (v) => [`Dzień dobry ${v.name},`, `w załączniku przesyłamy fakturę korygującą ${v.number} z dnia ${v.issueDate} do zamówienia ${v.externalId}.`, 'Pozdrawiamy'],
  },
  en: {
    subject: (v) => `Corrective invoice ${v.number} for order ${v.externalId}`,
    lines: (v) => [`Hello ${v.name},`, `please find attached corrective invoice ${v.number} of ${v.issueDate} for your order ${v.externalId}.`, 'Kind regards'],
  },
};

/** The customer's document e-mail in the order's language (Polish or English); pure. */
export function renderDocumentMail(order: OrderData, doc: DocumentInfo, ksef: KsefMailInfo | null = null, opts: { correction?: boolean } = {}): RenderedMail {
  const set = opts.correction ? CORRECTION_TEMPLATES : TEMPLATES;
  const t = set[order.language] ?? set.en;
  const v: Vars = {
    name: order.customer.name,
    number: doc.number,
    issueDate: doc.issueDate,
    externalId: order.externalId,
    amount: formatMoney(order.total, order.currency, moneyLocale(order.language)),
  };
  const base = t.lines(v);
  const lines = ksef ? [...base.slice(0, -1), ...(KSEF_LINES[order.language] ?? KSEF_LINES.en)(ksef), ...base.slice(-1)] : base;
  return {
    subject: t.subject(v),
    text: `${lines.join('\n\n')}\n`,
    html: `<!doctype html><html lang="${order.language}"><body>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</body></html>`,
    filename: `${doc.number.replace(/[^\w.-]+/g, '-')}.pdf`,
  };
}
