import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NetcodeError } from '../../netcode/errors.ts';
import {
  DEFAULT_MAX_RETRANSMITS, DEFAULT_MIN_RTO_MS, DEFAULT_REORDER_DELAY_MS, LinkConditioner, ManualClock, MAX_RTO_MS, NetworkConditioner, RealClock,
  gilbertElliottLossRate, resolveConditionerOptions, type ConditionerOptions,
} from '../../netcode/transport/index.ts';

/** Loss pattern of `n` best-effort packets as a string of '1' (lost) and '0'. */
function dropPattern(link: LinkConditioner, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += link.transmit(i, 100, false).arrivals.length === 0 ? '1' : '0';
  return s;
}

describe('resolveConditionerOptions', () => {
  it('fills defaults: a perfect network, RTO from latency and jitter with a 200 ms floor', () => {
    expect(resolveConditionerOptions()).toEqual({
      latencyMs: 0, jitterMs: 0, loss: { p: 0, r: 1, k: 1, h: 0 }, duplicate: 0, reorder: 0,
      reorderDelayMs: DEFAULT_REORDER_DELAY_MS, bandwidthBytesPerSec: Infinity, rtoMs: DEFAULT_MIN_RTO_MS,
      maxRetransmits: DEFAULT_MAX_RETRANSMITS,
    });
    expect(resolveConditionerOptions({ latencyMs: 150, jitterMs: 20 }).rtoMs).toBe(380);
    expect(resolveConditionerOptions({ loss: 0.25 }).loss).toEqual({ p: 0, r: 1, k: 0.75, h: 0 });
    expect(resolveConditionerOptions({ loss: { p: 0.1, r: 0.5 } }).loss).toEqual({ p: 0.1, r: 0.5, k: 1, h: 0 });
  });

  it('rejects bad values with InvalidConfig naming the field', () => {
    const cases: Array<[ConditionerOptions, string]> = [
      [{ latencyMs: -1 }, 'latencyMs'],
      [{ latencyMs: NaN }, 'latencyMs'],
      [{ jitterMs: Infinity }, 'jitterMs'],
      [{ loss: 1.5 }, 'loss'],
      [{ loss: { p: -0.1, r: 0.5 } }, 'loss.p'],
      [{ loss: { p: 0.1 } as never }, 'loss.r'],
      [{ loss: { p: 0.1, r: 0.5, k: 2 } }, 'loss.k'],
      [{ loss: { p: 0.1, r: 0.5, h: NaN } }, 'loss.h'],
      [{ loss: 'lots' as never }, 'loss'],
      [{ duplicate: 1.01 }, 'duplicate'],
      [{ reorder: -0.5 }, 'reorder'],
      [{ reorderDelayMs: -3 }, 'reorderDelayMs'],
      [{ bandwidthBytesPerSec: 0 }, 'bandwidthBytesPerSec'],
      [{ rtoMs: 0 }, 'rtoMs'],
      [{ maxRetransmits: 1.5 }, 'maxRetransmits'],
    ];
    for (const [options, field] of cases) {
      let err: unknown;
      try {
        resolveConditionerOptions(options);
      } catch (e) {
        err = e;
      }
      expect(err, field).toBeInstanceOf(NetcodeError);
      expect((err as NetcodeError).code).toBe('InvalidConfig');
      expect((err as NetcodeError).data.field).toBe(field);
      expect((err as NetcodeError).message).toContain(field);
    }
  });
});

describe('gilbertElliottLossRate', () => {
  it('is pi_G (1 - k) + pi_B (1 - h)', () => {
    expect(gilbertElliottLossRate({ p: 0.1, r: 0.4 })).toBeCloseTo(0.2, 12); // simple Gilbert: p / (p + r)
    expect(gilbertElliottLossRate({ p: 0.05, r: 0.3, k: 0.99, h: 0.2 })).toBeCloseTo((0.3 / 0.35) * 0.01 + (0.05 / 0.35) * 0.8, 12);
    expect(gilbertElliottLossRate({ p: 0, r: 0, k: 0.9 })).toBeCloseTo(0.1, 12); // never leaves Good
  });
});

