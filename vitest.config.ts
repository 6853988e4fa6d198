import { defineConfig } from 'vitest/config';

// `npm run test:cluster` runs only the short NATS-cluster chaos run (test/cluster), which `npm test`
// includes with everything else.
const clusterOnly = process.env['ORDERPILOT_CLUSTER_TESTS'] === '1';

export default defineConfig({
  test: {
    include: clusterOnly ? ['test/cluster/**/*.test.ts'] : ['test/**/*.test.ts', 'machines/**/*.test.ts', 'services/**/*.test.ts', 'gateway/**/*.test.ts', 'infra/**/*.test.ts'],
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
