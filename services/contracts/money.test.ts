import { describe, expect, it } from 'vitest';
import { formatMoney, moneyLocale } from './money.ts';

const nb = '\u00a0';

describe('formatMoney: amounts as each language writes them', () => {
  it('Polish: comma decimals, złoty after the amount, no-break spaces', () => {
    expect(formatMoney(30099, 'PLN', moneyLocale('pl'))).toBe(`300,99${nb}zł`);
    expect(formatMoney(1234560, 'PLN', 'pl-PL')).toBe(`12${nb}345,60${nb}zł`);
    expect(formatMoney(-500, 'PLN', 'pl-PL')).toBe(`-5,00${nb}zł`);
  });

  it('English: point decimals, currency first', () => {
    expect(formatMoney(30099, 'PLN', moneyLocale('en'))).toBe(`PLN${nb}300.99`);
    expect(formatMoney(1999, 'EUR', 'en-GB')).toBe('€19.99');
    expect(formatMoney(1234560, 'PLN', 'en-GB')).toBe(`PLN${nb}12,345.60`);
  });

  it('is exact beyond float precision and keeps each currency’s minor unit', () => {
    expect(formatMoney(900719925474099, 'PLN', 'en-GB')).toBe(`PLN${nb}9,007,199,254,740.99`);
    expect(formatMoney(1000, 'JPY', 'en-GB')).toBe('JP¥1,000');
    expect(formatMoney(1234, 'KWD', 'en-GB')).toBe(`KWD${nb}1.234`);
  });
});
