import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-browser tests need Chromium; they run with npm run test:browser.
    exclude: ['**/node_modules/**', 'test/**/*.browser.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file starts its own gateway and fake providers on ephemeral loopback ports.
    pool: 'forks',
  },
});
