/**
 * The pure parts of the libp2p transport and relay: wire codecs (round trips, and every bad
 * input decodes to an error instead of throwing), address planning, backoff, topology choice,
 * the pending-message hold, and the relay CLI's argument parsing and formatting.
 */
import fc from 'fast-check';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { NetcodeError } from '../../netcode/errors.ts';
import { addrKind, addrsFromBytes, circuitAddr, dialPlan, peerIdOfAddr } from '../../netcode/libp2p/addrs.ts';
import { Backoff } from '../../netcode/libp2p/backoff.ts';
import { PendingMessages, MAX_PENDING_BYTES_PER_PEER } from '../../netcode/libp2p/pending.ts';
import { parseRelayAddrs } from '../../netcode/libp2p/relay-links.ts';
import { chooseTopology } from '../../netcode/libp2p/topology.ts';
import {
  channelBytes, decodeGossip, decodeStreamFrame, encodeDataFrame, encodeGossipData, encodePingFrame, encodePresence,
  MAX_PRESENCE_ADDRS, newSessionId,
} from '../../netcode/libp2p/wire.ts';
import { formatMetrics, parseRelayArgs } from '../../netcode/relay/cli.ts';

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const RELAY = '/ip4/127.0.0.1/tcp/9091/p2p/12D3KooWRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR';

describe('wire', () => {
  it('stream frames round-trip: data (any channel, any payload), ping, pong', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), (channel, data) => {
      const bytes = channelBytes(channel);
      fc.pre(bytes !== undefined);
      expect(decodeStreamFrame(encodeDataFrame(bytes!, data), 300)).toEqual({ kind: 'data', channel, data });
    }));
    expect(decodeStreamFrame(encodePingFrame('ping', 0xdeadbeef), 0)).toEqual({ kind: 'ping', nonce: 0xdeadbeef });
    expect(decodeStreamFrame(encodePingFrame('pong', 7), 0)).toEqual({ kind: 'pong', nonce: 7 });
  });

  it('gossip messages round-trip: data and presence', () => {
    const session = newSessionId();
    expect(session).toMatch(/^[0-9a-f]{16}$/);
    const addrs = [multiaddr(`${RELAY}/p2p-circuit/p2p/${A}`).bytes, multiaddr('/ip4/10.0.0.2/tcp/4001').bytes];
    for (const state of ['hello', 'alive', 'bye'] as const) {
      expect(decodeGossip(encodePresence({ state, session, seq: 42, addrs }), 10)).toEqual({ kind: 'presence', state, session, seq: 42, addrs });
    }
    expect(decodeGossip(encodeGossipData(channelBytes('chat')!, Uint8Array.of(1, 2)), 10)).toEqual({ kind: 'data', channel: 'chat', data: Uint8Array.of(1, 2) });
    const many = Array.from({ length: MAX_PRESENCE_ADDRS + 4 }, () => addrs[1]!);
    const decoded = decodeGossip(encodePresence({ state: 'alive', session, seq: 1, addrs: many }), 10);
    expect(decoded.kind === 'presence' && decoded.addrs.length).toBe(MAX_PRESENCE_ADDRS);
  });

  it('any bytes decode to a frame or an error, never a throw; oversized payloads are Oversized', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const frame = decodeStreamFrame(bytes, 64);
      const gossip = decodeGossip(bytes, 64);
      for (const result of [frame, gossip]) {
        if (result.kind === 'error') expect(['Malformed', 'Oversized']).toContain(result.reason);
      }
    }));
    expect(decodeStreamFrame(encodeDataFrame(channelBytes('x')!, new Uint8Array(65)), 64)).toMatchObject({ kind: 'error', reason: 'Oversized' });
    expect(decodeGossip(encodeGossipData(channelBytes('x')!, new Uint8Array(65)), 64)).toMatchObject({ kind: 'error', reason: 'Oversized' });
    expect(decodeStreamFrame(Uint8Array.of(0x09), 64)).toMatchObject({ reason: 'Malformed' });
    expect(decodeStreamFrame(Uint8Array.of(0x01, 5, 0x61), 64)).toMatchObject({ reason: 'Malformed' });
    expect(decodeStreamFrame(Uint8Array.of(0x01, 1, 0xff), 64)).toMatchObject({ reason: 'Malformed' }); // channel not UTF-8
    expect(decodeGossip(Uint8Array.of(2, 2, 0), 64)).toMatchObject({ reason: 'Malformed' }); // unknown version
  });

  it('mutated valid frames (bit flips, truncation, extension) decode to a frame or a counted error, never a throw', () => {
    const valid = fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 100 })).map(([channel, data]) => {
      const ch = channelBytes(channel) ?? channelBytes('x')!;
      return [encodeDataFrame(ch, data), encodeGossipData(ch, data)] as const;
    });
    const mutation = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), cut: fc.nat(), extra: fc.uint8Array({ maxLength: 8 }) });
    fc.assert(fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }), ([stream, gossip], mutations) => {
      for (const original of [stream, gossip]) {
        let bytes = Uint8Array.from(original);
        for (const m of mutations) {
          if (bytes.length > 0) bytes[m.at % bytes.length]! ^= m.xor;
          if (m.cut % 3 === 0) bytes = bytes.subarray(0, m.cut % (bytes.length + 1));
          if (m.cut % 5 === 0) bytes = Uint8Array.from([...bytes, ...m.extra]);
        }
        for (const result of [decodeStreamFrame(bytes, 64), decodeGossip(bytes, 64)]) {
          expect(['error', 'data', 'presence', 'ping', 'pong']).toContain(result.kind);
          if (result.kind === 'error') expect(['Malformed', 'Oversized']).toContain(result.reason);
        }
      }
    }), { numRuns: 500, seed: 4242 });
  });

  it('channel names longer than 255 UTF-8 bytes are refused', () => {
    expect(channelBytes('é'.repeat(127))?.length).toBe(254);
    expect(channelBytes('é'.repeat(128))).toBeUndefined();
  });
});

