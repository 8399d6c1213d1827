/**
 * Arena online: the page side of a multiplayer match. Finds the relay, creates a libp2p peer,
 * joins the room named in the address (behind a network conditioner, for the "bad network"
 * switch), waits for a match ({@link Matchmaker}), then builds the arena for that match, starts a
 * rollback {@link P2PSession} with one slot per matched peer and attaches it to the game with
 * `attachRollback`, this peer's input device (or bot) being the session's local input.
 *
 * Late join: every player serves late joins (`serveLateJoins`). A page that waits for a match
 * while others in the room are playing one **watches** it meanwhile: it asks one of those players
 * for the world state (`requestLateJoin`, chunked over the room), restores it, and follows the
 * match with a `SpectatorSession` (confirmed inputs only, a few frames behind). When enough pages
 * wait for a match of their own, it stops watching and plays.
 *
 * While a match runs it keeps the net panel up to date (ping and link of each player, rollbacks
 * and re-simulated frames per second, frames ahead, input delay, desyncs) and records the
 * checksum of every confirmed frame it still holds a snapshot of, for tests and desync hunts.
 *
 * A match whose session has not synchronized within {@link SYNC_TIMEOUT_MS} (two hosts raced, or
 * a peer vanished during the handshake) is torn down and the page waits for a new one.
 */
import type { AbstractEngine } from '@babylonjs/core/Engines/abstractEngine.js';
import { decodeSnapshot, restore, type InputSource } from '../../engine/index.ts';
import {
  attachRollback, closeWithPage, conditionTransport, createPeer, discoverRelays, joinRoom, lateJoinSessionBuilder, requestLateJoin, rollbackStateAt,
  serveLateJoins, SessionBuilder,
  type ConditionedTransport, type ConditionerOptions, type LateJoinHost, type P2PSession, type Peer, type PeerId, type RollbackSystem,
  type SessionEvent, type SpectatorSession,
} from '../../netcode/index.ts';
import { createArenaGame, type ArenaGame } from './game.ts';
import { Matchmaker, validateMatchSettings, type Match, type MatchSettings } from './match.ts';
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

/** How long a page waits before asking another player to watch after a failed late join, ms. */
export const WATCH_RETRY_MS = 4000;
/** Frames per tick a late-joined spectator advances while catching up with its host. */
export const WATCH_CATCHUP_SPEED = 3;

/**
 * Where an online page is: `'watching'` follows a match of others as a spectator (late join)
 * while waiting for a match of its own.
 */
export type OnlineStatus = 'connecting' | 'waiting' | 'watching' | 'synchronizing' | 'running' | 'alone' | 'failed';

