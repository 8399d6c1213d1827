/**
 * Lobby, browser entry: finds the relay (`?relay=` or the main job's /peercompute/config.json),
 * creates a libp2p peer, joins the room behind a network conditioner (the "bad network"
 * switch), and draws players, relay status and chat. The rules are in `lobby.ts`.
 *
 * Query parameters:
 * - `?room=name` joins room `name` (1-64 of `A-Z a-z 0-9 . _ ~ -`; default `lobby`);
 * - `?name=...` our player name (default a random one such as "plucky otter");
 * - `?relay=<multiaddr>` uses this relay instead of the one the server names (repeatable).
 *
 * Debug handle for tests and the console: `window.peercompute`, see {@link LobbyDebugHandle}
 * and README.md.
 */
import {
  closeWithPage, conditionTransport, createPeer, discoverRelays, joinRoom, ROOM_ID_PATTERN,
  type ConditionedTransport, type ConditionerOptions, type ConnectionKind, type Peer, type RelaySource,
} from '../../netcode/index.ts';
import { cleanName, Lobby, randomName, type LobbyEvent, type LobbyMessage, type LobbyPeer, type PingResult } from './lobby.ts';

/** Room joined when the URL names none. */
export const DEFAULT_ROOM = 'lobby';
/** How often the players table and relay status are redrawn, ms. */
const REFRESH_MS = 500;
/** Most lines kept in the chat log on screen. */
const MAX_LOG_LINES = 300;

/** Milestones of the page, ms since navigation start (`performance.now()`); `undefined` until reached. */
export interface LobbyTimings {
  /** Relay addresses known (query or server). */
  relaysFound?: number;
  /** Peer created: connected to a relay (and holding a reservation, or given up waiting for one). */
  peerReady?: number;
  /** Room joined. */
  joined?: number;
  /** First other member seen (`peer:join`). */
  firstPeer?: number;
  /** First message received from another member (its hello, normally). */
  firstMessage?: number;
}

/** The documented debug handle, `window.peercompute` (README.md, "Debug handle"). */
export interface LobbyDebugHandle {
  /** `true` once the room is joined (and {@link room} and {@link lobby} are set). */
  readonly ready: boolean;
  /** Why starting failed, if it did (also shown on the page). */
  readonly error: string | undefined;
  /** Our libp2p peer id; `''` before the peer exists. */
  readonly peerId: string;
  /** Our player name. */
  readonly name: string;
  readonly roomId: string;
  /** Relay multiaddrs in use and where they came from. */
  readonly relays: readonly string[];
  readonly relaySource: RelaySource | undefined;
  /** The libp2p peer (relay status: `peer.relays()`). */
  readonly peer: Peer | undefined;
  /** The room: the libp2p RoomTransport behind the bad-network conditioner (off unless switched on). */
  readonly room: ConditionedTransport | undefined;
  /** The lobby rules object (names, chat, pings). */
  readonly lobby: Lobby | undefined;
  /** Members now: peer id, name, RTT (ms), last ping (ms), connection kind, payload bytes and messages. */
  peers(): LobbyPeer[];
  /** Every message received, all channels, oldest first (live array; `text` is the payload as UTF-8). */
  readonly messages: readonly LobbyMessage[];
  readonly timings: LobbyTimings;
  /** Pings every member over `send`; resolves with the round trips (ms) once all answered or after 3 s. */
  pingAll(): Promise<PingResult[]>;
  /** Broadcasts a chat line; returns what was sent. */
  chat(text: string): string | undefined;
  /** Bad network on (`ConditionerOptions`, e.g. `{ latencyMs: 100, loss: 0.05 }`) or off (`undefined`); updates the switch. */
  setBadNetwork(options: ConditionerOptions | undefined): void;
}

const query = new URLSearchParams(location.search);
const requestedRoom = query.get('room') ?? DEFAULT_ROOM;
const roomId = ROOM_ID_PATTERN.test(requestedRoom) ? requestedRoom : DEFAULT_ROOM;
const myName = cleanName(query.get('name') ?? '') || randomName();
const timings: LobbyTimings = {};