describe('addrs', () => {
  it('classifies connections by address', () => {
    expect(addrKind('/ip4/127.0.0.1/tcp/1/p2p/x')).toBe('tcp');
    expect(addrKind('/ip4/127.0.0.1/tcp/1/ws/p2p/x')).toBe('websocket');
    expect(addrKind('/dns4/r.example/tcp/443/tls/ws/p2p/x')).toBe('websocket');
    expect(addrKind(`${RELAY}/p2p-circuit/p2p/${A}`)).toBe('relayed');
    expect(addrKind(`${RELAY}/p2p-circuit/webrtc/p2p/${A}`)).toBe('direct-webrtc');
  });

  it('plans direct addresses first (TCP, WebSocket, WebRTC), relayed ones as fallback, own peer only', () => {
    const addrs = [
      `${RELAY}/p2p-circuit/webrtc/p2p/${A}`, `/ip4/1.2.3.4/tcp/2/ws/p2p/${A}`, `/ip4/1.2.3.4/tcp/1/p2p/${A}`,
      `${RELAY}/p2p-circuit/p2p/${A}`, '/ip4/6.6.6.6/tcp/1/p2p/12D3KooWsomeoneelse',
    ];
    const plan = dialPlan(A, addrs, [RELAY], true);
    expect(plan.direct).toEqual([`/ip4/1.2.3.4/tcp/1/p2p/${A}`, `/ip4/1.2.3.4/tcp/2/ws/p2p/${A}`, `${RELAY}/p2p-circuit/webrtc/p2p/${A}`]);
    expect(plan.relayed).toEqual([`${RELAY}/p2p-circuit/p2p/${A}`]);
    expect(dialPlan(A, addrs, [], false).direct).not.toContain(`${RELAY}/p2p-circuit/webrtc/p2p/${A}`);
    // Without announced addresses the relay still gives a way in.
    expect(dialPlan(A, [], [RELAY], true)).toEqual({ direct: [], relayed: [circuitAddr(RELAY, A, false)] });
  });

  it('decodes address bytes, skipping bad ones; reads peer ids', () => {
    expect(addrsFromBytes([multiaddr('/ip4/1.2.3.4/tcp/5').bytes, Uint8Array.of(0xff, 0xff)])).toEqual(['/ip4/1.2.3.4/tcp/5']);
    expect(peerIdOfAddr(RELAY)).toBe('12D3KooWRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR');
    expect(peerIdOfAddr('/ip4/1.2.3.4/tcp/5')).toBeUndefined();
  });

  it('relay lists: grouped by peer id; an address without /p2p/ or a bad one is InvalidConfig', () => {
    const ws = RELAY.replace('/tcp/9091/', '/tcp/9090/ws/');
    expect([...parseRelayAddrs([RELAY, ws, RELAY])]).toEqual([[peerIdOfAddr(RELAY), [RELAY, ws]]]);
    for (const bad of [[], ['/ip4/127.0.0.1/tcp/1'], ['not a multiaddr']]) {
      expect(() => parseRelayAddrs(bad)).toThrow(NetcodeError);
    }
  });
});

