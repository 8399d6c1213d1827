import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NetcodeError } from '../../netcode/errors.ts';
import {
  MAX_FRAMES_PER_PACKET, MAX_INPUT_SIZE, MAX_PLAYERS, MAX_WIRE_FRAME, PROTOCOL_VERSION, SessionBuilder,
  decodeMessage, encodeMessage, inputAt,
  type InputMessage, type RollbackMessage,
} from '../../netcode/rollback/index.ts';
import { MemoryNetwork } from '../../netcode/transport/index.ts';
import { inputBytes } from './rollback-harness.ts';

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const frame = fc.integer({ min: 0, max: MAX_WIRE_FRAME - MAX_FRAMES_PER_PACKET });

const inputMessage: fc.Arbitrary<InputMessage> = fc
  .record({
    startFrame: frame,
    senderFrame: frame,
    frameCount: fc.integer({ min: 0, max: 20 }),
    inputSize: fc.integer({ min: 1, max: 16 }),
    slots: fc.uniqueArray(fc.integer({ min: 0, max: MAX_PLAYERS - 1 }), { maxLength: MAX_PLAYERS }),
    status: fc.array(fc.record({ lastFrame: fc.integer({ min: -1, max: MAX_WIRE_FRAME }), disconnected: fc.boolean() }), { maxLength: MAX_PLAYERS }),
    seed: fc.integer(),
    holdProbability: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .chain((m) => {
    const n = m.frameCount * m.slots.length * m.inputSize;
    return fc.uint8Array({ minLength: n, maxLength: n }).map((raw) => {
      // Make some frames repeat the previous one, as held buttons do.
      const stride = m.slots.length * m.inputSize;
      for (let f = 1; f < m.frameCount; f++) {
        if (((m.seed >>> (f % 30)) & 1) === 1 || m.holdProbability > 0.5) raw.copyWithin(f * stride, (f - 1) * stride, f * stride);
      }
      return { type: 'input', startFrame: m.startFrame, senderFrame: m.senderFrame, frameCount: m.frameCount, inputSize: m.inputSize, slots: m.slots, status: m.status, inputs: raw } as InputMessage;
    });
  });

const message: fc.Arbitrary<RollbackMessage> = fc.oneof(
  fc.record({
    type: fc.constant('syncRequest' as const), version: fc.integer({ min: 0, max: 255 }), nonce: u32, role: fc.constantFrom('player' as const, 'spectator' as const),
    numPlayers: fc.integer({ min: 1, max: MAX_PLAYERS }), inputSize: fc.integer({ min: 1, max: MAX_INPUT_SIZE }), configHash: u32,
  }),
  fc.record({ type: fc.constant('syncReply' as const), nonce: u32, accepted: fc.boolean() }),
  inputMessage,
  fc.record({ type: fc.constant('inputAck' as const), ackFrame: fc.integer({ min: -1, max: MAX_WIRE_FRAME }) }),
  fc.record({ type: fc.constant('qualityReport' as const), frameAdvantage: fc.integer({ min: -0x7fff, max: 0x7fff }), pingMs: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ type: fc.constant('qualityReply' as const), pongMs: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ type: fc.constant('checksumReport' as const), frame: fc.integer({ min: 0, max: MAX_WIRE_FRAME }), checksum: u32 }),
  fc.constant({ type: 'keepAlive' as const }),
  fc.record({ type: fc.constant('snapshotRequest' as const), frame: fc.integer({ min: 0, max: MAX_WIRE_FRAME }) }),
  fc.record({ frame: fc.integer({ min: 0, max: MAX_WIRE_FRAME }), bytes: fc.uint8Array({ maxLength: 64 }), before: fc.nat(100), after: fc.nat(100) })
    .map(({ frame: f, bytes, before, after }) => ({ type: 'snapshotChunk' as const, frame: f, totalBytes: before + bytes.length + after, offset: before, bytes })),
);

/** `-0` survives a float round trip as `-0`; compare numbers with Object.is semantics via toEqual. */
function normalize(m: RollbackMessage): unknown {
  return JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));
}

describe('rollback protocol', () => {
  it('round-trips every message type (fast-check)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encodeMessage(m);
        const back = decodeMessage(bytes);
        expect(back.type).toBe(m.type);
        expect(normalize(back as RollbackMessage)).toEqual(normalize(m));
      }),
      { numRuns: 500, seed: 42 },
    );
  });

  it('compresses held inputs: 60 frames of one held input cost a few bytes each', () => {
    const held = inputBytes(0b1011, -90);
    const inputs = new Uint8Array(60 * 8);
    for (let f = 0; f < 60; f++) inputs.set(held, f * 8);
    const bytes = encodeMessage({ type: 'input', startFrame: 100, senderFrame: 102, frameCount: 60, inputSize: 8, slots: [1], status: [{ lastFrame: 99, disconnected: false }, { lastFrame: 159, disconnected: false }], inputs });
    expect(bytes.length).toBeLessThan(40);
    const back = decodeMessage(bytes) as InputMessage;
    expect([...inputAt(back, 59, 0)]).toEqual([...held]);
  });

  it('never throws on random or truncated bytes and reports them malformed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = decodeMessage(bytes);
        expect(typeof r.type).toBe('string');
      }),
      { numRuns: 2000, seed: 7 },
    );
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const bytes = encodeMessage(m);
        if (bytes.length < 2) return;
        const r = decodeMessage(bytes.subarray(0, cut % bytes.length));
        expect(r.type).toBe('malformed');
        expect(decodeMessage(new Uint8Array([...bytes, 0])).type).toBe('malformed'); // trailing byte
      }),
      { numRuns: 300, seed: 9 },
    );
  });

  it('rejects out-of-range fields on decode and on encode', () => {
    expect(decodeMessage(new Uint8Array([])).type).toBe('malformed');
    expect(decodeMessage(new Uint8Array([99])).type).toBe('malformed');
    // input with frameCount above the limit
    expect(decodeMessage(new Uint8Array([3, 0, 0, 200, 1, 1, 8, 0, 0])).type).toBe('malformed');
    // input slot >= MAX_PLAYERS
    expect(decodeMessage(new Uint8Array([3, 0, 0, 0, 8, 1, MAX_PLAYERS, 0])).type).toBe('malformed');
    expect(() => encodeMessage({ type: 'checksumReport', frame: -1, checksum: 0 })).toThrow(NetcodeError);
    expect(() => encodeMessage({ type: 'input', startFrame: 0, senderFrame: 0, frameCount: 1, inputSize: 8, slots: [0, 0], status: [], inputs: new Uint8Array(16) })).toThrow(/distinct/);
    expect(() => encodeMessage({ type: 'input', startFrame: 0, senderFrame: 0, frameCount: 2, inputSize: 8, slots: [0], status: [], inputs: new Uint8Array(8) })).toThrow(/inputs.length/);
  });
});

