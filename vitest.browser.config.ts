import { defineConfig } from 'vitest/config';

// The real-browser tests only (npm run test:browser): one file at a time, with room for
// Chromium to start on a slow machine.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
