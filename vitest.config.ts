import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Every process a test starts keeps its state, caches and sockets in a folder of this run, never in
// the user's own ($XDG_STATE_HOME/syncplay holds a party to resume, a member id, pairings): a party
// saved by one test or by a real leader on this machine must not be resumed by another test.
const home = mkdtempSync(join(tmpdir(), 'syncplay-test-home-'));
process.env.SYNCPLAY_TEST_HOME = home; // removed by the global setup's teardown

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // Integration tests run real leaders, members and mpv processes and measure sync to the
    // millisecond: on a small machine they must not compete with each other for the CPU.
    fileParallelism: false,
    env: { XDG_STATE_HOME: join(home, 'state'), XDG_CACHE_HOME: join(home, 'cache'), XDG_CONFIG_HOME: join(home, 'config'), XDG_RUNTIME_DIR: join(home, 'run') },
    testTimeout: 120_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // The integration tests run the built CLI (bin/syncplay → dist/): rebuild it when stale.
    globalSetup: ['test/integration/global-setup.ts'],
  },
});