describe('LinkConditioner', () => {
  it('is reproducible: same seed, same drop pattern; another seed, another; other knobs do not change it', () => {
    const ge = { p: 0.05, r: 0.3, k: 0.99, h: 0.2 };
    const x = dropPattern(new LinkConditioner({ loss: ge }, 1234), 2000);
    expect(dropPattern(new LinkConditioner({ loss: ge }, 1234), 2000)).toBe(x);
    expect(dropPattern(new LinkConditioner({ loss: ge }, 1235), 2000)).not.toBe(x);
    expect(dropPattern(new LinkConditioner({ loss: ge, latencyMs: 80, jitterMs: 30, duplicate: 0.5, reorder: 0.5 }, 1234), 2000)).toBe(x);
    expect(x).toContain('1');
    // Same seed, same arrival times too.
    const run = () => {
      const l = new LinkConditioner({ latencyMs: 40, jitterMs: 15, loss: ge, duplicate: 0.1, reorder: 0.1, bandwidthBytesPerSec: 20_000 }, 9);
      return Array.from({ length: 300 }, (_, i) => l.transmit(i * 3, 200, i % 3 === 0));
    };
    expect(run()).toEqual(run());
  });

  it('Gilbert-Elliott: long-run loss rate and mean burst length match the analytic values', () => {
    const ge = { p: 0.05, r: 0.3, k: 0.99, h: 0.2 };
    const n = 200_000;
    const pattern = dropPattern(new LinkConditioner({ loss: ge }, 7), n);
    const rate = [...pattern].filter((c) => c === '1').length / n;
    expect(rate).toBeCloseTo(gilbertElliottLossRate(ge), 2); // analytic 0.1229, |diff| < 0.005
    // Simple Gilbert (k = 1, h = 0): loss runs are exactly the Bad sojourns, mean 1 / r.
    const simple = dropPattern(new LinkConditioner({ loss: { p: 0.02, r: 0.25 } }, 8), n);
    const bursts = simple.split('0').filter((b) => b.length > 0);
    const meanBurst = bursts.reduce((s, b) => s + b.length, 0) / bursts.length;
    expect(meanBurst).toBeGreaterThan(4 * 0.95);
    expect(meanBurst).toBeLessThan(4 * 1.05);
    expect(simple.split('').filter((c) => c === '1').length / n).toBeCloseTo(0.02 / 0.27, 2);
    // Bursty, unlike Bernoulli loss of the same rate: P(lost | previous lost) far above the rate.
    let pairs = 0, both = 0;
    for (let i = 1; i < n; i++) if (simple[i - 1] === '1') { pairs++; if (simple[i] === '1') both++; }
    expect(both / pairs).toBeCloseTo(0.75, 1);
  });

  it('latency and jitter: delays uniform in [L - J, L + J], clamped at 0', () => {
    const l = new LinkConditioner({ latencyMs: 50, jitterMs: 10 }, 3);
    const d = Array.from({ length: 10_000 }, (_, i) => l.transmit(i, 10, false).arrivals[0]! - i);
    expect(Math.min(...d)).toBeGreaterThanOrEqual(40);
    expect(Math.max(...d)).toBeLessThanOrEqual(60);
    expect(Math.min(...d)).toBeLessThan(40.1);
    expect(Math.max(...d)).toBeGreaterThan(59.9);
    expect(d.reduce((s, x) => s + x, 0) / d.length).toBeCloseTo(50, 0);
    const low = new LinkConditioner({ latencyMs: 5, jitterMs: 10 }, 3);
    const dl = Array.from({ length: 1000 }, (_, i) => low.transmit(i, 10, false).arrivals[0]! - i);
    expect(Math.min(...dl)).toBe(0);
    expect(dl.filter((x) => x === 0).length).toBeGreaterThan(150); // P(5 + 10 U(-1,1) <= 0) = 0.25
  });

  it('bandwidth cap: serialization queue, 10 x 1000 B at 5000 B/s arrive every 200 ms', () => {
    const l = new LinkConditioner({ bandwidthBytesPerSec: 5000, latencyMs: 30 }, 1);
    const arrivals = Array.from({ length: 10 }, () => l.transmit(0, 1000, true).arrivals[0]);
    expect(arrivals).toEqual(Array.from({ length: 10 }, (_, i) => 200 * (i + 1) + 30));
    // An idle link starts at once again.
    expect(l.transmit(5000, 500, false).arrivals).toEqual([5000 + 100 + 30]);
  });

  it('reliable packets: a loss costs RTO with doubling backoff, capped, and later packets wait behind it', () => {
    const always = new LinkConditioner({ loss: 1, latencyMs: 10, rtoMs: 100, maxRetransmits: 3 }, 1);
    const t = always.transmit(0, 10, true);
    expect(t.lostAttempts).toBe(3);
    expect(t.arrivals).toEqual([100 + 200 + 400 + 10]); // delivered with the last attempt anyway
    const capped = new LinkConditioner({ loss: 1, rtoMs: 40_000, maxRetransmits: 3 }, 1);
    expect(capped.transmit(0, 10, true).arrivals).toEqual([40_000 + MAX_RTO_MS + MAX_RTO_MS]);
    // Head-of-line blocking under 30 % loss: arrivals never decrease; a packet after a lost one
    // arrives no earlier than it.
    const l = new LinkConditioner({ loss: 0.3, latencyMs: 20, jitterMs: 15 }, 5);
    const plans = Array.from({ length: 1000 }, (_, i) => l.transmit(i, 100, true));
    let hol = 0;
    for (let i = 1; i < plans.length; i++) {
      expect(plans[i]!.arrivals[0]!).toBeGreaterThanOrEqual(plans[i - 1]!.arrivals[0]!);
      if (plans[i - 1]!.lostAttempts > 0 && plans[i]!.lostAttempts === 0 && plans[i]!.arrivals[0] === plans[i - 1]!.arrivals[0]) hol++;
    }
    expect(plans.filter((p) => p.lostAttempts > 0).length / 1000).toBeCloseTo(0.3, 1);
    expect(hol).toBeGreaterThan(100);
    expect(plans.every((p) => p.arrivals.length === 1 && !p.reordered)).toBe(true);
  });

  it('duplication and reordering act on best-effort packets only, at the configured rates', () => {
    const l = new LinkConditioner({ latencyMs: 10, duplicate: 0.2, reorder: 0.1, reorderDelayMs: 30 }, 11);
    const plans = Array.from({ length: 20_000 }, (_, i) => l.transmit(i, 10, false));
    expect(plans.filter((p) => p.arrivals.length === 2).length / 20_000).toBeCloseTo(0.2, 1);
    const reordered = plans.filter((p) => p.reordered);
    expect(reordered.length / 20_000).toBeCloseTo(0.1, 1);
    expect(reordered.every((p) => p.arrivals[0]! - p.sentMs === 40)).toBe(true);
    const r = new LinkConditioner({ latencyMs: 10, duplicate: 1, reorder: 1 }, 11);
    expect(r.transmit(0, 10, true)).toEqual({ arrivals: [10], sentMs: 0, lostAttempts: 0, reordered: false });
  });

  it('property: reliable arrivals never decrease and never precede send + max(0, L - J), for any conditions', () => {
    fc.assert(fc.property(
      fc.record({
        latencyMs: fc.integer({ min: 0, max: 200 }), jitterMs: fc.integer({ min: 0, max: 100 }),
        loss: fc.double({ min: 0, max: 1, noNaN: true }), bandwidthBytesPerSec: fc.constantFrom(Infinity, 1000, 1e6),
        maxRetransmits: fc.integer({ min: 0, max: 20 }),
      }),
      fc.array(fc.record({ gap: fc.double({ min: 0, max: 50, noNaN: true }), bytes: fc.integer({ min: 1, max: 5000 }), reliable: fc.boolean() }), { maxLength: 200 }),
      fc.integer(),
      (cond, packets, seed) => {
        const l = new LinkConditioner(cond, seed);
        let now = 0, last = -Infinity;
        for (const p of packets) {
          now += p.gap;
          const t = l.transmit(now, p.bytes, p.reliable);
          for (const a of t.arrivals) expect(a).toBeGreaterThanOrEqual(now + Math.max(0, cond.latencyMs - cond.jitterMs) - 1e-9);
          if (p.reliable) {
            expect(t.arrivals.length).toBe(1);
            expect(t.arrivals[0]!).toBeGreaterThanOrEqual(last);
            last = t.arrivals[0]!;
          }
        }
      },
    ), { seed: 77, numRuns: 200 });
  });

  it('setOptions keeps reliable order and the queue across a change', () => {
    const l = new LinkConditioner({ latencyMs: 100 }, 1);
    expect(l.transmit(0, 10, true).arrivals).toEqual([100]);
    l.setOptions({});
    expect(l.transmit(1, 10, true).arrivals).toEqual([100]);
    expect(l.transmit(200, 10, true).arrivals).toEqual([200]);
    expect(() => l.setOptions({ duplicate: 2 })).toThrow(NetcodeError);
  });
});

