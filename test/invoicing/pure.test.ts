import { describe, expect, it } from 'vitest';
import { decimalToMinor, minorToDecimal } from '../../services/contracts/money.ts';
import { isValidNip, precheckOrderForInvoice } from '../../services/invoicing/nip.ts';
import { splitByVatRate, toFakturowniaCorrection, toFakturowniaInvoice } from '../../services/invoicing/fakturownia.adapter.ts';
import { exponentialBackoff } from '../../infra/retry-policy.ts';
import { renderDocumentMail } from '../../services/mailer/document-mail.template.ts';
import { sampleOrder } from '../support/orders.ts';
import { OrderpilotError } from '../../services/contracts/index.ts';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof OrderpilotError ? err.code : 'NOT_ORDERPILOT_ERROR';
  }
};

describe('money: exact minor units ↔ decimal strings', () => {
  it('converts without float drift', () => {
    expect(minorToDecimal(10 + 20, 'PLN')).toBe('0.30');
    expect(minorToDecimal(1999, 'PLN')).toBe('19.99');
    expect(minorToDecimal(5, 'EUR')).toBe('0.05');
    expect(minorToDecimal(0, 'PLN')).toBe('0.00');
    expect(minorToDecimal(-150, 'PLN')).toBe('-1.50');
    expect(minorToDecimal(1500, 'JPY')).toBe('1500');
    expect(minorToDecimal(1234, 'KWD')).toBe('1.234');
    expect(minorToDecimal(99_999_999_999_99, 'PLN')).toBe('99999999999.99');
    expect(decimalToMinor('0.3', 'PLN')).toBe(30);
    expect(decimalToMinor('19,99', 'PLN')).toBe(1999);
    expect(codeOf(() => minorToDecimal(0.1, 'PLN'))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => decimalToMinor('1.001', 'PLN'))).toBe('VALIDATION_FAILED');
  });
});

describe('NIP and the pre-check', () => {
  it('checks the NIP checksum', () => {
    expect(isValidNip('5260250274')).toBe(true);
    expect(isValidNip('526-025-02-74')).toBe(true);
    expect(isValidNip('PL 5260250274')).toBe(true);
    expect(isValidNip('5260250275')).toBe(false);
    expect(isValidNip('1234567890')).toBe(false); // checksum 10: never valid
    expect(isValidNip('12345')).toBe(false);
  });

  it('finds permanent problems before the provider is called', () => {
    expect(codeOf(() => precheckOrderForInvoice(sampleOrder()))).toBeUndefined();
    const company = (over: { company?: string; taxId?: string }) =>
      sampleOrder({ customer: { email: 'b@example.com', name: 'Buyer', ...over } });
    expect(codeOf(() => precheckOrderForInvoice(company({ company: 'ACME sp. z o.o.', taxId: '5260250274' })))).toBeUndefined();
    expect(codeOf(() => precheckOrderForInvoice(company({ company: 'ACME sp. z o.o.' })))).toBe('INVOICE_BUYER_DATA_MISSING');
    expect(codeOf(() => precheckOrderForInvoice(company({ company: 'ACME', taxId: '1234567890' })))).toBe('INVOICE_BUYER_TAX_ID_INVALID');
    const de = sampleOrder({ customer: { email: 'b@example.com', name: 'B', company: 'GmbH', taxId: 'DE123456789' } });
    de.billingAddress = { ...de.billingAddress, country: 'DE' };
    expect(codeOf(() => precheckOrderForInvoice(de))).toBeUndefined();
    expect(codeOf(() => precheckOrderForInvoice(sampleOrder({ total: 1 })))).toBe('VALIDATION_FAILED');
    const noCity = sampleOrder();
    noCity.billingAddress = { ...noCity.billingAddress, city: ' ' };
    expect(codeOf(() => precheckOrderForInvoice(noCity))).toBe('INVOICE_BUYER_DATA_MISSING');
  });
});

describe('Fakturownia invoice mapping', () => {
  it('maps lines and shipping to exact gross totals with the order id as oid', () => {
    const order = sampleOrder({
      lines: [
        { sku: 'A', name: 'Dime', quantity: 3, unitPrice: 10, taxRate: 23 },
        { sku: 'B', name: 'Book', quantity: 1, unitPrice: 20, taxRate: 5 },
      ],
      shippingPrice: 999,
      total: 30 + 20 + 999,
      customer: { email: 'b@example.com', name: 'Jan', company: 'ACME', taxId: '526-025-02-74' },
    });
    const inv = toFakturowniaInvoice(order, { today: '2026-03-05' });
    expect(inv).toMatchObject({ kind: 'vat', oid: order.orderId, oid_unique: 'yes', issue_date: '2026-03-05', buyer_name: 'ACME', buyer_tax_no: '5260250274', buyer_company: true });
    expect(inv.buyer_tax_no_kind).toBeUndefined();
    expect(inv.status).toBeUndefined();
    expect(inv.positions).toEqual([
      { name: 'Dime', tax: 23, total_price_gross: '0.30', quantity: 3 },
      { name: 'Book', tax: 5, total_price_gross: '0.20', quantity: 1 },
      { name: 'Dostawa', tax: 23, total_price_gross: '9.99', quantity: 1 },
    ]);
  });
});