/** What an online page exposes as `window.peercompute.net` (README, "Debug handle"). */
export interface ArenaNetDebug {
  readonly roomId: string;
  /** This peer's libp2p id (empty until the peer exists). */
  readonly peerId: string;
  readonly status: OnlineStatus;
  /** The current match, once agreed (playing), or the watched match's players (watching). */
  readonly match: Match | undefined;
  /** The session: a `P2PSession` while playing, a `SpectatorSession` while watching. */
  readonly session: P2PSession | SpectatorSession | undefined;
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

/** A match this page plays or watches: what to tear down. */
interface MatchRun {
  readonly kind: 'playing' | 'watching';
  readonly match: Match;
  readonly game: ArenaGame;
  readonly scene: ArenaScene;
  readonly session: P2PSession | SpectatorSession;
  readonly rollback: RollbackSystem;
  /** Serving late joins (players only). */
  readonly lateJoins: LateJoinHost | undefined;
  readonly left: Set<number>;
  readonly startedAt: number;
}

/** The late-join application blob: the match settings and players, JSON. */
interface WatchInfo {
  readonly settings: MatchSettings;
  readonly peers: readonly PeerId[];
  readonly id: string;
}

const jsonEncoder = new TextEncoder();
const jsonDecoder = new TextDecoder();

function decodeWatchInfo(bytes: Uint8Array): WatchInfo {
  const raw = JSON.parse(jsonDecoder.decode(bytes)) as Partial<WatchInfo>;
  const settings = validateMatchSettings(raw.settings as MatchSettings);
  if (!Array.isArray(raw.peers) || raw.peers.length !== settings.players || !raw.peers.every((p) => typeof p === 'string')) {
    throw new Error('late join: the host sent a malformed player list');
  }
  return { settings, peers: raw.peers, id: typeof raw.id === 'string' ? raw.id : '?' };
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
  closeWithPage(peer);
  setStatus('connecting', `Joining room ${roomId}…`);
  room = conditionTransport(await joinRoom(peer, roomId));
  const mm = new Matchmaker(room, settings);

  const waitingText = (waiting: number): string => {
    const busy = mm.busyPeers().length;
    return `Waiting for players: ${waiting} of ${settings.players} here.${busy > 0 ? ` ${busy} in this room are playing a match without you.` : ''} Open this page's address in another browser to join.`;
  };
  mm.on((e) => {
    if (e.kind === 'waiting' && status === 'waiting') setStatus('waiting', waitingText(e.waiting));
    if (e.kind === 'busy' && mm.state === 'waiting') {
      if (status === 'waiting') setStatus('waiting', waitingText(mm.waitingPeers().length));
      maybeWatch();
    }
    if (e.kind === 'incompatible') console.warn(`arena: ${e.peerId} in this room plays other settings`, e.settings);
    if (e.kind === 'matched') {
      if (run?.kind === 'watching') endMatch();
      startMatch(e.match);
    }
  });
  if (mm.state === 'waiting') setStatus('waiting', waitingText(mm.waitingPeers().length));
  else if (mm.match) startMatch(mm.match);

  let watchAttempt = 0;
  const refusedHosts = new Map<PeerId, number>();
  /** While waiting and others play: watch one of their matches (late join as a spectator). */
  function maybeWatch(): void {
    if (run !== undefined || watchAttempt !== 0 || mm.state !== 'waiting' || room === undefined) return;
    const now = performance.now();
    const host = mm.busyPeers().find((id) => (refusedHosts.get(id) ?? 0) <= now);
    if (host === undefined) return;
    const attempt = ++watchAttempt;
    setStatus('waiting', `${waitingText(mm.waitingPeers().length)} Asking to watch the match in progress…`);
    void watch(host).catch((error: unknown) => {
      console.warn(`arena: could not watch ${host}'s match: ${error instanceof Error ? error.message : String(error)}`);
      refusedHosts.set(host, performance.now() + WATCH_RETRY_MS);
      setTimeout(maybeWatch, WATCH_RETRY_MS);
    }).finally(() => {
      if (watchAttempt === attempt) watchAttempt = 0;
    });
  }

  async function watch(host: PeerId): Promise<void> {
    const join = await requestLateJoin(room!, host);
    if (run !== undefined || mm.state !== 'waiting') return; // matched meanwhile
    const info = decodeWatchInfo(join.app);
    const game = createArenaGame({ seed: info.settings.seed, props: info.settings.props, players: info.settings.players, localSlot: 0 });
    restore(game.world, decodeSnapshot(join.state));
    const session = lateJoinSessionBuilder(join).withCatchupSpeed(WATCH_CATCHUP_SPEED).startSpectatorSession(join.hostPeerId, room!);
    const rollback = attachRollback(game.world, game.scheduler, session, {
      players: game.players,
      recordChecksums: true,
      // A spectator only simulates confirmed frames: every saved state is final.
      onChecksum: (frame, sum) => recordChecksum(frame, sum),
      onEvent: (e) => onSessionEvent(e),
    });
    const match: Match = { id: info.id, peers: info.peers, localSlot: -1, settings: info.settings };
    launch({ kind: 'watching', match, game, session, rollback, lateJoins: undefined });
    setStatus('watching', `Watching a match in progress (${info.settings.players} players, from frame ${join.frame}). ${waitingText(mm.waitingPeers().length)}`);
  }

  /** Draws `parts`' game, starts rendering and records confirmed checksums. */
  function launch(parts: Omit<MatchRun, 'scene' | 'left' | 'startedAt'>): MatchRun {
    const scene = createArenaScene(engine, parts.game, { debugOverlay: options.debugOverlay, quality: options.quality });
    const started: MatchRun = { ...parts, scene, left: new Set<number>(), startedAt: performance.now() };
    run = started;
    checksums.clear();
    lastRecorded = -1;
    rate = { at: performance.now(), rollbacks: 0, resimulated: 0, rollbacksPerSec: 0, resimPerSec: 0 };
    scene.runtime.onFrameObservable.add(recordConfirmed);
    engine.runRenderLoop(() => scene.scene.render());
    options.onGame(parts.game, scene, net);
    return started;
  }

  function startMatch(match: Match): void {
    if (run !== undefined || room === undefined) return;
    const game = createArenaGame({ seed: settings.seed, props: settings.props, players: settings.players, localSlot: match.localSlot });
    const builder = new SessionBuilder().withNumPlayers(settings.players).withInputDelay(settings.inputDelay);
    match.peers.forEach((id, slot) => builder.addPlayer(slot === match.localSlot ? { kind: 'local' } : { kind: 'remote', peerId: id }, slot));
    const session = builder.startP2PSession(room);
    const rollback = attachRollback(game.world, game.scheduler, session, {
      players: game.players,
      localInput,
      onEvent: (e) => onSessionEvent(e),
    });
    const info: WatchInfo = { settings, peers: match.peers, id: match.id };
    const lateJoins = serveLateJoins(session, room, {
      snapshotAt: rollbackStateAt(game.world, rollback),
      app: jsonEncoder.encode(JSON.stringify(info)),
    });
    const current = launch({ kind: 'playing', match, game, session, rollback, lateJoins });
    setStatus('synchronizing', `Match found: you are player ${match.localSlot + 1} of ${settings.players}. Synchronizing…`);
    setTimeout(() => {
      if (run === current && current.session.state !== 'running') {
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
    run.lateJoins?.dispose();
    run.rollback.dispose();
    run.session.close();
    run.scene.dispose();
    run = undefined;
  }

  function onSessionEvent(e: SessionEvent): void {
    if (run === undefined) return;
    switch (e.kind) {
      case 'synchronizing':
        // Also fired for a late joiner's handshake with a running session: only the start counts.
        if (run.kind === 'playing' && status === 'synchronizing') setStatus('synchronizing', `Synchronizing with the other players (${e.count} of ${e.total})…`);
        break;
      case 'running':
        if (run.kind === 'playing') {
          mm.confirm();
          setStatus('running', `Playing: you are player ${run.match.localSlot + 1} of ${settings.players}.`);
        }
        break;
      case 'disconnected':
        for (const slot of e.slots) run.left.add(slot);
        if (run.kind === 'watching' && e.peerId === (run.session as SpectatorSession).hostPeerId) {
          // The player we watched through left: watch through another one, or wait.
          endMatch();
          setStatus('waiting', waitingText(mm.waitingPeers().length));
          setTimeout(maybeWatch, 0);
        } else if (run.kind === 'playing' && run.left.size === settings.players - 1) {
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
    if (run === undefined || run.kind !== 'playing') return; // spectators record in onChecksum
    const session = run.session as P2PSession;
    const upTo = Math.min(session.confirmedFrame, session.currentFrame);
    for (let f = Math.max(lastRecorded + 1, upTo - session.snapshotWindow + 1); f <= upTo; f++) {
      const snap = run.rollback.snapshotOf(f);
      if (snap === undefined) break;
      recordChecksum(f, snap.checksum);
      lastRecorded = f;
    }
  }

  function recordChecksum(frame: number, sum: number): void {
    checksums.set(frame, sum);
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
    if ('framesBehindHost' in session) {
      ui.stats.textContent = [
        `watching · frame ${st.frame} · ${session.framesBehindHost()} frames behind the player it follows`,
        `spectator: confirmed inputs only, never rolls back · desyncs ${desyncs.length}`,
      ].join('\n');
    } else {
      const ahead = session.state === 'running' ? session.framesAhead() : 0;
      ui.stats.textContent = [
        `frame ${st.frame} · confirmed ${st.confirmedFrame} · ${ahead >= 0 ? '+' : ''}${ahead.toFixed(1)} frames ahead`,
        `rollbacks ${rate.rollbacksPerSec.toFixed(1)}/s · re-simulated ${rate.resimPerSec.toFixed(0)} frames/s · waits ${rollback.stats.skippedTicks}`,
        `input delay ${session.state === 'closed' ? '-' : session.inputDelay()} frames ([ and ] change it) · desyncs ${desyncs.length}`,
      ].join('\n');
    }
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
    if (run === undefined || run.kind !== 'playing' || run.session.state === 'closed') return;
    if (event.code !== 'BracketLeft' && event.code !== 'BracketRight') return;
    const session = run.session as P2PSession;
    const delay = session.inputDelay() + (event.code === 'BracketRight' ? 1 : -1);
    if (delay >= 0 && delay <= 10) session.setInputDelay(delay);
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
