import { defineConfig } from 'vitest/config';

// The short NATS-cluster chaos run (test/cluster) is not part of `npm test` until the stall it found on
// nats-server 2.9.10 is fixed (README "Scaling out"): it fails about one run in four, which would
// block every landing. `npm run test:cluster` runs it.
const clusterTests = process.env['ORDERPILOT_CLUSTER_TESTS'] === '1';

export default defineConfig({
  test: {
    include: clusterTests ? ['test/cluster/**/*.test.ts'] : ['test/**/*.test.ts', 'machines/**/*.test.ts', 'services/**/*.test.ts', 'gateway/**/*.test.ts', 'infra/**/*.test.ts'],
    exclude: clusterTests ? [] : ['test/cluster/**', '**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // Generous: every wait inside a test is a condition with its own deadline; these only catch a hang.
    // The suite must hold on a busy machine (two CPU hogs on two cores), where starts take long.
    testTimeout: 240_000,
    hookTimeout: 240_000,
    // Integration files each own a database and a NATS prefix, so files may run in parallel.
    pool: 'forks',
    maxWorkers: 2,
  },
});