describe('NetworkConditioner', () => {
  it('seeds each directed link from (seed, from, to): independent of traffic elsewhere', () => {
    const o = { loss: { p: 0.1, r: 0.3 } };
    const n1 = new NetworkConditioner(o, 5);
    const n2 = new NetworkConditioner(o, 5);
    dropPattern(n2.link('c', 'd'), 500); // traffic on another link
    expect(dropPattern(n2.link('a', 'b'), 1000)).toBe(dropPattern(n1.link('a', 'b'), 1000));
    expect(dropPattern(n1.link('b', 'a'), 1000)).not.toBe(dropPattern(new NetworkConditioner(o, 5).link('a', 'b'), 1000));
  });

  it('per-link overrides win over the network conditions and can be removed', () => {
    const n = new NetworkConditioner({ latencyMs: 10 }, 1);
    n.setLinkOptions('a', 'b', { latencyMs: 99 });
    expect(n.link('a', 'b').options.latencyMs).toBe(99);
    expect(n.link('b', 'a').options.latencyMs).toBe(10);
    n.setOptions({ latencyMs: 20 });
    expect(n.link('a', 'b').options.latencyMs).toBe(99);
    expect(n.link('b', 'a').options.latencyMs).toBe(20);
    n.setLinkOptions('a', 'b', undefined);
    expect(n.link('a', 'b').options.latencyMs).toBe(20);
  });
});