describe('backoff, topology, pending', () => {
  it('backoff doubles to its cap within the jitter and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 800, jitter: 0.2 });
    const delays = Array.from({ length: 6 }, () => b.next());
    [100, 200, 400, 800, 800, 800].forEach((base, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(base * 0.8);
      expect(delays[i]).toBeLessThanOrEqual(base * 1.2);
    });
    b.reset();
    expect(b.next()).toBeLessThanOrEqual(120);
    expect(() => new Backoff({ initialMs: 0 })).toThrow(/initialMs/);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(/maxMs/);
  });

  it("'auto' is mesh up to 8, gossip above 16, and keeps its choice in between", () => {
    expect(chooseTopology('auto', 8, 'mesh')).toBe('mesh');
    expect(chooseTopology('auto', 12, 'mesh')).toBe('mesh');
    expect(chooseTopology('auto', 17, 'mesh')).toBe('gossip');
    expect(chooseTopology('auto', 12, 'gossip')).toBe('gossip');
    expect(chooseTopology('auto', 8, 'gossip')).toBe('mesh');
    expect(chooseTopology('relay-star', 100, 'mesh')).toBe('relay-star');
    expect(chooseTopology('auto', 5, 'mesh', 4, 6)).toBe('mesh');
    expect(chooseTopology('auto', 7, 'mesh', 4, 6)).toBe('gossip');
  });

  it('pending messages wait for the grace period, come out in order, and are bounded', () => {
    const pending = new PendingMessages(100);
    const msg = (n: number, at: number) => ({ channel: 'c', data: new Uint8Array([n]), broadcast: false, at });
    expect(pending.add('p', msg(1, 0))).toBe(true);
    expect(pending.add('p', msg(2, 50))).toBe(true);
    expect(pending.expire(120).map((e) => e.message.data[0])).toEqual([1]);
    expect(pending.take('p').map((m) => m.data[0])).toEqual([2]);
    expect(pending.take('p')).toEqual([]);
    expect(pending.add('q', { ...msg(3, 0), data: new Uint8Array(MAX_PENDING_BYTES_PER_PEER + 1) })).toBe(false);
  });
});

describe('relay CLI', () => {
  it('parses flags with defaults: ws 9090, tcp 9091, a per-port key file under the config dir', () => {
    const args = parseRelayArgs([], { XDG_CONFIG_HOME: '/cfg' });
    expect(args).toMatchObject({ help: false, metricsIntervalMs: 30_000, json: false });
    expect(args.options).toEqual({ wsPort: 9090, tcpPort: 9091, keyFile: '/cfg/peercompute/relay-9090.json' });
    const full = parseRelayArgs([
      '--port', '0', '--host', '0.0.0.0', '-a', '/dns4/r.example/tcp/443/wss', '--ephemeral', '--max-reservations', '4',
      '--conn-rate', '20', '--allow', '/ip4/127.0.0.0/ipcidr/8', '--relayed-duration', '60', '--relayed-data', '2',
      '--discovery-topic', 't1', '--discovery-topic', 't2', '--health-port', '9092', '--metrics-interval', '0', '--json',
    ], {});
    expect(full.options).toEqual({
      wsPort: 0, tcpPort: 0, host: '0.0.0.0', announce: ['/dns4/r.example/tcp/443/wss'], maxReservations: 4,
      connectionsPerIpPerSecond: 20, allow: ['/ip4/127.0.0.0/ipcidr/8'], relayedDurationMs: 60_000,
      relayedDataBytes: 2 * 1024 * 1024, discoveryTopics: ['t1', 't2'], healthPort: 9092,
    });
    expect(full).toMatchObject({ metricsIntervalMs: 0, json: true });
  });

  it('refuses bad numbers and conflicting flags, naming the flag', () => {
    expect(() => parseRelayArgs(['--port', '70000'], {})).toThrow(/--port/);
    expect(() => parseRelayArgs(['--port', '1.5'], {})).toThrow(/--port/);
    expect(() => parseRelayArgs(['--ephemeral', '--key-file', 'k'], {})).toThrow(/--ephemeral/);
    expect(() => parseRelayArgs(['--bogus'], {})).toThrow();
  });

  it('formats a metrics line', () => {
    expect(formatMetrics({ peers: 3, reservations: 2, connections: 4, bytesIn: 12_595, bytesOut: 2_097_152, roomTopics: 1, uptimeMs: 3_725_000 }))
      .toBe('relay: peers=3 reservations=2 connections=4 rooms=1 in=12.3 KiB out=2.0 MiB uptime=01:02:05');
  });
});
