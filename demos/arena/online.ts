/**
 * Arena online: the page side of a multiplayer match. Finds the relay, creates a libp2p peer,
 * joins the room named in the address (behind a network conditioner, for the "bad network"
 * switch), waits for a match ({@link Matchmaker}), then builds the arena for that match, starts a
 * rollback {@link P2PSession} with one slot per matched peer and attaches it to the game with
 * `attachRollback`, this peer's input device (or bot) being the session's local input.
 *
 * While a match runs it keeps the net panel up to date (ping and link of each player, rollbacks
 * and re-simulated frames per second, frames ahead, input delay, desyncs) and records the
 * checksum of every confirmed frame it still holds a snapshot of, for tests and desync hunts.
 *
 * A match whose session has not synchronized within {@link SYNC_TIMEOUT_MS} (two hosts raced, or
 * a peer vanished during the handshake) is torn down and the page waits for a new one.
 */
import type { AbstractEngine } from '@babylonjs/core/Engines/abstractEngine.js';
import type { InputSource } from '../../engine/index.ts';
import {
  attachRollback, conditionTransport, createPeer, discoverRelays, joinRoom, SessionBuilder,
  type ConditionedTransport, type ConditionerOptions, type P2PSession, type Peer, type RollbackSystem, type SessionEvent,
} from '../../netcode/index.ts';
import { createArenaGame, type ArenaGame } from './game.ts';
import { Matchmaker, type Match, type MatchSettings } from './match.ts';
import { createArenaScene, PLAYER_COLOURS, type ArenaScene } from './scene.ts';

/** Longest wait for a matched session to synchronize before giving the match up, ms. */
export const SYNC_TIMEOUT_MS = 20_000;
/** How often the net panel is redrawn, ms. */
export const PANEL_REFRESH_MS = 250;
/** Confirmed-frame checksums kept (the newest), frames: 20 s at 60 Hz. */
export const MAX_RECORDED_CHECKSUMS = 1200;
/**
 * The "bad network" switch: 60 ms ± 20 ms one way on this peer's traffic both ways, and bursty
 * Gilbert-Elliott loss (p 0.02, r 0.3: about 6 % of packets, in bursts of about 3).
 */
export const BAD_NETWORK: ConditionerOptions = { latencyMs: 60, jitterMs: 20, loss: { p: 0.02, r: 0.3 } };

/** Where an online page is. */
export type OnlineStatus = 'connecting' | 'waiting' | 'synchronizing' | 'running' | 'alone' | 'failed';

/** What an online page exposes as `window.peercompute.net` (README, "Debug handle"). */
export interface ArenaNetDebug {
  readonly roomId: string;
  /** This peer's libp2p id (empty until the peer exists). */
  readonly peerId: string;
  readonly status: OnlineStatus;
  /** The current match, once agreed. */
  readonly match: Match | undefined;
  readonly session: P2PSession | undefined;
  readonly rollback: RollbackSystem | undefined;
  /** The room behind its conditioner. */
  readonly room: ConditionedTransport | undefined;
  /** Checksum of each confirmed frame recorded (the newest {@link MAX_RECORDED_CHECKSUMS}). */
  readonly confirmedChecksums: ReadonlyMap<number, number>;
  /** Every `desync` event of the session. */
  readonly desyncs: readonly Extract<SessionEvent, { kind: 'desync' }>[];
  /** Whether the "bad network" switch is on. */
  readonly badNetwork: boolean;
  /** Turns the "bad network" conditions ({@link BAD_NETWORK}) on or off. */
  setBadNetwork(on: boolean): void;
}

/** Elements of the page the online mode draws into (see index.html). */
export interface NetPanelElements {
  readonly panel: HTMLElement;
  readonly status: HTMLElement;
  readonly stats: HTMLElement;
  readonly players: HTMLTableSectionElement;
  readonly badNetwork: HTMLInputElement;
  readonly share: HTMLElement;
}

/** Options of {@link startOnlineArena}. */
export interface OnlineArenaOptions {
  readonly engine: AbstractEngine;
  readonly roomId: string;
  readonly settings: MatchSettings;
  /** This peer's input (the browser sampler, or a bot), sampled once per tick by the rollback system. */
  readonly localInput: InputSource;
  readonly ui: NetPanelElements;
  readonly debugOverlay: boolean;
  readonly quality: 'high' | 'low';
  /** Called when a match's game and scene exist (the page sets its debug handle). */
  readonly onGame: (game: ArenaGame, scene: ArenaScene, net: ArenaNetDebug) => void;
}

/** A running match: what to tear down. */
interface MatchRun {
  readonly match: Match;
  readonly game: ArenaGame;
  readonly scene: ArenaScene;
  readonly session: P2PSession;
  readonly rollback: RollbackSystem;
  readonly left: Set<number>;
  readonly startedAt: number;
}

/**
 * Runs the online arena in this page until it is closed (see the module docs). Resolves once the
 * room is joined; matches then come and go on their own.
 * @throws NetcodeError when no relay is known or the peer cannot reach it (the page shows it).
 */
