import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'machines/**/*.test.ts', 'services/**/*.test.ts', 'gateway/**/*.test.ts', 'infra/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration files each own a database and a NATS prefix, so files may run in parallel.
    pool: 'forks',
    maxWorkers: 2,
  },
});
