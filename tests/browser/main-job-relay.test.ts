/**
 * The relay the main job starts and how pages get it with no configuration: the dev server's
 * `/peercompute/config.json`, a Node peer connecting with what it lists, the lobby page joining
 * through it (with a Node bot as the other member: relayed, no WebRTC needed), `?relay=`
 * overriding it, and the `npm start` flags `--no-relay` and `--relay ADDR`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Lobby } from '../../demos/lobby/lobby.ts';
import type { LobbyDebugHandle } from '../../demos/lobby/main.ts';
import { createPeer, joinRoom, RELAY_CONFIG_PATH, type Peer, type RelayConfig } from '../../netcode/index.ts';
import { REPO_ROOT } from '../../scripts/server.ts';
import { baseUrl, demoUrl, launchChromium, watchPageErrors } from './chromium.ts';

declare const window: { peercompute: LobbyDebugHandle };

const LOOPBACK = ['/ip4/127.0.0.0/ipcidr/8'];
const WAIT_MS = 30_000;

async function relayConfig(base = baseUrl()): Promise<{ status: number; cache: string | null; body: RelayConfig }> {
  const response = await fetch(new URL(RELAY_CONFIG_PATH, base));
  return { status: response.status, cache: response.headers.get('cache-control'), body: (await response.json()) as RelayConfig };
}

describe('/peercompute/config.json', () => {
  test('lists the relay the main job started: one browser (/ws) address with its peer id', async () => {
    const { status, cache, body } = await relayConfig();
    expect(status).toBe(200);
    expect(cache).toBe('no-store');
    expect(body.relays).toHaveLength(1);
    expect(body.relays[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/12D3KooW\w+$/);
    expect((await fetch(new URL(RELAY_CONFIG_PATH, baseUrl()), { method: 'POST' })).status).toBe(405);
  });

  test('a Node peer connects to the relay with the listed address', async () => {
    const { body } = await relayConfig();
    const peer = await createPeer({ relays: body.relays, webrtc: false, allow: LOOPBACK });
    try {
      expect(peer.relays()).toMatchObject([{ connected: true }]);
    } finally {
      await peer.close();
    }
  });
});

describe('lobby page with the main job relay', () => {
  let browser: Browser;
  let bot: Peer | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await bot?.close();
    await browser?.close();
  });

  test('joins with no configuration and sees a Node bot in its room (relayed)', async () => {
    const room = `relay-${Date.now().toString(36)}`;
    const { body } = await relayConfig();
    bot = await createPeer({ relays: body.relays, webrtc: false, allow: LOOPBACK });
    const lobby = new Lobby(await joinRoom(bot, room), { name: 'Node bot' });
    const chat: string[] = [];
    lobby.on((e) => {
      if (e.kind === 'chat') chat.push(`${e.name}: ${e.text}`);
    });

    const page = await browser.newPage({ viewport: { width: 1180, height: 780 } });
    const errors = watchPageErrors(page);
    try {
      await page.goto(demoUrl('lobby', `room=${room}&name=Page`));
      await page.waitForFunction(() => window.peercompute.ready || window.peercompute.error !== undefined, undefined, { timeout: WAIT_MS });
      expect(await page.evaluate(() => window.peercompute.error)).toBeUndefined();
      expect(await page.evaluate(() => [window.peercompute.relaySource, window.peercompute.relays])).toEqual(['server', body.relays]);
      expect(await page.title()).toBe(`Lobby · ${room}`);

      await page.waitForFunction(() => window.peercompute.peers().some((p) => p.name === 'Node bot'), undefined, { timeout: WAIT_MS });
      const peers = await page.evaluate(() => window.peercompute.peers());
      expect(peers).toMatchObject([{ peerId: bot.peerId, name: 'Node bot', connection: 'relayed' }]);
      await expect.poll(() => page.locator('#player-rows tr .badge').textContent(), { timeout: WAIT_MS }).toBe('relayed');
      await expect.poll(() => page.locator('#status-text').textContent(), { timeout: WAIT_MS }).toBe('In room · 2 here');

      await page.fill('#chat-input', 'hello bot');
      await page.press('#chat-input', 'Enter');
      await expect.poll(() => chat, { timeout: WAIT_MS }).toEqual(['Page: hello bot']);
      lobby.chat('hello page');
      await expect.poll(() => page.locator('#chat-log').textContent(), { timeout: WAIT_MS }).toContain('Node bothello page');

      const pings = await page.evaluate(() => window.peercompute.pingAll());
      expect(pings).toHaveLength(1);
      expect(pings[0]!.rttMs).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      lobby.close();
    }
  });

  test('?relay= overrides the server, and a bad one is shown as an error', async () => {
    const { body } = await relayConfig();
    const page = await browser.newPage();
    try {
      await page.goto(demoUrl('lobby', `room=override&relay=${encodeURIComponent(body.relays[0]!)}`));
      await page.waitForFunction(() => window.peercompute.ready, undefined, { timeout: WAIT_MS });
      expect(await page.evaluate(() => window.peercompute.relaySource)).toBe('query');

      await page.goto(demoUrl('lobby', 'relay=%2Fip4%2F127.0.0.1%2Ftcp%2F1%2Fws'));
      await page.waitForFunction(() => window.peercompute.error !== undefined, undefined, { timeout: WAIT_MS });
      expect(await page.locator('#error').textContent()).toMatch(/does not end with \/p2p\/<relay peer id>/);
    } finally {
      await page.close();
    }
  });
});

describe('npm start relay flags', () => {

  /** Runs `npm start` (scripts/start.ts) with `args` until its banner is printed; returns the banner. */
  async function withStart(args: string[], check: (banner: string, landing: string) => Promise<void>): Promise<void> {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', '--port', '0', '--quiet', ...args], {
      cwd: REPO_ROOT, env: { ...process.env, PORT: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('Press Ctrl+C to stop.')) resolve();
        });
        child.stderr!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        void exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
      });
      const landing = /Landing page:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
      expect(landing, output).toBeDefined();
      await check(output, landing!);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }

  test('--no-relay starts none and serves an empty list', async () => {
    await withStart(['--no-relay'], async (banner, landing) => {
      expect(banner).toContain('No relay (--no-relay)');
      expect((await relayConfig(landing)).body).toEqual({ relays: [] });
    });
  });

  test('--relay ADDR serves the given relay instead of starting one', async () => {
    const external = (await relayConfig()).body.relays[0]!;
    await withStart(['--relay', external], async (banner, landing) => {
      expect(banner).toContain(`External:`);
      expect(banner).toContain(external);
      expect((await relayConfig(landing)).body).toEqual({ relays: [external] });
    });
  });

  test('the default start prints the relay for browsers and Node peers', async () => {
    await withStart(['--relay-port', '0'], async (banner, landing) => {
      const browserAddr = /Browsers:\s+(\S+)/.exec(banner)?.[1];
      expect(banner).toMatch(/Relay 12D3KooW\w+ \(key file /);
      expect(banner).toMatch(/Node:\s+\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
      expect((await relayConfig(landing)).body).toEqual({ relays: [browserAddr] });
    });
  });
});
