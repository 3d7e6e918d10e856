import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Integration tests run real leaders, members and mpv processes and measure sync to the
    // millisecond: on a small machine they must not compete with each other for the CPU.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // The integration tests run the built CLI (bin/syncplay → dist/): rebuild it when stale.
    globalSetup: ['test/integration/global-setup.ts'],
  },
});
