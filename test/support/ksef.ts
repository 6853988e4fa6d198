/**
 * The environment of a test world with KSeF on (the Fakturownia sandbox started with `ksef: 'on'`):
 * every company document goes to KSeF, polled fast, and the seller's data KSeF requires.
 */
export const KSEF_TEST_ENV: Readonly<Record<string, string>> = {
  KSEF_MODE: 'on',
  KSEF_SCOPE: 'all_companies',
  KSEF_POLL_BASE_MS: '100',
  KSEF_POLL_MAX_MS: '400',
  KSEF_POLL_LEASE_MS: '3000',
  SELLER_NAME: 'Sklep Testowy sp. z o.o.',
  SELLER_TAX_NO: '5260250274',
  SELLER_STREET: 'ul. Prosta 1',
  SELLER_POST_CODE: '00-001',
  SELLER_CITY: 'Warszawa',
};
