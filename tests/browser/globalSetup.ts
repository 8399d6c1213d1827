/**
 * Vitest globalSetup of the `browser` project: starts the main job once, with the same
 * `startMainJob` that `npm start` runs (dev server and relay), on free loopback ports with a
 * throwaway relay identity (no key file written), and stops it after the last browser test. Tests get its URLs with `baseUrl()` / `demoUrl(name)` from ./chromium.ts
 * (or `inject('baseUrl')`, `inject('demoUrls')` from vitest).
 *
 * It also checks for Chromium first, so a machine without one fails once with the install hint
 * instead of once per test file.
 */
import type { TestProject } from 'vitest/node';
import { startMainJob } from '../../scripts/server.ts';
import { findChromium } from './chromium.ts';

/**
 * @param project The browser project; receives `baseUrl` and `demoUrls` through `provide`.
 * @returns Teardown that closes the dev server.
 * @throws Error when no Chromium is found (see `findChromium`) or the server cannot start.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  findChromium();
  const job = await startMainJob({ host: '127.0.0.1', port: 0, logLevel: 'warn', relay: { port: 0, keyFile: false } });
  project.provide('baseUrl', job.urls.landing);
  project.provide('demoUrls', Object.fromEntries(job.urls.demos.map((demo) => [demo.name, demo.url])));
  return () => job.close();
}
