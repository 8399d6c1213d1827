/**
 * Vitest config: two projects, run by `npm test` (after the typecheck) in this order.
 *
 * - `unit`: `tests/unit/**\/*.test.ts` in Node, in parallel. `npm run test:unit`.
 * - `browser`: `tests/browser/**\/*.test.ts` in Node, driving Debian's Chromium through
 *   playwright-core (see tests/browser/chromium.ts). Files run one at a time (2 cores, one
 *   software-rendered browser at a time) with generous timeouts. Its globalSetup starts the
 *   main job (the same `startMainJob` as `npm start`) once on a free port and hands tests the
 *   URL through `inject('baseUrl')`. `npm run test:browser`.
 *
 * This file replaces vite.config.ts for Vitest, so the demos' Vite config (root `demos/`) does
 * not apply to tests; the main job loads vite.config.ts itself.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './tests/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['tests/browser/globalSetup.ts'],
          fileParallelism: false,
          // Runs after the unit project has finished, not alongside it.
          sequence: { groupOrder: 1 },
          // Software rendering (SwiftShader) on 2 cores: a page load with Babylon and Rapier
          // can take several seconds the first time Vite pre-bundles them.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