const state = {
  ready: false,
  error: undefined as string | undefined,
  peer: undefined as Peer | undefined,
  room: undefined as ConditionedTransport | undefined,
  lobby: undefined as Lobby | undefined,
  relays: [] as readonly string[],
  relaySource: undefined as RelaySource | undefined,
};

const handle: LobbyDebugHandle = {
  get ready() { return state.ready; },
  get error() { return state.error; },
  get peerId() { return state.peer?.peerId ?? ''; },
  name: myName,
  roomId,
  get relays() { return state.relays; },
  get relaySource() { return state.relaySource; },
  get peer() { return state.peer; },
  get room() { return state.room; },
  get lobby() { return state.lobby; },
  peers: () => state.lobby?.peers() ?? [],
  get messages() { return state.lobby?.messages ?? []; },
  timings,
  pingAll: () => state.lobby?.pingAll() ?? Promise.resolve([]),
  chat: (text) => state.lobby?.chat(text),
  setBadNetwork: (options) => applyBadNetwork(options),
};
(window as unknown as { peercompute: LobbyDebugHandle }).peercompute = handle;

// --- DOM ------------------------------------------------------------------------------------

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`lobby: #${id} missing from index.html`);
  return element as T;
}

const ui = {
  roomName: byId('room-name'),
  statusDot: byId('status-dot'),
  statusText: byId('status-text'),
  roomForm: byId<HTMLFormElement>('room-form'),
  roomInput: byId<HTMLInputElement>('room-input'),
  error: byId('error'),
  playerCount: byId('player-count'),
  pingAll: byId<HTMLButtonElement>('ping-all'),
  rows: byId<HTMLTableSectionElement>('player-rows'),
  empty: byId('players-empty'),
  shareLink: byId<HTMLAnchorElement>('share-link'),
  log: byId<HTMLOListElement>('chat-log'),
  chatForm: byId<HTMLFormElement>('chat-form'),
  chatInput: byId<HTMLInputElement>('chat-input'),
  chatSend: byId<HTMLButtonElement>('chat-send'),
  myName: byId('my-name'),
  myPeerId: byId('my-peer-id'),
  myWebrtc: byId('my-webrtc'),
  relayList: byId<HTMLUListElement>('relay-list'),
  relaySource: byId('relay-source'),
  badNetwork: byId<HTMLInputElement>('bad-network'),
  badNetworkState: byId('bad-network-state'),
  netControls: byId<HTMLFieldSetElement>('net-controls'),
  latency: byId<HTMLInputElement>('latency'),
  jitter: byId<HTMLInputElement>('jitter'),
  loss: byId<HTMLInputElement>('loss'),
  latencyOut: byId<HTMLOutputElement>('latency-out'),
  jitterOut: byId<HTMLOutputElement>('jitter-out'),
  lossOut: byId<HTMLOutputElement>('loss-out'),
};

const CONNECTION_LABELS: Record<ConnectionKind, string> = {
  'direct-webrtc': 'direct WebRTC',
  relayed: 'relayed',
  tcp: 'TCP',
  websocket: 'WebSocket',
  memory: 'memory',
  'gossip-only': 'gossip only',
  none: 'connecting',
};

/** How a departure reads in the log, by `peer:leave` reason. */
const LEAVE_TEXT: Record<string, string> = {
  left: 'left',
  timeout: 'timed out (nothing heard for 5 s)',
  closed: 'disconnected',
};

function setStatus(kind: 'busy' | 'ok' | 'warn' | 'bad', text: string): void {
  ui.statusDot.className = `dot ${kind}`;
  ui.statusText.textContent = text;
}

function showError(message: string): void {
  state.error = message;
  ui.error.textContent = message;
  ui.error.hidden = false;
  setStatus('bad', 'Not connected');
  if (state.peer === undefined) {
    ui.myPeerId.textContent = '—';
    ui.myWebrtc.textContent = '—';
  }
}

