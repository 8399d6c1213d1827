/**
 * The input system: samples local input once per tick into every local player's `PlayerInput`.
 *
 * Register it in `Phase.Input`. After it runs, every entity with `LocalPlayer` and `PlayerInput`
 * holds this tick's record; netcode (in `Phase.Network`) reads it with `readInputRecord` to send
 * it, and writes remote players' records with `writeInputRecord`.
 *
 * @example
 * ```ts
 * const sampler = createBrowserInputSampler({ target: canvas });
 * sampler.attach();
 * scheduler.addSystem(Phase.Input, createInputSystem(sampler));
 * ```
 */
import type { System } from '../scheduler.ts';
import { query } from '../world.ts';
import { LocalPlayer, PlayerInput, writeUnchecked } from './component.ts';
import { assertValidInputRecord, createInputRecord } from './record.ts';
import type { InputSource } from './sampler.ts';

const LOCAL_PLAYERS = [LocalPlayer, PlayerInput] as const;

/**
 * Creates the input system for `source` (an `InputSampler`, `ScriptedInputSource` or any
 * {@link InputSource}).
 *
 * Each call samples `source` exactly once, even when no entity is a local player (so mouse
 * movement does not pile up across ticks), then writes the record into the `PlayerInput` of every
 * entity having both `LocalPlayer` and `PlayerInput`. The returned function is named
 * `inputSystem`; its closure holds only the source and a scratch record overwritten every call,
 * no simulation state. It is not part of the simulation phases: rollback re-simulation must not
 * run it (it would consume fresh device input for an old tick).
 *
 * @throws EngineError `InvalidInputRecord` (from the system, per tick) when a custom source
 *   produces a non-canonical record.
 */
export function createInputSystem(source: InputSource): System {
  const scratch = createInputRecord();
  return function inputSystem(world) {
    source.sample(scratch);
    assertValidInputRecord(scratch);
    const eids = query(world, LOCAL_PLAYERS);
    for (let i = 0; i < eids.length; i++) writeUnchecked(world, eids[i], scratch);
  };
}