describe('retry backoff', () => {
  it('doubles per attempt with bounded jitter; 8 attempts at 30 s span about an hour', () => {
    const mid = exponentialBackoff(30_000, undefined, () => 0.5);
    expect([1, 2, 3].map(mid)).toEqual([30_000, 60_000, 120_000]);
    const total = [1, 2, 3, 4, 5, 6, 7].reduce((s, n) => s + mid(n), 0);
    expect(total / 60_000).toBeGreaterThan(55);
    expect(total / 60_000).toBeLessThan(70);
    const lo = exponentialBackoff(1000, undefined, () => 0)(1);
    const hi = exponentialBackoff(1000, undefined, () => 0.999999)(1);
    expect(lo).toBe(750);
    expect(hi).toBe(1250);
  });
});

describe('document mail templates', () => {
  it('speaks the order language', () => {
    const doc = { providerId: '1', number: 'FV/7/03/2026', issueDate: '2026-03-05', provider: 'fakturownia' };
    const pl = renderDocumentMail(sampleOrder({ externalId: 'SHOP-1' }), doc);
    expect(pl.subject).toBe('Faktura FV/7/03/2026 do zamówienia SHOP-1');
    expect(pl.text).toContain('na kwotę 65,00\u00a0zł.');
    expect(pl.html).toContain('na kwotę 65,00\u00a0zł.');
    expect(pl.filename).toBe('FV-7-03-2026.pdf');
    const en = renderDocumentMail(sampleOrder({ externalId: 'SHOP-2', language: 'en', customer: { email: 'a@example.com', name: '<Ann>' } }), doc);
    expect(en.subject).toBe('Invoice FV/7/03/2026 for order SHOP-2');
    expect(en.text).toContain('amounting to PLN\u00a065.00.');
    expect(en.html).toContain('&lt;Ann&gt;');
  });

  it('writes amounts the way each language does (exactly, from minor units)', () => {
    const doc = { providerId: '1', number: 'FV/8/03/2026', issueDate: '2026-03-05', provider: 'fakturownia' };
    const order = sampleOrder({ externalId: 'SHOP-3' });
    const big = { ...order, total: 1234560, lines: [{ sku: 'X', name: 'X', quantity: 1, unitPrice: 1234560 - order.shippingPrice, taxRate: 23 }] };
    expect(renderDocumentMail(big, doc).text).toContain('na kwotę 12\u00a0345,60\u00a0zł.');
    expect(renderDocumentMail({ ...big, language: 'en' }, doc).text).toContain('amounting to PLN\u00a012,345.60.');
  });
});

describe('partial corrections: split over the VAT rates', () => {
  it('shares follow the gross at each rate and add up to the amount to the grosz', () => {
    expect(splitByVatRate([{ tax: 23, gross: 5000 }, { tax: 5, gross: 5000 }], 1001)).toEqual([
      { tax: 23, gross: 501 },
      { tax: 5, gross: 500 },
    ]);
    expect(splitByVatRate([{ tax: 23, gross: 3333 }, { tax: 8, gross: 3333 }, { tax: 5, gross: 3334 }], 100).reduce((s, x) => s + x.gross, 0)).toBe(100);
    expect(splitByVatRate([{ tax: 23, gross: 9000 }, { tax: 8, gross: 1000 }, { tax: 23, gross: 0 }], 2000)).toEqual([
      { tax: 23, gross: 1800 },
      { tax: 8, gross: 200 },
    ]);
    expect(splitByVatRate([{ tax: 23, gross: 0 }], 700)).toEqual([{ tax: 23, gross: 700 }]);
  });

  it('a partial correction of a mixed-rate order is one position per rate, each corrected by its share', () => {
    const order = sampleOrder({
      lines: [
        { sku: 'MUG', name: 'Kubek', quantity: 2, unitPrice: 2500, taxRate: 23 },
        { sku: 'BOOK', name: 'Książka', quantity: 1, unitPrice: 4000, taxRate: 5 },
      ],
      shippingPrice: 1000,
      total: 10000,
    });
    const doc = { providerId: '77', number: 'FV/1/11/2026', issueDate: '2026-11-30', provider: 'fakturownia' };
    const c = toFakturowniaCorrection(order, doc, { correctionId: `${order.orderId}:correction:1`, amount: 2500, full: false, reason: 'Rabat' }, { today: '2026-11-30' });
    const positions = c['positions'] as Array<{ name: string; tax: number; total_price_gross: string }>;
    // 6000 gross at 23 % (the mugs and the shipping), 4000 at 5 %: 1500 and 1000 of the 2500.
    expect(positions.map((p) => [p.name, p.tax, p.total_price_gross])).toEqual([
      ['Rabat (VAT 23%)', 23, '-15.00'],
      ['Rabat (VAT 5%)', 5, '-10.00'],
    ]);
    expect(c).toMatchObject({ kind: 'correction', invoice_id: '77', correction_reason: 'Rabat' });
  });
});