/** `12D3KooWAbc...xyz9`: enough of a peer id to tell players apart. */
function shortId(peerId: string): string {
  return peerId.length <= 14 ? peerId : `${peerId.slice(0, 8)}…${peerId.slice(-4)}`;
}

/** A stable colour per peer id. */
function colourOf(peerId: string): string {
  let hash = 2166136261;
  for (let i = 0; i < peerId.length; i++) hash = Math.imul(hash ^ peerId.charCodeAt(i), 16777619);
  return `hsl(${(hash >>> 0) % 360} 65% 42%)`;
}

function displayName(peerId: string): string {
  return state.lobby?.nameOf(peerId) ?? shortId(peerId);
}

function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

interface Row {
  readonly tr: HTMLTableRowElement;
  readonly avatar: HTMLElement;
  readonly name: HTMLElement;
  readonly badge: HTMLElement;
  readonly rtt: HTMLElement;
  readonly ping: HTMLElement;
  readonly bytesIn: HTMLElement;
  readonly bytesOut: HTMLElement;
}
const rows = new Map<string, Row>();

function makeRow(peerId: string): Row {
  const tr = element('tr');
  tr.dataset.peerId = peerId;
  const cell = element('td');
  const who = element('div', 'who');
  cell.append(who);
  const avatar = element('span', 'avatar');
  avatar.style.background = colourOf(peerId);
  const text = element('span', 'who-text');
  const name = element('span', 'name');
  const pid = element('span', 'pid', shortId(peerId));
  pid.title = peerId;
  text.append(name, pid);
  who.append(avatar, text);
  const kind = element('td');
  const badge = element('span', 'badge');
  kind.append(badge);
  const rtt = element('td', 'num rtt');
  const ping = element('td', 'num ping');
  const bytesIn = element('td', 'num traffic');
  const bytesOut = element('td', 'num traffic');
  tr.append(cell, kind, rtt, ping, bytesIn, bytesOut);
  return { tr, avatar, name, badge, rtt, ping, bytesIn, bytesOut };
}

function renderPlayers(): void {
  const peers = handle.peers();
  ui.playerCount.textContent = String(peers.length + (state.ready ? 1 : 0));
  ui.empty.hidden = peers.length > 0 || !state.ready;
  ui.pingAll.disabled = peers.length === 0;
  const seen = new Set<string>();
  for (const p of peers) {
    seen.add(p.peerId);
    let row = rows.get(p.peerId);
    if (row === undefined) {
      row = makeRow(p.peerId);
      rows.set(p.peerId, row);
    }
    const name = p.name ?? shortId(p.peerId);
    row.name.textContent = name;
    row.avatar.textContent = name.charAt(0);
    row.badge.className = `badge ${p.connection}`;
    row.badge.textContent = CONNECTION_LABELS[p.connection];
    row.rtt.textContent = formatMs(p.rttMs);
    row.ping.textContent = formatMs(p.pingMs);
    row.bytesIn.textContent = formatBytes(p.bytesIn);
    row.bytesIn.title = `${p.messagesIn} messages`;
    row.bytesOut.textContent = formatBytes(p.bytesOut);
    row.bytesOut.title = `${p.messagesOut} messages`;
    ui.rows.append(row.tr); // keeps rows in peer id order
  }
  for (const [peerId, row] of rows) {
    if (seen.has(peerId)) continue;
    row.tr.remove();
    rows.delete(peerId);
  }
}

