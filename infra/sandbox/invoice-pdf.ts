import { existsSync, readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
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

/**
 * Characters every document's font subset holds, in this order, whether its text uses them or not:
 * letters, digits, the usual punctuation and the Polish letters, and the ligatures a font forms from
 * letters (DejaVu Sans draws "fi" in "zofia" as one glyph; Liberation Sans has none). Most documents then embed the very
 * same subset, so its font file is built and compressed once (`sameFontFileAcrossDocuments`) — per
 * document that was about half of a PDF's CPU (fontkit encoding the subset's tables, then zlib) for
 * a subset that differed only in the order the number and the buyer brought their characters in.
 * Costs about 5 KiB per PDF (24 instead of 19 KiB: some 90 glyphs embedded instead of 50).
 */
const FIXED_SUBSET_TEXT = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;/-()%@&+_ąćęłńóśźżĄĆĘŁŃÓŚŹŻ fi fl ff ffi ffl';

/** What pdfkit keeps inside; not in its types. */
interface PdfRef {
  compress: boolean;
  data: Record<string, unknown>;
}
interface EmbeddedPdfFont {
  subset: { glyphs: number[]; encode(): Uint8Array };
  encode(text: string): unknown;
}

/** Compressed font files by subset (its glyph ids in order); bounded, most documents share one. */
const fontFiles = new Map<string, Buffer>();

/**
 * The document's embedded font holds FIXED_SUBSET_TEXT first, and its font file comes from
 * `fontFiles` when a document before had the same subset: the bytes pdfkit would write (the subset
 * encoded, then deflated with zlib's defaults as pdfkit does), marked FlateDecode, without encoding
 * or compressing them again. Relies on pdfkit 0.20 internals (`_font`, `ref`, a reference's
 * `compress`), pinned in package-lock.json; the test checks the font in the output.
 */
function sameFontFileAcrossDocuments(doc: PDFKit.PDFDocument): void {
  const internals = doc as unknown as { _font?: Partial<EmbeddedPdfFont>; ref(data?: object): PdfRef };
  const embedded = internals._font;
  if (embedded?.subset === undefined || typeof embedded.encode !== 'function') return; // a standard font: nothing embedded
  embedded.encode(FIXED_SUBSET_TEXT);
  const ref = internals.ref.bind(doc);
  let lastRef: PdfRef | null = null;
  internals.ref = (data?: object) => (lastRef = ref(data));
  const subset = embedded.subset;
  const encode = subset.encode.bind(subset);
  subset.encode = () => {
    // pdfkit creates the font file's reference, then asks the subset for its bytes.
    const fontFile = lastRef;
    if (fontFile === null || !fontFile.compress) return encode();
    const key = subset.glyphs.join(',');
    let deflated = fontFiles.get(key);
    if (deflated === undefined) {
      deflated = deflateSync(encode());
      if (fontFiles.size >= 64) fontFiles.delete(fontFiles.keys().next().value as string);
      fontFiles.set(key, deflated);
    }
    fontFile.compress = false;
    fontFile.data['Filter'] = 'FlateDecode';
    return deflated;
  };
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
    if (font) sameFontFileAcrossDocuments(doc);
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
