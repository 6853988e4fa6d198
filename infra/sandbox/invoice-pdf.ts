import { existsSync, readFileSync } from 'node:fs';
import * as fontkit from 'fontkit';
import PDFDocument from 'pdfkit';

/** What the sandbox prints on a sales document. Amounts are exact decimal strings. */
export interface PdfInvoice {
  number: string;
  issueDate: string;
  sellDate: string;
  currency: string;
  seller: { name: string; taxNo: string; street: string; city: string };
  buyer: { name: string; taxNo: string | null; street: string; postCode: string; city: string; country: string; email: string };
  positions: Array<{ name: string; quantity: number; tax: string; net: string; gross: string }>;
  totals: { net: string; tax: string; gross: string };
  oid: string | null;
}

// A Unicode font so Polish letters (ą, ł, ż) print; Helvetica (WinAnsi) is the fallback elsewhere.
// Liberation Sans first: small, so a PDF renders ~5x faster than with DejaVu Sans.
const UNICODE_FONTS = [
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/Library/Fonts/Arial Unicode.ttf',
];
const UNICODE_FONT = UNICODE_FONTS.find((f) => existsSync(f));
// Parsed once and shared by every document: given a path, pdfkit reads and decodes the font's
// tables again for each PDF, which cost the bench more CPU than the rest of the sandboxes together.
let parsedFont: fontkit.Font | undefined;
function unicodeFont(): fontkit.Font | undefined {
  if (UNICODE_FONT !== undefined) parsedFont ??= sharedAcrossDocuments(fontkit.create(readFileSync(UNICODE_FONT)));
  return parsedFont;
}

/** A run handed out from the shared layouts: its own positions, since pdfkit scales them in place. */
class CopiedRun implements fontkit.GlyphRun {
  readonly positions: fontkit.GlyphPosition[];
  constructor(
    readonly glyphs: unknown[],
    positions: readonly fontkit.GlyphPosition[],
  ) {
    this.positions = positions.map((p) => ({ xAdvance: p.xAdvance, yAdvance: p.yAdvance, xOffset: p.xOffset, yOffset: p.yOffset }));
  }
  get advanceWidth(): number {
    let width = 0;
    for (const p of this.positions) width += p.xAdvance;
    return width;
  }
}

/**
 * The font, with what pdfkit recomputes for every document kept across documents instead; the
 * PDFs come out byte for byte as before. Everything else is the parsed font itself.
 *
 * - Word layouts (shaping: about a third of a PDF's CPU): pdfkit lays text out word by word and
 *   caches the words per document only, though most words ("Faktura", "Nabywca", product names,
 *   amounts) recur in every one; the same word in the same font always shapes the same.
 * - Glyph outlines (about a third of what is left): the font subset embedded in each PDF decodes
 *   every glyph it includes from the `glyf` table again; the fonts above are static (no
 *   variation axes), so a glyph's outline never changes and is decoded once.
 */
function sharedAcrossDocuments(font: fontkit.Font): fontkit.Font {
  const runs = new Map<string, { glyphs: unknown[]; positions: fontkit.GlyphPosition[] }>();
  const layout = (text: string, features?: unknown): fontkit.GlyphRun => {
    // With features asked (never by this sandbox) the layout is not the word's usual one.
    if (features !== undefined) return font.layout(text, features);
    const kept = runs.get(text);
    if (kept) return new CopiedRun(kept.glyphs, kept.positions);
    const run = font.layout(text);
    runs.set(text, { glyphs: run.glyphs, positions: new CopiedRun(run.glyphs, run.positions).positions });
    // Buyers' names, e-mails and numbers are one-offs: keep the map from growing without bound.
    if (runs.size > 20_000) runs.clear();
    return run;
  };
  const decodedOnce = new WeakSet<fontkit.Glyph>();
  const getGlyph = (id: number, codePoints?: number[]): fontkit.Glyph | null => {
    const glyph = font.getGlyph(id, codePoints);
    if (glyph !== null && !decodedOnce.has(glyph)) {
      decodedOnce.add(glyph);
      const decode = glyph._decode.bind(glyph);
      let outline: { value: unknown } | undefined;
      glyph._decode = () => (outline ??= { value: decode() }).value;
    }
    return glyph;
  };
  return new Proxy(font, {
    get: (target, key) => (key === 'layout' ? layout : key === 'getGlyph' ? getGlyph : Reflect.get(target, key, target)),
  });
}

/** Renders a real, single-page PDF (buyer, seller, lines, totals) with pdfkit. */
export function renderInvoicePdf(inv: PdfInvoice): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const font = unicodeFont();
    // The parsed font as the document's own (no Helvetica metrics parsed first, for nothing).
    // @types/pdfkit lists paths and bytes only; pdfkit also takes a parsed font (anything with `layout`).
    const doc = new PDFDocument({
      size: 'A4',
      margin: 50,
      info: { Title: `Faktura ${inv.number}`, Producer: 'orderpilot invoicing sandbox' },
      ...(font ? { font: font as unknown as string } : {}),
    });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.fontSize(18).text(`Faktura VAT ${inv.number}`);
    doc.fontSize(9).text(`Data wystawienia / issue date: ${inv.issueDate}    Data sprzedaży / sell date: ${inv.sellDate}`);
    if (inv.oid) doc.text(`Zamówienie / order: ${inv.oid}`);
    doc.moveDown();
    const top = doc.y;
    doc.fontSize(10).text('Sprzedawca / seller', 50, top).fontSize(9);
    doc.text(inv.seller.name).text(`NIP ${inv.seller.taxNo}`).text(inv.seller.street).text(inv.seller.city);
    doc.fontSize(10).text('Nabywca / buyer', 300, top).fontSize(9);
    doc.text(inv.buyer.name, 300).text(inv.buyer.taxNo ? `NIP ${inv.buyer.taxNo}` : '', 300);
    doc.text(inv.buyer.street, 300).text(`${inv.buyer.postCode} ${inv.buyer.city}, ${inv.buyer.country}`, 300).text(inv.buyer.email, 300);
    doc.moveDown(2);
    const cols = [50, 260, 310, 360, 440];
    let y = Math.max(doc.y, top + 90);
    const row = (cells: string[]) => {
      cells.forEach((c, i) => doc.text(c, cols[i] ?? 50, y, { width: (cols[i + 1] ?? 545) - (cols[i] ?? 50) - 5 }));
      y = doc.y + 4;
    };
    doc.fontSize(9);
    row(['Nazwa / item', 'Ilość', 'VAT', `Netto (${inv.currency})`, `Brutto (${inv.currency})`]);
    for (const p of inv.positions) row([p.name, String(p.quantity), p.tax, p.net, p.gross]);
    y += 6;
    row(['Razem / total', '', '', inv.totals.net, inv.totals.gross]);
    row([`w tym VAT / VAT: ${inv.totals.tax} ${inv.currency}`, '', '', '', '']);
    doc.fontSize(11).text(`Do zapłaty / total due: ${inv.totals.gross} ${inv.currency} (zapłacono / paid)`, 50, y + 10);
    doc.end();
  });
}
