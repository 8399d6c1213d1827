/**
 * Arena match-making (demos/arena/match.ts) over the in-memory transport in virtual time:
 * slots by peer id, the host's start, late-comers seeing a busy room, incompatible settings,
 * garbage and forged starts counted, and abandoning a match that never synchronized.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeMatchMessage, encodeMatchMessage, MATCH_CHANNEL, Matchmaker, validateMatchSettings, type MatchSettings, type MatchmakerEvent,
} from '../../demos/arena/match.ts';
import { MemoryNetwork, type MemoryRoomTransport } from '../../netcode/index.ts';

const SETTINGS: MatchSettings = { players: 2, seed: 7, props: 44, inputDelay: 2 };

async function join(net: MemoryNetwork, id: string, settings: MatchSettings = SETTINGS) {
  const room = await net.join('arena', id);
  const mm = new Matchmaker(room, settings, { clock: net.clock });
  const events: MatchmakerEvent[] = [];
  mm.on((e) => events.push(e));
  return { room, mm, events };
}

describe('Matchmaker', () => {
  it('two peers agree on one match, slots in peer id order, the lowest id hosting', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 20 } });
    const b = await join(net, 'peer-b');
    const a = await join(net, 'peer-a');
    expect(a.mm.state).toBe('waiting');
    net.advance(200);
    expect(a.mm.state).toBe('matched');
    expect(b.mm.state).toBe('matched');
    expect(a.mm.match).toEqual({ id: 'peer-a/1', peers: ['peer-a', 'peer-b'], localSlot: 0, settings: SETTINGS });
    expect(b.mm.match).toEqual({ ...a.mm.match, localSlot: 1 });
    expect(b.events.filter((e) => e.kind === 'matched')).toHaveLength(1);
    expect(a.mm.malformed + b.mm.malformed).toBe(0);
  });

  it('a full match is busy for late-comers, who pair among themselves', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 15 } });
    const c = await join(net, 'c');
    const a = await join(net, 'a');
    net.advance(300);
    expect(a.mm.match?.peers).toEqual(['a', 'c']);
    // b has the lowest-but-one id, but a and c are playing: b waits and sees them busy.
    const b = await join(net, 'b');
    net.advance(300);
    expect(c.mm.match?.peers).toEqual(['a', 'c']);
    expect(b.mm.state).toBe('waiting');
    expect(b.mm.waitingPeers()).toEqual(['b']);
    expect(b.mm.busyPeers()).toEqual(['a', 'c']);
    expect(b.events.filter((e) => e.kind === 'busy').map((e) => (e.kind === 'busy' ? e.peerId : '')).sort()).toEqual(['a', 'c']);
    const d = await join(net, 'd');
    net.advance(300);
    expect(b.mm.match?.peers).toEqual(['b', 'd']);
    expect(d.mm.match?.localSlot).toBe(1);
    expect(a.mm.match?.id).toBe('a/1');
  });

  it('waits for the player count, reporting how many wait', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 10 } });
    const settings = { ...SETTINGS, players: 3 };
    const x = await join(net, 'x', settings);
    const y = await join(net, 'y', settings);
    net.advance(200);
    expect(x.mm.state).toBe('waiting');
    expect(x.events.filter((e) => e.kind === 'waiting').at(-1)).toEqual({ kind: 'waiting', waiting: 2, needed: 3 });
    const z = await join(net, 'z', settings);
    net.advance(200);
    for (const p of [x, y, z]) expect(p.mm.match?.peers).toEqual(['x', 'y', 'z']);
    expect([x, y, z].map((p) => p.mm.match?.localSlot)).toEqual([0, 1, 2]);
  });

  it('never matches peers with other settings, and reports them once', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 10 } });
    const a = await join(net, 'a');
    const b = await join(net, 'b', { ...SETTINGS, seed: 8 });
    net.advance(5000);
    expect(a.mm.state).toBe('waiting');
    expect(b.mm.state).toBe('waiting');
    expect(a.events.filter((e) => e.kind === 'incompatible')).toEqual([{ kind: 'incompatible', peerId: 'b', settings: { ...SETTINGS, seed: 8 } }]);
  });

  it('counts garbage and forged starts and stays waiting', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 10 } });
    const victim = await join(net, 'b');
    const evil: MemoryRoomTransport = await net.join('arena', 'z-evil');
    net.advance(50);
    const send = (value: Uint8Array) => evil.send('b', MATCH_CHANNEL, value);
    send(new Uint8Array([0xff, 0x00, 0x7b]));
    send(new TextEncoder().encode('{"v":1,"t":"start"}'));
    send(new Uint8Array(5000));
    // A start that claims someone else hosts it, and one whose sender is not slot 0.
    send(encodeMatchMessage({ t: 'start', match: 'x/1', peers: ['a', 'b'], settings: SETTINGS }));
    // Well-formed and addressed right, but with other settings.
    send(encodeMatchMessage({ t: 'start', match: 'z/1', peers: ['b', 'z-evil'].sort(), settings: { ...SETTINGS, props: 1 } }));
    net.advance(50);
    expect(victim.mm.state).toBe('waiting');
    expect(victim.mm.malformed).toBe(5);
  });

  it('abandon() goes back to waiting and a new match forms with a new id', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 10 } });
    const a = await join(net, 'a');
    const b = await join(net, 'b');
    net.advance(100);
    expect(a.mm.match?.id).toBe('a/1');
    a.mm.abandon();
    b.mm.abandon();
    net.advance(100);
    expect(a.mm.match?.id).toBe('a/2');
    expect(b.mm.match?.id).toBe('a/2');
  });

  it('the host repeats its start until confirmed, so a peer that missed it still joins the match', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 10 } });
    const a = await join(net, 'a');
    const b = await join(net, 'b');
    net.advance(100);
    expect(b.mm.match?.id).toBe('a/1');
    // b lost its match state (as if the start had not arrived): the repeated start brings it back.
    b.mm.abandon();
    expect(b.mm.state).toBe('waiting');
    net.advance(2100);
    expect(b.mm.match?.id).toBe('a/1');
    // Once the host's session runs it stops repeating.
    a.mm.confirm();
    b.mm.abandon();
    net.advance(5000);
    expect(b.mm.state).toBe('waiting');
    expect(a.mm.match?.id).toBe('a/1');
  });

  it('forgets a peer that leaves before the match', async () => {
    const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs: 10 } });
    const settings = { ...SETTINGS, players: 3 };
    const a = await join(net, 'a', settings);
    const b = await join(net, 'b', settings);
    net.advance(100);
    expect(a.mm.waitingPeers()).toEqual(['a', 'b']);
    await b.room.close();
    net.advance(100);
    expect(a.mm.waitingPeers()).toEqual(['a']);
    a.mm.close();
    expect(a.mm.state).toBe('closed');
  });

  it('validates settings and round-trips messages', () => {
    expect(() => validateMatchSettings({ ...SETTINGS, players: 1 })).toThrow(/players must be an integer in \[2, 8\]/);
    expect(() => validateMatchSettings({ ...SETTINGS, inputDelay: 1.5 })).toThrow(/inputDelay/);
    const start = { t: 'start', match: 'a/1', peers: ['a', 'b'], settings: SETTINGS } as const;
    expect(decodeMatchMessage(encodeMatchMessage(start))).toEqual(start);
    expect(decodeMatchMessage(encodeMatchMessage({ ...start, peers: ['a', 'a'] }))).toBeUndefined();
    expect(decodeMatchMessage(encodeMatchMessage({ ...start, peers: ['a'] }))).toBeUndefined();
  });
});
