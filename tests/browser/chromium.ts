/**
 * Helpers for browser tests: launch Debian's Chromium with software WebGL2/WebGPU, find the
 * running main job's URLs, and check screenshots.
 *
 * The `browser` Vitest project's globalSetup (tests/browser/globalSetup.ts) starts the main job
 * once, exactly as `npm start` does, on a free port; tests read its URL with {@link baseUrl} or
 * {@link demoUrl}.
 *
 * @example
 * ```ts
 * import { afterAll, beforeAll, expect, test } from 'vitest';
 * import type { Browser } from 'playwright-core';
 * import { countDistinctColours, demoUrl, launchChromium, watchPageErrors } from './chromium.ts';
 *
 * let browser: Browser;
 * beforeAll(async () => { browser = await launchChromium(); });
 * afterAll(async () => { await browser?.close(); });
 *
 * test('arena renders', async () => {
 *   const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
 *   const errors = watchPageErrors(page);
 *   await page.goto(demoUrl('arena'));
 *   const png = await page.locator('canvas').screenshot();
 *   expect(await countDistinctColours(page, png)).toBeGreaterThan(16);
 *   expect(errors).toEqual([]);
 * });
 * ```
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { inject } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Landing page of the main job started by globalSetup, e.g. `"http://127.0.0.1:41234/"`. */
    baseUrl: string;
    /** Demo folder name -> absolute URL, e.g. `{ arena: "http://127.0.0.1:41234/arena/" }`. */
    demoUrls: Record<string, string>;
  }
}

/** Where Debian's `chromium` package puts the browser. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags that give headless Chromium WebGL2 (ANGLE on SwiftShader) and WebGPU (Dawn on
 * SwiftShader Vulkan) without a GPU, and keep it off the network. All three of
 * `--enable-features=Vulkan`, `--use-vulkan=swiftshader` and `--use-angle=swiftshader` are
 * needed; `--use-vulkan=native` crashes the GPU process on these machines. Headless mode is set
 * by playwright's `headless` option. See shared/ENVIRONMENT.md.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=swiftshader',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Finds the Chromium binary: `$CHROMIUM_PATH` when set, else {@link DEFAULT_CHROMIUM_PATH}.
 *
 * @param env Environment to read `CHROMIUM_PATH` from; default `process.env`.
 * @returns Absolute or relative path of an existing file.
 * @throws Error saying how to install Chromium (`apt-get install -y chromium`) or set
 *   `CHROMIUM_PATH` when no browser is found, or that `CHROMIUM_PATH` points at nothing.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (existsSync(fromEnv)) return fromEnv;
    throw new Error(
      `CHROMIUM_PATH is set to "${fromEnv}", but no file exists there. ` +
        'Point it at a Chromium or Chrome executable, or unset it to use /usr/bin/chromium.',
    );
  }
  if (existsSync(DEFAULT_CHROMIUM_PATH)) return DEFAULT_CHROMIUM_PATH;
  throw new Error(
    `No Chromium found at ${DEFAULT_CHROMIUM_PATH} and CHROMIUM_PATH is not set. ` +
      'Install one with `apt-get update && apt-get install -y chromium` (Debian/Ubuntu), ' +
      'or set CHROMIUM_PATH to the executable of any Chromium or Chrome. ' +
      '(`npx playwright install` does not work here: browsers come from the system.)',
  );
}

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /** Extra command-line flags appended to {@link CHROMIUM_ARGS}. Default `[]`. */
  args?: readonly string[];
  /** Run headless. Default `true` (there is no display on test machines). */
  headless?: boolean;
  /** Milliseconds to wait for the browser to start. Default 60 000. */
  timeout?: number;
}

/**
 * Launches Chromium through playwright-core with {@link CHROMIUM_ARGS}.
 *
 * @param options See {@link LaunchChromiumOptions}.
 * @returns A playwright `Browser`; the caller closes it (`await browser.close()`, e.g. in
 *   `afterAll`). Open pages with `browser.newPage()`.
 * @throws Error from {@link findChromium} when no browser is installed; playwright's error
 *   when the browser fails to start within `timeout`.
 */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    headless: options.headless ?? true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    timeout: options.timeout ?? 60_000,
  });
}

/**
 * Base URL of the main job that the browser project's globalSetup started, with a trailing
 * slash, e.g. `"http://127.0.0.1:41234/"`. The landing page is served there.
 *
 * @throws Error when called outside a test of the `browser` project (nothing was provided).
 */
