/**
 * The lobby demo's rules (demos/lobby/lobby.ts) over the in-memory transport with virtual time:
 * names on join, chat by broadcast, "ping all" round trips over send, leave events, the
 * message log, and garbage from a peer counted and ignored.
 */
import { describe, expect, it } from 'vitest';
import {
  CHANNEL_CHAT, CHANNEL_HELLO, CHANNEL_PING, cleanName, Lobby, MAX_CHAT_LENGTH, MAX_NAME_LENGTH, randomName, type LobbyEvent,
} from '../../demos/lobby/lobby.ts';
import { MemoryNetwork } from '../../netcode/index.ts';

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** Two or more lobbies in one room of a manual-clock memory network, 20 ms one way. */
async function setup(names: readonly string[], latencyMs = 20) {
  const net = new MemoryNetwork({ clock: 'manual', conditioner: { latencyMs } });
  const lobbies: Lobby[] = [];
  const events: LobbyEvent[][] = [];
  for (const name of names) {
    const room = await net.join('lobby', name.toLowerCase());
    const lobby = new Lobby(room, { name, clock: net.clock, pingTimeoutMs: 1000 });
    const log: LobbyEvent[] = [];
    lobby.on((e) => log.push(e));
    lobbies.push(lobby);
    events.push(log);
  }
  net.advance(200);
  return { net, lobbies, events };
}

describe('Lobby', () => {
  it('sends its name to each member that joins and learns theirs', async () => {
    const { lobbies, events } = await setup(['Ada', 'Brook', 'Cyd']);
    const [ada] = lobbies;
    expect(ada!.peers().map((p) => [p.peerId, p.name])).toEqual([['brook', 'Brook'], ['cyd', 'Cyd']]);
    expect(events[0]!.filter((e) => e.kind === 'hello').map((e) => (e.kind === 'hello' ? e.name : ''))).toEqual(['Brook', 'Cyd']);
    expect(ada!.messages.filter((m) => m.channel === CHANNEL_HELLO).map((m) => [m.from, m.broadcast])).toEqual([['brook', false], ['cyd', false]]);
  });

  it('broadcasts chat lines, echoes its own as an own event, trims and cuts them', async () => {
    const { net, lobbies, events } = await setup(['Ada', 'Brook']);
    expect(lobbies[0]!.chat('  hi there  ')).toBe('hi there');
    expect(lobbies[0]!.chat('   ')).toBeUndefined();
    lobbies[0]!.chat('x'.repeat(MAX_CHAT_LENGTH + 50));
    net.advance(50);
    const own = events[0]!.filter((e) => e.kind === 'chat');
    expect(own.map((e) => (e.kind === 'chat' ? [e.text.length, e.own] : []))).toEqual([[8, true], [MAX_CHAT_LENGTH, true]]);
    const seen = events[1]!.filter((e) => e.kind === 'chat');
    expect(seen.map((e) => (e.kind === 'chat' ? [e.name, e.text.slice(0, 8), e.own] : []))).toEqual([['Ada', 'hi there', false], ['Ada', 'xxxxxxxx', false]]);
    expect(lobbies[1]!.messages.filter((m) => m.channel === CHANNEL_CHAT).every((m) => m.broadcast)).toBe(true);
  });

  it('pingAll measures the round trip over send (2 x latency) and keeps it per peer', async () => {
    const { net, lobbies, events } = await setup(['Ada', 'Brook', 'Cyd'], 30);
    const pending = lobbies[0]!.pingAll();
    net.advance(100);
    const results = await pending;
    expect(results).toEqual([{ peerId: 'brook', rttMs: 60 }, { peerId: 'cyd', rttMs: 60 }]);
    expect(lobbies[0]!.peers().map((p) => p.pingMs)).toEqual([60, 60]);
    expect(events[0]!.some((e) => e.kind === 'ping')).toBe(true);
  });

  it('pingAll gives undefined for a peer that does not answer in time', async () => {
    const { net, lobbies } = await setup(['Ada', 'Brook']);
    lobbies[1]!.close(); // Brook stops answering but stays in the room
    const pending = lobbies[0]!.pingAll();
    net.advance(1000);
    expect(await pending).toEqual([{ peerId: 'brook', rttMs: undefined }]);
  });

  it('reports a leave with the name and reason', async () => {
    const { net, lobbies, events } = await setup(['Ada', 'Brook']);
    await lobbies[1]!.room.close();
    net.advance(100);
    expect(events[0]!.filter((e) => e.kind === 'leave')).toMatchObject([{ kind: 'leave', peerId: 'brook', name: 'Brook', reason: 'left' }]);
    expect(lobbies[0]!.peers()).toEqual([]);
  });

  it('counts and ignores garbage on lobby channels, logs other channels untouched', async () => {
    const { net, lobbies, events } = await setup(['Ada', 'Brook']);
    const brook = lobbies[1]!.room;
    brook.send('ada', CHANNEL_HELLO, new Uint8Array([0xff, 0xfe]));
    brook.send('ada', CHANNEL_PING, encode({ ping: -1 }));
    brook.send('ada', CHANNEL_PING, encode({ pong: 999 })); // no such ping: ignored, not counted
    brook.broadcast(CHANNEL_PING, encode({ ping: 3 }));
    brook.send('ada', 'game/state', new Uint8Array([1, 2, 3]));
    const before = events[0]!.length;
    net.advance(100);
    expect(lobbies[0]!.malformed).toBe(3);
    expect(events[0]!.length).toBe(before);
    expect(lobbies[0]!.messages.filter((m) => m.channel === 'game/state')).toMatchObject([{ from: 'brook', bytes: 3, broadcast: false, text: '\u0001\u0002\u0003' }]);
  });

  it('names are cleaned and random names are two words', () => {
    expect(cleanName('  a\u0000b\u001fc  ')).toBe('abc');
    expect(cleanName('n'.repeat(40))).toHaveLength(MAX_NAME_LENGTH);
    let i = 0;
    const seq = [0, 0.99];
    expect(randomName(() => seq[i++ % 2]!)).toBe('amber wombat');
  });
});
