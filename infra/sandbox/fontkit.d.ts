/** The part of fontkit (pdfkit's font engine; it ships no types) the invoicing sandbox uses. */
declare module 'fontkit' {
  /** A parsed font; pdfkit's `doc.font()` accepts it as it is (anything with `layout`). */
  export interface Font {
    layout(text: string): unknown;
  }
  export function create(buffer: Uint8Array): Font;
}
