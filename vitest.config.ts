import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests spawn real processes; two cores: keep the number of files in flight small.
    maxWorkers: 2,
    pool: 'forks',
  },
});