function renderRelays(): void {
  const peer = state.peer;
  const statuses = peer?.relays() ?? [];
  ui.relayList.replaceChildren(
    ...(statuses.length > 0
      ? statuses.map((r) => {
        const li = element('li');
        const reservation = r.reserved ? 'reservation held' : 'no reservation yet';
        const text = r.connected
          ? `Connected · ${reservation}`
          : `Reconnecting${r.failures > 0 ? ` (${r.failures} failed${r.lastError === undefined ? '' : `: ${r.lastError}`})` : ''}`;
        li.append(element('span', `dot ${r.connected ? (r.reserved ? 'ok' : 'warn') : 'bad'}`), element('span', undefined, text));
        const addr = element('span', 'addr', (r.addrs[0] ?? '').replace(`/p2p/${r.peerId}`, ''));
        addr.title = r.addrs.join('\n');
        li.append(addr, element('span', 'addr', `id ${shortId(r.peerId)}`));
        return li;
      })
      : state.relays.map((addr) => {
        const li = element('li');
        li.append(element('span', 'dot busy'), element('span', undefined, 'Connecting…'), element('span', 'addr', addr));
        return li;
      })),
  );
  if (peer !== undefined && state.ready) {
    const connected = statuses.filter((r) => r.connected).length;
    if (connected === 0) setStatus('warn', 'Relay lost, reconnecting…');
    else setStatus('ok', `In room · ${handle.peers().length + 1} here`);
  }
}

function refresh(): void {
  renderPlayers();
  renderRelays();
}

function timeLabel(): string {
  return new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

function appendLog(build: (li: HTMLLIElement) => void, system: boolean): void {
  const li = element('li', system ? 'system' : undefined);
  li.append(element('time', undefined, timeLabel()));
  build(li);
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 24;
  ui.log.append(li);
  while (ui.log.childElementCount > MAX_LOG_LINES) ui.log.firstElementChild?.remove();
  if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
}

function logSystem(text: string): void {
  appendLog((li) => li.append(text), true);
}

function author(peerId: string, name: string, own: boolean): HTMLElement {
  const span = element('span', 'author', own ? `${name} (you)` : name);
  span.style.color = colourOf(peerId);
  return span;
}

function onLobbyEvent(event: LobbyEvent): void {
  switch (event.kind) {
    case 'join':
      // Announced once its name arrives ('hello'), normally a round trip later.
      timings.firstPeer ??= event.at;
      break;
    case 'hello':
      logSystem(`${event.name} joined (${shortId(event.peerId)})`);
      break;
    case 'leave':
      logSystem(`${event.name ?? shortId(event.peerId)} ${LEAVE_TEXT[event.reason] ?? `left (${event.reason})`}`);
      break;
    case 'chat':
      appendLog((li) => li.append(author(event.from, event.name ?? shortId(event.from), event.own), event.text), false);
      break;
    case 'ping':
      // Shown in the table; the button logs its own results (scripted pings would flood the log).
      break;
  }
  refresh();
}

// --- Bad network ------------------------------------------------------------------------------

function sliderOptions(): ConditionerOptions {
  return { latencyMs: Number(ui.latency.value), jitterMs: Number(ui.jitter.value), loss: Number(ui.loss.value) / 100 };
}

function renderSliders(): void {
  ui.latencyOut.value = `${ui.latency.value} ms`;
  ui.jitterOut.value = `${ui.jitter.value} ms`;
  ui.lossOut.value = `${ui.loss.value} %`;
}

function applyBadNetwork(options: ConditionerOptions | undefined): void {
  state.room?.setConditioner(options);
  const on = options !== undefined;
  ui.badNetwork.checked = on;
  ui.badNetworkState.textContent = on ? 'on' : 'off';
  ui.netControls.disabled = !on;
  if (on) {
    if (options.latencyMs !== undefined) ui.latency.value = String(options.latencyMs);
    if (options.jitterMs !== undefined) ui.jitter.value = String(options.jitterMs);
    if (typeof options.loss === 'number') ui.loss.value = String(Math.round(options.loss * 100));
    renderSliders();
  }
}

ui.badNetwork.addEventListener('change', () => {
  applyBadNetwork(ui.badNetwork.checked ? sliderOptions() : undefined);
  logSystem(ui.badNetwork.checked ? `Bad network on: ${ui.latency.value} ms ± ${ui.jitter.value} ms one way, ${ui.loss.value} % loss` : 'Bad network off');
});
for (const slider of [ui.latency, ui.jitter, ui.loss]) {
  slider.addEventListener('input', () => {
    renderSliders();
    if (ui.badNetwork.checked) state.room?.setConditioner(sliderOptions());
  });
}

// --- Controls ---------------------------------------------------------------------------------

ui.roomName.textContent = roomId;
ui.myName.textContent = myName;
const shareUrl = new URL(location.href);
shareUrl.searchParams.delete('name');
ui.shareLink.href = shareUrl.href;
ui.shareLink.textContent = shareUrl.href;
ui.netControls.disabled = true;
renderSliders();
document.title = `Lobby · ${roomId}`;

ui.roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const next = ui.roomInput.value.trim();
  if (!ROOM_ID_PATTERN.test(next)) {
    ui.roomInput.setCustomValidity('1-64 characters: letters, digits, . _ ~ -');
    ui.roomInput.reportValidity();
    return;
  }
  const url = new URL(location.href);
  url.searchParams.set('room', next);
  location.href = url.href;
});
ui.roomInput.addEventListener('input', () => ui.roomInput.setCustomValidity(''));

ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (state.lobby?.chat(ui.chatInput.value) !== undefined) ui.chatInput.value = '';
});