export function baseUrl(): string {
  const url = inject('baseUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error('baseUrl was not provided: run this test in the vitest "browser" project (its globalSetup starts the server).');
  }
  return url;
}

/**
 * URL of a demo page on the running main job, e.g. `demoUrl('arena')` ->
 * `"http://127.0.0.1:41234/arena/"`. Works for any folder name, so a test can ask for a
 * demo that the server has to serve even if it was not found at start.
 *
 * @param name Folder name under `demos/`.
 * @param query Optional query string without `?`, e.g. `"seed=3&players=2"`.
 */
export function demoUrl(name: string, query?: string): string {
  const url = new URL(`${encodeURIComponent(name)}/`, baseUrl());
  if (query !== undefined && query !== '') url.search = query;
  return url.href;
}

/**
 * The path under which the main job's dev server serves a repository file (`/@fs/<absolute
 * path>`, see vite.config.ts), for `import()` inside a page, e.g.
 * `repoModuleUrl('shaders/index.ts')`. Pass the page a STRING to evaluate: vitest rewrites a
 * dynamic `import()` inside a function body.
 *
 * @param relativePath Path from the repository root, with `/` separators.
 */
export function repoModuleUrl(relativePath: string): string {
  return `/@fs${path.join(REPO_ROOT, relativePath)}`;
}

/**
 * Records a page's uncaught exceptions and `console.error` messages from now on, so a test can
 * end with `expect(errors).toEqual([])`.
 *
 * @param page The page to watch; attach before `page.goto`.
 * @param onWarning Called with the text of each `console.warn` (scenario logs show them).
 * @returns A live array of messages, each prefixed with `"pageerror: "` or `"console.error: "`.
 */
export function watchPageErrors(page: Page, onWarning?: (text: string) => void): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()}`);
    if (message.type() === 'warning') onWarning?.(message.text());
  });
  return errors;
}

/** What {@link screenshotStats} measures in a PNG. */
export interface ScreenshotStats {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Number of distinct RGBA values (exact, no tolerance). */
  distinctColours: number;
  /** Fraction (0..1) of pixels having the most common RGBA value. 1 for a single-colour image. */
  dominantFraction: number;
}

/**
 * Decodes a PNG inside a Chromium page (no PNG decoder dependency in Node) and counts its
 * colours. Uses `createImageBitmap` without colour-space conversion, so values are exact.
 *
 * @param page Any open page (its URL does not matter, `about:blank` works). The work runs on
 *   its main thread: ~50 ms for 1280x720.
 * @param png PNG bytes, e.g. from `page.screenshot()` or `locator.screenshot()`.
 * @throws Error from the page when the bytes are not a decodable image.
 */
export async function screenshotStats(page: Page, png: Uint8Array): Promise<ScreenshotStats> {
  const base64 = Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64');
  return page.evaluate(async (data: string) => {
    const binary = atob(data);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    const blob = new Blob([bytes], { type: 'image/png' });
    const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const { width, height } = bitmap;
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (context === null) throw new Error('screenshotStats: no 2d context in the page');
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    const pixels = new Uint32Array(context.getImageData(0, 0, width, height).data.buffer);
    const counts = new Map<number, number>();
    for (const pixel of pixels) counts.set(pixel, (counts.get(pixel) ?? 0) + 1);
    let dominant = 0;
    for (const count of counts.values()) if (count > dominant) dominant = count;
    return {
      width,
      height,
      distinctColours: counts.size,
      dominantFraction: pixels.length === 0 ? 1 : dominant / pixels.length,
    };
  }, base64);
}

/**
 * Number of distinct RGBA colours in a PNG, decoded by Chromium (see {@link screenshotStats}).
 * A blank canvas gives 1; a rendered 3D scene with lighting gives hundreds or more.
 *
 * @param page Any open page, used to decode.
 * @param png PNG bytes.
 */
export async function countDistinctColours(page: Page, png: Uint8Array): Promise<number> {
  return (await screenshotStats(page, png)).distinctColours;
}

/**
 * Whether a screenshot is (nearly) one flat colour: the most common RGBA value covers at least
 * `threshold` of the pixels. Use it to catch a canvas that never rendered.
 *
 * @param page Any open page, used to decode.
 * @param png PNG bytes.
 * @param threshold Fraction 0..1; default 0.98 (98 % of pixels the same colour).
 */
export async function isMostlyBlank(page: Page, png: Uint8Array, threshold = 0.98): Promise<boolean> {
  return (await screenshotStats(page, png)).dominantFraction >= threshold;
}
