/**
 * How pages find their relay: `?relay=` and `/peercompute/config.json` (netcode's
 * discover-relays.ts), and the `npm start` relay flags that decide what the config serves.
 * The served endpoint itself is tested against the real main job in
 * tests/browser/main-job-relay.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  checkRelayAddr, discoverRelays, fetchRelayConfig, NetcodeError, parseRelayConfig, RELAY_CONFIG_PATH, relaysFromQuery,
} from '../../netcode/index.ts';
import { MainJobError } from '../../scripts/server.ts';
import { HELP_TEXT, parseStartArgs } from '../../scripts/start.ts';

const ID = '12D3KooWGVMh2FPF5PDEz42r5JuMkyhMLkY6yaC2Zg2kF7obZSa5';
const WS = `/ip4/127.0.0.1/tcp/9090/ws/p2p/${ID}`;
const WS2 = `/dns4/relay.example.com/tcp/443/wss/p2p/${ID}`;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as NetcodeError | MainJobError).code;
  }
  return undefined;
}

/** A fetch answering every request with `status` and `body`, recording the URLs asked for. */
function fakeFetch(status: number, body: string, asked: string[] = []): typeof fetch {
  return (async (input: string | URL | Request) => {
    asked.push(String(input));
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

describe('relay addresses for pages', () => {
  it('checkRelayAddr normalises a relay multiaddr and rejects others', () => {
    expect(checkRelayAddr(WS, 'test')).toBe(WS);
    expect(code(() => checkRelayAddr('/ip4/127.0.0.1/tcp/9090/ws', 'test'))).toBe('InvalidConfig'); // no /p2p/
    expect(code(() => checkRelayAddr('not a multiaddr', 'test'))).toBe('InvalidConfig');
  });

  it('relaysFromQuery reads every ?relay=, in order, without duplicates', () => {
    expect(relaysFromQuery('')).toEqual([]);
    expect(relaysFromQuery('?room=x')).toEqual([]);
    const search = `?relay=${encodeURIComponent(WS)}&room=x&relay=${encodeURIComponent(WS2)}&relay=${encodeURIComponent(WS)}`;
    expect(relaysFromQuery(search)).toEqual([WS, WS2]);
    expect(code(() => relaysFromQuery('relay=/ip4/1.2.3.4'))).toBe('InvalidConfig');
  });

  it('parseRelayConfig accepts { relays: [...] } (also empty) and nothing else', () => {
    expect(parseRelayConfig({ relays: [WS, WS] })).toEqual({ relays: [WS] });
    expect(parseRelayConfig({ relays: [] })).toEqual({ relays: [] });
    for (const bad of [null, [], { relays: 'x' }, { relays: [1] }, { relays: ['/ip4/1.2.3.4/tcp/1'] }]) {
      expect(code(() => parseRelayConfig(bad))).toBe('InvalidConfig');
    }
  });

  it('fetchRelayConfig asks the origin for RELAY_CONFIG_PATH and explains failures', async () => {
    const asked: string[] = [];
    const config = await fetchRelayConfig('http://127.0.0.1:5173/lobby/?room=a', { fetch: fakeFetch(200, JSON.stringify({ relays: [WS] }), asked) });
    expect(config).toEqual({ relays: [WS] });
    expect(asked).toEqual([`http://127.0.0.1:5173${RELAY_CONFIG_PATH}`]);

    const notFound = await fetchRelayConfig('http://127.0.0.1:4173/', { fetch: fakeFetch(404, '{}') }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NetcodeError);
    expect((notFound as NetcodeError).code).toBe('DialFailed');
    expect((notFound as NetcodeError).message).toMatch(/HTTP 404.*\?relay=/);

    const notJson = await fetchRelayConfig('http://127.0.0.1:1/', { fetch: fakeFetch(200, '<html>') }).catch((e: unknown) => e);
    expect((notJson as NetcodeError).code).toBe('InvalidConfig');

    const down = await fetchRelayConfig('http://127.0.0.1:1/', {
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    }).catch((e: unknown) => e);
    expect((down as NetcodeError).code).toBe('DialFailed');
    await expect(fetchRelayConfig(undefined)).rejects.toMatchObject({ code: 'InvalidConfig' }); // no page, no baseUrl
  });

  it('discoverRelays prefers ?relay= and asks the server only without it', async () => {
    const asked: string[] = [];
    const fromQuery = await discoverRelays({ search: `?relay=${encodeURIComponent(WS2)}`, baseUrl: 'http://127.0.0.1:5173/', fetch: fakeFetch(500, '', asked) });
    expect(fromQuery).toEqual({ relays: [WS2], source: 'query' });
    expect(asked).toEqual([]);
    const fromServer = await discoverRelays({ search: '?room=a', baseUrl: 'http://127.0.0.1:5173/', fetch: fakeFetch(200, JSON.stringify({ relays: [WS] })) });
    expect(fromServer).toEqual({ relays: [WS], source: 'server' });
  });
});

describe('npm start relay flags', () => {
  it('start a relay by default, on a given port strictly, or none', () => {
    expect(parseStartArgs([], {}).options.relay).toBeUndefined();
    expect(parseStartArgs(['--relay-port', '0'], {}).options.relay).toEqual({ port: 0, strictPort: true });
    expect(parseStartArgs(['--relay-port', '9200'], {}).options.relay).toEqual({ port: 9200, strictPort: true });
    expect(parseStartArgs(['--no-relay'], {}).options.relay).toBe(false);
  });

  it('--relay (repeatable) uses external relays', () => {
    const { options } = parseStartArgs(['--relay', WS, '--relay', WS2], {});
    expect(options.externalRelays).toEqual([WS, WS2]);
    expect(options.relay).toBeUndefined();
  });

  it('rejects contradictory or malformed relay flags', () => {
    expect(code(() => parseStartArgs(['--relay', WS, '--no-relay'], {}))).toBe('BadOption');
    expect(code(() => parseStartArgs(['--relay', WS, '--relay-port', '1'], {}))).toBe('BadOption');
    expect(code(() => parseStartArgs(['--no-relay', '--relay-port', '1'], {}))).toBe('BadOption');
    expect(code(() => parseStartArgs(['--relay-port', '70000'], {}))).toBe('BadOption');
    expect(code(() => parseStartArgs(['--relay-port', 'x'], {}))).toBe('BadOption');
  });

  it('--help documents them', () => {
    for (const flag of ['--relay-port', '--no-relay', '--relay <multiaddr>', '/peercompute/config.json', '.peercompute/relay-key.json']) {
      expect(HELP_TEXT).toContain(flag);
    }
  });
});