export async function startOnlineArena(options: OnlineArenaOptions): Promise<ArenaNetDebug> {
  const { engine, roomId, settings, localInput, ui } = options;
  let status: OnlineStatus = 'connecting';
  let peer: Peer | undefined;
  let room: ConditionedTransport | undefined;
  let run: MatchRun | undefined;
  let badNetwork = false;
  const checksums = new Map<number, number>();
  const desyncs: Extract<SessionEvent, { kind: 'desync' }>[] = [];
  let lastRecorded = -1;
  let rate = { at: 0, rollbacks: 0, resimulated: 0, rollbacksPerSec: 0, resimPerSec: 0 };

  const net: ArenaNetDebug = {
    roomId,
    get peerId() { return peer?.peerId ?? ''; },
    get status() { return status; },
    get match() { return run?.match; },
    get session() { return run?.session; },
    get rollback() { return run?.rollback; },
    get room() { return room; },
    confirmedChecksums: checksums,
    desyncs,
    get badNetwork() { return badNetwork; },
    setBadNetwork(on: boolean): void {
      badNetwork = on;
      room?.setConditioner(on ? BAD_NETWORK : undefined);
      ui.badNetwork.checked = on;
    },
  };

  const setStatus = (s: OnlineStatus, text: string): void => {
    status = s;
    ui.status.textContent = text;
    ui.panel.dataset['status'] = s;
  };

  ui.badNetwork.addEventListener('change', () => net.setBadNetwork(ui.badNetwork.checked));
  ui.share.textContent = shareUrl(location.href);

  setStatus('connecting', 'Looking for the relay…');
  const found = await discoverRelays();
  if (found.relays.length === 0) {
    throw new Error('the server names no relay (was it started with --no-relay?). Start it with "npm start", or add ?relay=<multiaddr> to this address.');
  }
  setStatus('connecting', 'Connecting to the relay…');
  peer = await createPeer({ relays: found.relays });
  addEventListener('pagehide', () => void peer?.close());
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
  setStatus('connecting', `Joining room ${roomId}…`);
  room = conditionTransport(await joinRoom(peer, roomId));
  const mm = new Matchmaker(room, settings);

  const waitingText = (waiting: number): string => {
    const busy = mm.busyPeers().length;
    return `Waiting for players: ${waiting} of ${settings.players} here.${busy > 0 ? ` ${busy} in this room are playing a match without you.` : ''} Open this page's address in another browser to join.`;
  };
  mm.on((e) => {
    if (e.kind === 'waiting' && status !== 'synchronizing' && status !== 'running') setStatus('waiting', waitingText(e.waiting));
    if (e.kind === 'busy' && mm.state === 'waiting') setStatus('waiting', waitingText(mm.waitingPeers().length));
    if (e.kind === 'incompatible') console.warn(`arena: ${e.peerId} in this room plays other settings`, e.settings);
    if (e.kind === 'matched') startMatch(e.match);
  });
  if (mm.state === 'waiting') setStatus('waiting', waitingText(mm.waitingPeers().length));
  else if (mm.match) startMatch(mm.match);

  function startMatch(match: Match): void {
    if (run !== undefined || room === undefined) return;
    const game = createArenaGame({ seed: settings.seed, props: settings.props, players: settings.players, localSlot: match.localSlot });
    const builder = new SessionBuilder().withNumPlayers(settings.players).withInputDelay(settings.inputDelay);
    match.peers.forEach((id, slot) => builder.addPlayer(slot === match.localSlot ? { kind: 'local' } : { kind: 'remote', peerId: id }, slot));
    const session = builder.startP2PSession(room);
    const left = new Set<number>();
    const rollback = attachRollback(game.world, game.scheduler, session, {
      players: game.players,
      localInput,
      onEvent: (e) => onSessionEvent(e),
    });
    const scene = createArenaScene(engine, game, { debugOverlay: options.debugOverlay, quality: options.quality });
    run = { match, game, scene, session, rollback, left, startedAt: performance.now() };
    checksums.clear();
    lastRecorded = -1;
    rate = { at: performance.now(), rollbacks: 0, resimulated: 0, rollbacksPerSec: 0, resimPerSec: 0 };
    scene.runtime.onFrameObservable.add(recordConfirmed);
    setStatus('synchronizing', `Match found: you are player ${match.localSlot + 1} of ${settings.players}. Synchronizing…`);
    engine.runRenderLoop(() => scene.scene.render());
    options.onGame(game, scene, net);
    const current = run;
    setTimeout(() => {
      if (run === current && status === 'synchronizing') {
        console.warn(`arena: match ${match.id} did not synchronize within ${SYNC_TIMEOUT_MS} ms; waiting for a new one`);
        endMatch();
        mm.abandon();
        if (mm.state === 'waiting') setStatus('waiting', waitingText(mm.waitingPeers().length));
      }
    }, SYNC_TIMEOUT_MS);
  }

  function endMatch(): void {
    if (run === undefined) return;
    engine.stopRenderLoop();
    run.rollback.dispose();
    run.session.close();
    run.scene.dispose();
    run = undefined;
  }

  function onSessionEvent(e: SessionEvent): void {
    if (run === undefined) return;
    switch (e.kind) {
      case 'synchronizing':
        setStatus('synchronizing', `Synchronizing with the other players (${e.count} of ${e.total})…`);
        break;
      case 'running':
        setStatus('running', `Playing: you are player ${run.match.localSlot + 1} of ${settings.players}.`);
        break;
      case 'disconnected':
        for (const slot of e.slots) run.left.add(slot);
        if (run.left.size === settings.players - 1) {
          setStatus('alone', 'Everyone else left. Reload the page for a new match.');
        }
        break;
      case 'desync':
        desyncs.push(e);
        console.error(`arena: desync with ${e.peerId} at frame ${e.frame}: ${hex(e.localChecksum)} here, ${hex(e.remoteChecksum)} there`);
        break;
      default:
        break;
    }
  }

  /**
   * Records the checksum of each newly confirmed frame whose snapshot the ring holds. The
   * confirmed frame may run ahead of the last saved one (inputs are known `inputDelay` frames
   * early): recording stops at the first frame not saved yet and resumes there next time.
   */
  function recordConfirmed(): void {
    if (run === undefined) return;
    const { session, rollback } = run;
    const upTo = Math.min(session.confirmedFrame, session.currentFrame);
    for (let f = Math.max(lastRecorded + 1, upTo - session.snapshotWindow + 1); f <= upTo; f++) {
      const snap = rollback.snapshotOf(f);
      if (snap === undefined) break;
      checksums.set(f, snap.checksum);
      lastRecorded = f;
    }
    while (checksums.size > MAX_RECORDED_CHECKSUMS) checksums.delete(checksums.keys().next().value!);
  }

  setInterval(() => renderPanel(), PANEL_REFRESH_MS);

  function renderPanel(): void {
    if (run === undefined || room === undefined) {
      ui.stats.textContent = '';
      ui.players.replaceChildren();
      return;
    }
    const { session, rollback, match } = run;
    const now = performance.now();
    if (now - rate.at >= 1000) {
      const dt = (now - rate.at) / 1000;
      rate = {
        at: now,
        rollbacks: rollback.stats.rollbacks,
        resimulated: rollback.stats.resimulatedFrames,
        rollbacksPerSec: (rollback.stats.rollbacks - rate.rollbacks) / dt,
        resimPerSec: (rollback.stats.resimulatedFrames - rate.resimulated) / dt,
      };
    }
    const st = session.stats();
    const ahead = session.state === 'running' ? session.framesAhead() : 0;
    ui.stats.textContent = [
      `frame ${st.frame} · confirmed ${st.confirmedFrame} · ${ahead >= 0 ? '+' : ''}${ahead.toFixed(1)} frames ahead`,
      `rollbacks ${rate.rollbacksPerSec.toFixed(1)}/s · re-simulated ${rate.resimPerSec.toFixed(0)} frames/s · waits ${rollback.stats.skippedTicks}`,
      `input delay ${session.state === 'closed' ? '-' : session.inputDelay()} frames ([ and ] change it) · desyncs ${desyncs.length}`,
    ].join('\n');
    const links = new Map(room.stats().peers.map((p) => [p.peerId, p]));
    const sessionPeers = new Map(st.peers.map((p) => [p.peerId, p]));
    ui.players.replaceChildren(...match.peers.map((id, slot) => {
      const tr = document.createElement('tr');
      const local = slot === match.localSlot;
      const sp = sessionPeers.get(id);
      const link = links.get(id);
      const rtt = sp?.rttMs ?? link?.rttMs;
      const cells = [
        `${slot + 1}`,
        local ? 'you' : `…${id.slice(-6)}`,
        local ? '' : rtt === undefined ? '…' : `${rtt.toFixed(0)} ms`,
        local ? '' : run!.left.has(slot) ? 'left' : (link?.connection ?? 'none'),
        local ? '' : sp === undefined ? '' : `${sp.localFrameAdvantage >= 0 ? '+' : ''}${sp.localFrameAdvantage.toFixed(1)}`,
      ];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      tr.firstElementChild!.setAttribute('style', `color: ${PLAYER_COLOURS[slot % PLAYER_COLOURS.length]}; font-weight: 700`);
      if (run!.left.has(slot)) tr.classList.add('left');
      return tr;
    }));
  }

  addEventListener('keydown', (event) => {
    if (run === undefined || run.session.state === 'closed') return;
    if (event.code !== 'BracketLeft' && event.code !== 'BracketRight') return;
    const delay = run.session.inputDelay() + (event.code === 'BracketRight' ? 1 : -1);
    if (delay >= 0 && delay <= 10) run.session.setInputDelay(delay);
  });

  return net;
}

/** Parameters of this page's address that are personal (input, rendering, debugging), left out of the shared link. */
const PERSONAL_PARAMS = ['bot', 'debug', 'engine', 'quality'] as const;

/** The address to send to other players: this page's, without {@link PERSONAL_PARAMS}. */
export function shareUrl(href: string): string {
  const url = new URL(href);
  for (const name of PERSONAL_PARAMS) url.searchParams.delete(name);
  return url.toString();
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
