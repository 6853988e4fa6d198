/**
 * The Polish tax id (NIP) rules, I/O-free: the invoicing service's pre-check and the admin API's
 * UPDATE_BUYER validation ask the same functions, so a NIP an admin may save is one the invoicing
 * service accepts.
 */

const NIP_WEIGHTS = [6, 5, 7, 2, 3, 4, 5, 6, 7] as const;

/** Strips separators and an optional `PL` prefix: `"PL 526-000-12-46"` → `"5260001246"`. */
export function normalizeNip(raw: string): string {
  return raw.replace(/[\s-]/g, '').replace(/^PL/i, '');
}

/** True when `raw` is a Polish NIP with a valid checksum (weights 6,5,7,2,3,4,5,6,7 mod 11). */
export function isValidNip(raw: string): boolean {
  const nip = normalizeNip(raw);
  if (!/^\d{10}$/.test(nip)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(nip[i]) * (NIP_WEIGHTS[i] ?? 0);
  const check = sum % 11;
  return check !== 10 && check === Number(nip[9]);
}

/** Whether a buyer's tax id is a Polish NIP: billed to PL, or written with a `PL` prefix. */
export function isPolishTaxId(billingCountry: string, taxId: string): boolean {
  return billingCountry === 'PL' || /^PL/i.test(taxId.trim());
}

/**
 * What is wrong with a buyer's tax id, or null: a Polish one must pass the NIP checksum, a foreign
 * one must look like a VAT number.
 */
export function taxIdProblem(taxId: string, billingCountry: string): string | null {
  const t = taxId.trim();
  if (t === '') return null;
  if (isPolishTaxId(billingCountry, t)) return isValidNip(t) ? null : `buyer tax id "${t}" is not a valid Polish NIP (checksum)`;
  return /^[A-Z]{0,2}[A-Z0-9+*.\s-]{2,20}$/i.test(t) ? null : `buyer tax id "${t}" is not a valid tax id`;
}
