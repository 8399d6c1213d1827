/**
 * Proves the browser-test harness: the main job (started by globalSetup exactly as `npm start`
 * starts it) serves the landing page and the demos, the launched Chromium has WebGL2 and
 * WebGPU, the screenshot helpers work, and the `npm start` command itself prints its URLs and
 * stops cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { REPO_ROOT } from '../../scripts/server.ts';
import {
  baseUrl,
  countDistinctColours,
  demoUrl,
  isMostlyBlank,
  launchChromium,
  screenshotStats,
  watchPageErrors,
} from './chromium.ts';

let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 800, height: 600 } });
});

afterAll(async () => {
  await browser?.close();
});

describe('landing page', () => {
  test('lists the arena demo and every other demo folder', async () => {
    const errors = watchPageErrors(page);
    const response = await page.goto(baseUrl());
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('PeerCompute demos');

    const arena = page.locator('a[data-demo="arena"]');
    await expect.poll(() => arena.count()).toBe(1);
    expect(new URL((await arena.getAttribute('href')) ?? '', baseUrl()).href).toBe(demoUrl('arena'));

    const listed = await page.locator('a[data-demo]').evaluateAll((links) => links.map((link) => link.getAttribute('data-demo')));
    expect(listed.sort()).toEqual(Object.keys(inject('demoUrls')).sort());
    expect(errors).toEqual([]);
  });

  test('each listed demo page is served', async () => {
    for (const url of Object.values(inject('demoUrls'))) {
      const response = await fetch(url);
      expect(response.status, url).toBe(200);
      expect(response.headers.get('content-type'), url).toMatch(/text\/html/);
    }
  });

  test('a demo URL without its trailing slash redirects to it', async () => {
    const names = Object.keys(inject('demoUrls'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const response = await fetch(new URL(name, baseUrl()), { redirect: 'manual' });
      expect(response.status, name).toBe(301);
      expect(new URL(response.headers.get('location') ?? '', baseUrl()).href, name).toBe(demoUrl(name));
    }
  });

  test('an unknown path is a 404, not the landing page', async () => {
    const response = await fetch(new URL('no-such-demo/', baseUrl()));
    expect(response.status).toBe(404);
  });
});

describe('launched Chromium', () => {
  test('has WebGL2', async () => {
    await page.goto(baseUrl());
    const webgl2 = await page.evaluate(() => document.createElement('canvas').getContext('webgl2') !== null);
    expect(webgl2).toBe(true);
  });

  test('has a WebGPU adapter', async () => {
    await page.goto(baseUrl());
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<object | null> } }).gpu;
      if (gpu === undefined) return 'navigator.gpu missing';
      const found = await gpu.requestAdapter();
      return found === null ? 'no adapter' : 'ok';
    });
    expect(adapter).toBe('ok');
  });
});

describe('screenshot helpers', () => {
  test('a flat colour is mostly blank with one colour', async () => {
    await page.setContent('<body style="margin:0;background:rgb(10,20,30)"></body>');
    const png = await page.screenshot();
    expect(await countDistinctColours(page, png)).toBe(1);
    expect(await isMostlyBlank(page, png)).toBe(true);
    const stats = await screenshotStats(page, png);
    expect(stats).toEqual({ width: 800, height: 600, distinctColours: 1, dominantFraction: 1 });
  });

  test('the landing page is not blank', async () => {
    await page.goto(baseUrl());
    const png = await page.screenshot();
    expect(await countDistinctColours(page, png)).toBeGreaterThan(8);
    // Mostly background, but text and cards must take up more than 2 % of the pixels.
    expect(await isMostlyBlank(page, png)).toBe(false);
  });
});

describe('npm start (node --import tsx scripts/start.ts)', () => {
  // Node itself with tsx's loader, as `npm start` runs it: signals reach our handlers directly
  // (the tsx CLI wrapper relays them over IPC and gives up on a child busy transforming a page).

  /** Runs scripts/start.ts with `args`; resolves with its output once `until` appears in stdout or it exits. */
  function runStart(args: string[], until: RegExp): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const output = (): string => `${stdout}${stderr}`;
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return new Promise((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (until.test(stdout)) resolve({ child, output, exited });
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', reject);
      void exited.then(() => resolve({ child, output, exited }));
    });
  }

  test('prints the landing and demo URLs, serves them, and stops on SIGTERM', async () => {
    const run = await runStart(['--port', '0', '--quiet'], /Press Ctrl\+C to stop\./);
    try {
      const text = run.output();
      const landing = /Landing page:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(text)?.[1];
      expect(landing, text).toBeDefined();
      const arena = /Arena demo:\s+(http:\/\/127\.0\.0\.1:\d+\/arena\/)/.exec(text)?.[1];
      expect(arena, text).toBe(`${landing}arena/`);
      expect((await fetch(landing ?? '')).status).toBe(200);
      expect((await fetch(arena ?? '')).status).toBe(200);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/Stopped\./);
  });

  test('a port in use gives a clear error and exit code 1', async () => {
    const port = new URL(baseUrl()).port;
    const run = await runStart(['--port', port], /$^/);
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use`));
  });

  test('--help documents the flags', async () => {
    const run = await runStart(['--help'], /$^/);
    expect(await run.exited).toBe(0);
    for (const flag of ['--port', '--host', '--quiet', '--help', 'PORT']) expect(run.output()).toContain(flag);
  });
});
