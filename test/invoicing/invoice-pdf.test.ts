import { inflateSync } from 'node:zlib';
import * as fontkit from 'fontkit';
import { describe, expect, it } from 'vitest';
import { renderInvoicePdf, type PdfInvoice } from '../../infra/sandbox/invoice-pdf.ts';

const base: PdfInvoice = {
  number: 'FV/1/12/2026',
  issueDate: '2026-12-01',
  sellDate: '2026-12-01',
  currency: 'PLN',
  seller: { name: 'Sklep Przykładowy sp. z o.o.', taxNo: '5260250274', street: 'ul. Długa 1', city: 'Warszawa' },
  buyer: { name: 'Łukasz Wróbel', taxNo: null, street: 'ul. Źródlana 5', postCode: '00-001', city: 'Kraków', country: 'PL', email: 'lukasz@example.com' },
  positions: [{ name: 'Kubek ceramiczny', quantity: 2, tax: '23%', net: '40.65', gross: '50.00' }],
  totals: { net: '40.65', tax: '9.35', gross: '50.00' },
  oid: 'ord_1',
};

/** The stream of object `id` in a PDF written by pdfkit (streams are not in object streams there). */
function objectStream(pdf: Buffer, id: number): { dict: string; data: Buffer } {
  const head = pdf.indexOf(`\n${id} 0 obj`);
  expect(head).toBeGreaterThan(0);
  const start = pdf.indexOf('stream\n', head) + 'stream\n'.length;
  const dict = pdf.subarray(head, start).toString('latin1');
  const length = Number(/\/Length (\d+)/.exec(dict)?.[1]);
  return { dict, data: pdf.subarray(start, start + length) };
}

/** The embedded font file (deflated, as the PDF says) and the ToUnicode map of the document's font. */
function embeddedFont(pdf: Buffer): { file: Buffer; filter: string; toUnicode: string } {
  const text = pdf.toString('latin1');
  const fileId = Number(/\/FontFile2 (\d+) 0 R/.exec(text)?.[1]);
  const cmapId = Number(/\/ToUnicode (\d+) 0 R/.exec(text)?.[1]);
  const file = objectStream(pdf, fileId);
  const cmap = objectStream(pdf, cmapId);
  return { file: inflateSync(file.data), filter: /\/Filter \/(\w+)/.exec(file.dict)?.[1] ?? '', toUnicode: inflateSync(cmap.data).toString('latin1') };
}

/** Glyph id by character, from a ToUnicode map as pdfkit writes it (`<first> <last> [<code> …]`). */
function glyphIds(cmap: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const m of cmap.matchAll(/<([0-9a-f]{4})> <[0-9a-f]{4}> \[([^\]]*)\]/gi)) {
    [...(m[2] ?? '').matchAll(/<([0-9a-f ]+)>/gi)].forEach((code, i) => {
      const units = (code[1] ?? '').split(' ').map((h) => parseInt(h, 16));
      ids.set(String.fromCharCode(...units), parseInt(m[1] ?? '0', 16) + i);
    });
  }
  return ids;
}

/** Each character of `text` maps to a glyph of the embedded font that has an outline (is drawn). */
function expectDrawn(f: { file: Buffer; toUnicode: string }, text: string): void {
  const font = fontkit.create(f.file);
  const ids = glyphIds(f.toUnicode);
  for (const ch of text.replace(/ /g, '')) {
    const id = ids.get(ch);
    expect(id, ch).toBeDefined();
    expect(id ?? Infinity, ch).toBeLessThan(font.numGlyphs);
    expect(font.getGlyph(id ?? 0)?.path.commands.length, ch).toBeGreaterThan(0);
  }
}

describe('sandbox invoice PDF: one font file shared by documents with the same characters', () => {
  it('embeds a valid TrueType subset holding every character printed, and the same file for another buyer', async () => {
    const first = await renderInvoicePdf(base);
    const second = await renderInvoicePdf({ ...base, number: 'FV/2/12/2026', buyer: { ...base.buyer, name: 'Zofia Nowak', email: 'zofia@example.com', city: 'Gdańsk' } });
    const a = embeddedFont(first);
    const b = embeddedFont(second);
    for (const f of [a, b]) {
      expect(f.filter).toBe('FlateDecode');
      expect((fontkit.create(f.file)).numGlyphs).toBeGreaterThan(80);
    }
    expectDrawn(a, 'Łukasz Wróbel Kraków FV/1/12/2026 Faktura Zamówienie Ilość');
    expectDrawn(b, 'Zofia Nowak Gdańsk zofia@example.com');
    // Both documents' characters are in the fixed set: one subset, one font file for both.
    expect(b.file.equals(a.file)).toBe(true);
  });

  it('a character outside the fixed set gets its glyph too, in a font file of its own', async () => {
    const pdf = await renderInvoicePdf({ ...base, number: 'FV/3/12/2026', buyer: { ...base.buyer, name: 'Jürgen Ø. Öberg' } });
    const f = embeddedFont(pdf);
    const plain = embeddedFont(await renderInvoicePdf(base));
    expectDrawn(f, 'Jürgen Ø. Öberg');
    const glyphs = (file: Buffer) => (fontkit.create(file)).numGlyphs;
    expect(glyphs(f.file)).toBeGreaterThanOrEqual(glyphs(plain.file) + 3);
  });
});
