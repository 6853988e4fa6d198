import { OrderpilotError } from './errors.ts';

/** ISO 4217 currencies whose minor unit is not 1/100. Everything else has two decimals. */
const EXPONENTS: Readonly<Record<string, number>> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};

export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

/**
 * Integer minor units → exact decimal string (`1999, 'PLN'` → `"19.99"`). Pure string arithmetic on
 * an integer: no binary floating point, so 0.1 + 0.2 can never turn into 0.30000000000000004.
 */
export function minorToDecimal(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) {
    throw new OrderpilotError('VALIDATION_FAILED', `amount ${minor} is not an integer number of minor units`);
  }
  const exp = currencyExponent(currency);
  const digits = String(Math.abs(minor)).padStart(exp + 1, '0');
  const whole = digits.slice(0, digits.length - exp);
  const frac = digits.slice(digits.length - exp);
  return `${minor < 0 ? '-' : ''}${whole}${exp > 0 ? `.${frac}` : ''}`;
}

/** Exact decimal string → integer minor units (`"19.99"` → 1999); rejects more decimals than the currency has. */
export function decimalToMinor(decimal: string | number, currency: string): number {
  const s = String(decimal).trim().replace(',', '.');
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new OrderpilotError('VALIDATION_FAILED', `"${s}" is not a decimal amount`);
  const exp = currencyExponent(currency);
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (frac.length > exp) throw new OrderpilotError('VALIDATION_FAILED', `"${s}" has more than ${exp} decimals for ${currency}`);
  const n = Number(`${m[2]}${frac.padEnd(exp, '0')}`);
  if (!Number.isSafeInteger(n)) throw new OrderpilotError('VALIDATION_FAILED', `"${s}" is too large`);
  return m[1] ? -n : n;
}

/** The locale that formats amounts for an order's language (`pl` → Polish, anything else → English). */
export function moneyLocale(language: string): string {
  return language === 'pl' ? 'pl-PL' : 'en-GB';
}

/**
 * Building an `Intl.NumberFormat` costs far more than formatting with one (the bench saw a third of
 * a millisecond per e-mail), so each locale and currency gets one, kept. Bounded: currencies come
 * from orders, and a flood of odd ones must not grow this without end.
 */
const MONEY_FORMATS = new Map<string, Intl.NumberFormat>();
const MAX_MONEY_FORMATS = 64;

function moneyFormat(locale: string, currency: string): Intl.NumberFormat {
  const key = `${locale} ${currency}`;
  let format = MONEY_FORMATS.get(key);
  if (format === undefined) {
    const exp = currencyExponent(currency);
    format = new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: exp, maximumFractionDigits: exp });
    if (MONEY_FORMATS.size >= MAX_MONEY_FORMATS) MONEY_FORMATS.clear();
    MONEY_FORMATS.set(key, format);
  }
  return format;
}

/**
 * Integer minor units → an amount as people read it in `locale`: `30099, 'PLN', 'pl-PL'` →
 * "300,99 zł", in English "PLN 300.99"; `1999, 'EUR', 'en-GB'` → "€19.99". The exact decimal string
 * goes to Intl (which formats decimal strings exactly), never a binary float. Separators are the
 * locale's own (Polish groups thousands with a no-break space: "12 345,60 zł").
 */
export function formatMoney(minor: number, currency: string, locale: string): string {
  const format = moneyFormat(locale, currency);
  // Intl.NumberFormat takes a decimal string as an exact value (ES2023); the cast is for older lib typings.
  return format.format(minorToDecimal(minor, currency) as unknown as number);
}
