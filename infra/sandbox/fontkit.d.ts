/** The part of fontkit (pdfkit's font engine; it ships no types) the invoicing sandbox uses. */
declare module 'fontkit' {
  /** Where a glyph of a run goes, in font units (pdfkit scales these in place). */
  export interface GlyphPosition {
    xAdvance: number;
    yAdvance: number;
    xOffset: number;
    yOffset: number;
  }
  /** A shaped run: the glyphs (shared objects of their font) and their positions. */
  export interface GlyphRun {
    glyphs: unknown[];
    positions: GlyphPosition[];
    readonly advanceWidth: number;
  }
  /** A glyph: one object per glyph id and font, kept by the font. */
  export interface Glyph {
    readonly id: number;
    /** The outline (the tests check a glyph is drawn). */
    readonly path: { commands: unknown[] };
    /** fontkit-private: decodes the glyph's outline from the `glyf` table, again on every call. */
    _decode(): unknown;
  }
  /** A parsed font; pdfkit's `doc.font()` accepts it as it is (anything with `layout`). */
  export interface Font {
    readonly numGlyphs: number;
    layout(text: string, features?: unknown): GlyphRun;
    getGlyph(id: number, codePoints?: number[]): Glyph | null;
  }
  export function create(buffer: Uint8Array): Font;
}
