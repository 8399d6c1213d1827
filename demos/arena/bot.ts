/**
 * A wandering bot for the arena: an {@link InputSource} that holds a stick direction for a while,
 * then picks another, sprints now and then and jumps at random. Seeded, so a test run is
 * repeatable; it is an input device, not game state (its inputs reach other peers like a
 * player's and are rolled back like them).
 *
 * Used by `?bot=<seed>` on the arena page (tests play matches with it) and by unit tests.
 */
import { DEFAULT_ACTION_MAP, Rng, createInputRecord, type InputRecord, type InputSource } from '../../engine/index.ts';

/** Shortest and longest time a bot holds one direction, ticks. */
export const BOT_HOLD_TICKS = { min: 20, max: 90 } as const;
/** Chance per tick that the bot presses jump (held for one tick). */
export const BOT_JUMP_CHANCE = 1 / 90;

const JUMP_MASK = 1 << DEFAULT_ACTION_MAP.buttons.jump!.bit;
const SPRINT_MASK = 1 << DEFAULT_ACTION_MAP.buttons.sprint!.bit;
const MOVE_X = DEFAULT_ACTION_MAP.axes.moveX!.index;
const MOVE_Y = DEFAULT_ACTION_MAP.axes.moveY!.index;

/** A seeded wandering bot (see the module docs). Layout of its records: {@link DEFAULT_ACTION_MAP}. */
export class WanderBot implements InputSource {
  readonly #rng: Rng;
  readonly #held = createInputRecord();
  #left = 0;

  /** @param seed any 32-bit integer; equal seeds give equal input sequences. */
  constructor(seed: number) {
    this.#rng = new Rng(seed);
  }

  /** Writes the next tick's input into `out` and returns it. */
  sample(out: InputRecord): InputRecord {
    const rng = this.#rng;
    if (this.#left <= 0) {
      this.#left = BOT_HOLD_TICKS.min + rng.nextInt(BOT_HOLD_TICKS.max - BOT_HOLD_TICKS.min + 1);
      const idle = rng.nextInt(6) === 0;
      this.#held.axes[MOVE_X] = idle ? 0 : rng.nextInt(255) - 127;
      this.#held.axes[MOVE_Y] = idle ? 0 : rng.nextInt(255) - 127;
      this.#held.buttons = rng.nextInt(4) === 0 ? SPRINT_MASK : 0;
    }
    this.#left--;
    out.buttons = this.#held.buttons | (rng.nextFloat() < BOT_JUMP_CHANCE ? JUMP_MASK : 0);
    for (let i = 0; i < out.axes.length; i++) out.axes[i] = this.#held.axes[i]!;
    return out;
  }
}