describe('clocks', () => {
  it('ManualClock runs callbacks in (time, scheduling order), only inside advance, cancellable', () => {
    const c = new ManualClock();
    const log: string[] = [];
    c.schedule(10, () => log.push(`b@${c.now()}`));
    c.schedule(5, () => {
      log.push(`a@${c.now()}`);
      c.schedule(c.now(), () => log.push(`a2@${c.now()}`)); // same instant, runs after
      c.schedule(7, () => log.push(`a3@${c.now()}`));
    });
    c.schedule(10, () => log.push(`c@${c.now()}`));
    const cancel = c.schedule(8, () => log.push('cancelled'));
    cancel();
    expect(log).toEqual([]);
    c.advance(10);
    expect(log).toEqual(['a@5', 'a2@5', 'a3@7', 'b@10', 'c@10']);
    expect(c.now()).toBe(10);
    c.schedule(-5, () => log.push(`past@${c.now()}`));
    c.advance(0);
    expect(log.at(-1)).toBe('past@10');
    expect(() => c.advance(-1)).toThrow(NetcodeError);
  });

  it('RealClock runs callbacks from a timer, in order, never inside schedule', async () => {
    const c = new RealClock();
    const log: number[] = [];
    const now = c.now();
    c.schedule(now + 6, () => log.push(3));
    c.schedule(now + 2, () => log.push(1));
    c.schedule(now + 2, () => log.push(2));
    c.schedule(now + 4, () => log.push(99))();
    expect(log).toEqual([]);
    await new Promise((r) => setTimeout(r, 30));
    expect(log).toEqual([1, 2, 3]);
  });
});