describe('SessionBuilder validation', () => {
  const fakeTransport = async () => {
    const net = new MemoryNetwork({ clock: 'manual' });
    return { net, t: await net.join('r', 'me') };
  };

  it('names the offending setting', () => {
    const b = new SessionBuilder();
    const cases: [() => unknown, string][] = [
      [() => b.withNumPlayers(1), 'numPlayers'],
      [() => b.withNumPlayers(9), 'numPlayers'],
      [() => b.withInputSize(0), 'inputSize'],
      [() => b.withInputSize(1.5), 'inputSize'],
      [() => b.withMaxPrediction(-1), 'maxPrediction'],
      [() => b.withInputDelay(61), 'inputDelay'],
      [() => b.withTickRate(0), 'tickRate'],
      [() => b.withDisconnectTimeout(0), 'disconnectTimeoutMs'],
      [() => b.withDisconnectNotifyStart(Number.NaN), 'disconnectNotifyStartMs'],
      [() => b.withChecksumInterval(-5), 'checksumInterval'],
      [() => b.withStartFrame(-1), 'startFrame'],
      [() => b.withChannel(''), 'channel'],
      [() => b.withSparseSaving('yes' as unknown as boolean), 'sparseSaving'],
      [() => b.addPlayer({ kind: 'remote', peerId: '' }, 1), 'peerId'],
      [() => b.addPlayer({ kind: 'spectator', peerId: 'x' }, 1), 'spectator slot 1'],
      [() => b.startSyncTestSession(0), 'checkDistance'],
      [() => b.startSyncTestSession(9), 'checkDistance'],
    ];
    for (const [f, field] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(NetcodeError);
      expect((err as NetcodeError).code).toBe('InvalidConfig');
      expect((err as NetcodeError).message).toContain(field);
    }
  });

  it('checks the players when starting a P2P session', async () => {
    const { net, t } = await fakeTransport();
    expect(() => new SessionBuilder().addPlayer({ kind: 'local' }, 0).startP2PSession(t)).toThrow(/slot 1/);
    expect(() => new SessionBuilder().addPlayer({ kind: 'remote', peerId: 'a' }, 0).addPlayer({ kind: 'remote', peerId: 'b' }, 1).startP2PSession(t)).toThrow(/local/);
    expect(() => new SessionBuilder().addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'remote', peerId: 'me' }, 1).startP2PSession(t)).toThrow(/this is the local peer/);
    expect(() => new SessionBuilder().addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'local' }, 0)).toThrow(/slot 0/);
    expect(() => new SessionBuilder().addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'remote', peerId: 'a' }, 1).addPlayer({ kind: 'spectator', peerId: 'a' }, 2).startP2PSession(t)).toThrow(/spectator a/);
    expect(() => new SessionBuilder().addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'remote', peerId: 'a' }, 2).startP2PSession(t)).toThrow(/slot 1|slot 2/);
    expect(() => new SessionBuilder().withDisconnectTimeout(400).addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'remote', peerId: 'a' }, 1).startP2PSession(t)).toThrow(/disconnectNotifyStartMs/);
    expect(() => new SessionBuilder().startSpectatorSession('me', t)).toThrow(/hostPeerId/);
    const ok = new SessionBuilder().addPlayer({ kind: 'local' }, 0).addPlayer({ kind: 'remote', peerId: 'a' }, 1).startP2PSession(t, net.clock);
    expect(ok.snapshotWindow).toBe(18); // 2 × maxPrediction + 2
    expect(ok.state).toBe('synchronizing');
    expect(() => ok.addLocalInput(1, inputBytes(0))).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => ok.addLocalInput(0, new Uint8Array(3))).toThrow(/8 bytes/);
    ok.close();
    expect(() => ok.advanceFrame()).toThrow(expect.objectContaining({ code: 'Closed' }));
    await net.close();
  });

  it('uses the documented protocol version', () => {
    const bytes = encodeMessage({ type: 'syncRequest', version: PROTOCOL_VERSION, nonce: 1, role: 'player', numPlayers: 2, inputSize: 8, configHash: 3 });
    expect(bytes[1]).toBe(PROTOCOL_VERSION);
  });
});