ui.pingAll.addEventListener('click', () => {
  ui.pingAll.disabled = true;
  void handle.pingAll().then((results) => {
    const parts = results.map((r) => `${displayName(r.peerId)} ${r.rttMs === undefined ? 'no answer' : formatMs(r.rttMs)}`);
    logSystem(parts.length === 0 ? 'Ping all: nobody to ping' : `Ping all: ${parts.join(', ')}`);
  }).finally(() => {
    ui.pingAll.disabled = handle.peers().length === 0;
  });
});

// --- Start ------------------------------------------------------------------------------------

async function start(): Promise<void> {
  if (requestedRoom !== roomId) logSystem(`"${requestedRoom}" is not a valid room name (1-64 of A-Z a-z 0-9 . _ ~ -): joined "${roomId}" instead`);
  setStatus('busy', 'Looking for the relay…');
  const found = await discoverRelays();
  timings.relaysFound = performance.now();
  state.relays = found.relays;
  state.relaySource = found.source;
  ui.relaySource.textContent = found.source === 'query'
    ? 'From ?relay= in this page\'s address.'
    : found.relays.length === 0
      ? 'The server at /peercompute/config.json lists no relay.'
      : 'Served by the main job (npm start) at /peercompute/config.json.';
  if (found.relays.length === 0) {
    throw new Error('the server names no relay (was it started with --no-relay?). Start it with "npm start", or add ?relay=<multiaddr> to this address.');
  }
  renderRelays();

  setStatus('busy', 'Connecting to the relay…');
  const peer = await createPeer({ relays: found.relays });
  timings.peerReady = performance.now();
  state.peer = peer;
  ui.myPeerId.textContent = peer.peerId;
  ui.myName.style.color = colourOf(peer.peerId);
  ui.myWebrtc.textContent = peer.webrtc ? 'available' : 'not available (relayed only)';
  // Leaving says goodbye, so the others see us go at once instead of after their 5 s timeout;
  // back from the back/forward cache (peer closed on pagehide) the page starts afresh.
  closeWithPage(peer);

  setStatus('busy', `Joining room ${roomId}…`);
  const room = conditionTransport(await joinRoom(peer, roomId));
  state.room = room;
  const lobby = new Lobby(room, { name: myName });
  state.lobby = lobby;
  room.on('message', () => {
    timings.firstMessage ??= performance.now();
  });
  lobby.on(onLobbyEvent);
  timings.joined = performance.now();
  state.ready = true;

  ui.chatInput.disabled = false;
  ui.chatSend.disabled = false;
  ui.badNetwork.disabled = false;
  logSystem(`You joined room ${roomId} as ${myName}`);
  refresh();
  setInterval(refresh, REFRESH_MS);
}

start().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  showError(`Could not join the room: ${message}`);
  renderRelays();
});
