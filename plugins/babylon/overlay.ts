/**
 * The debug overlay: a small text panel over the canvas showing how the fixed-step runtime runs.
 *
 * Lines (see {@link formatOverlayText}): backend and frames per second, current tick, ticks per
 * second, average tick duration, live entities and bound meshes, interpolation alpha, and time
 * dropped by the scheduler's catch-up limit. Numbers are refreshed 4 times a second, not every
 * frame, so they stay readable and the overlay costs nothing measurable.
 *
 * The overlay is plain DOM (a `<div>` with `position: fixed` placed over the canvas's top-left
 * corner, `pointer-events: none`), so it works with every backend and needs no GUI package.
 */

/** Figures shown by the overlay. */
export interface OverlayFigures {
  /** Rendering backend, e.g. `'webgl2'`. */
  readonly backend: string;
  /** Rendered frames per second (Babylon's `engine.getFps()`). */
  readonly fps: number;
  /** `world.time.tick`: ticks simulated so far. */
  readonly tick: number;
  /** Ticks run per wall-clock second, measured over the last refresh interval. */
  readonly ticksPerSecond: number;
  /** The world's nominal tick rate, Hz. */
  readonly tickRate: number;
  /** Scheduler's moving average of one tick's duration, ms. */
  readonly avgTickMs: number;
  /** Live entities in the world. */
  readonly entities: number;
  /** Entities bound to meshes by this runtime. */
  readonly boundMeshes: number;
  /** Interpolation factor used for the last frame, in [0, 1]. */
  readonly alpha: number;
  /** Total wall-clock time the scheduler dropped (too slow to catch up), ms. */
  readonly droppedMs: number;
}

/** The overlay's text for `f`: one line per figure, fixed decimals. */
export function formatOverlayText(f: OverlayFigures): string {
  return [
    `backend   ${f.backend}  ${f.fps.toFixed(0)} fps`,
    `tick      ${f.tick}`,
    `ticks/s   ${f.ticksPerSecond.toFixed(1)} (nominal ${f.tickRate})`,
    `tick ms   ${f.avgTickMs.toFixed(3)} avg`,
    `entities  ${f.entities} (${f.boundMeshes} meshes)`,
    `alpha     ${f.alpha.toFixed(2)}`,
    `dropped   ${f.droppedMs.toFixed(0)} ms`,
  ].join('\n');
}

/** Milliseconds between two refreshes of the overlay text. */
export const OVERLAY_REFRESH_MS = 250;

/**
 * The overlay element and its refresh logic. Created by the runtime; `dispose()` removes the
 * element and its key listener.
 */
export class DebugOverlay {
  readonly element: HTMLDivElement;
  readonly #canvas: HTMLCanvasElement | null;
  readonly #toggleKey: string | null;
  #lastRefresh = -Infinity;
  #lastTicks = 0;
  #lastTime = 0;
  #ticksPerSecond = 0;

  /**
   * @param canvas the canvas to sit over (`null`: top-left of the page).
   * @param visible initial visibility.
   * @param toggleKey `KeyboardEvent.code` that toggles visibility, or `null` for none.
   */
  constructor(canvas: HTMLCanvasElement | null, visible: boolean, toggleKey: string | null) {
    this.#canvas = canvas;
    this.#toggleKey = toggleKey;
    const el = document.createElement('div');
    el.dataset.peercomputeOverlay = '';
    el.setAttribute('aria-hidden', 'true');
    Object.assign(el.style, {
      position: 'fixed',
      zIndex: '1000',
      pointerEvents: 'none',
      margin: '0',
      padding: '6px 9px',
      font: '12px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      whiteSpace: 'pre',
      color: '#e8f0ff',
      background: 'rgba(12, 16, 26, 0.72)',
      borderRadius: '6px',
      display: visible ? 'block' : 'none',
    } satisfies Partial<CSSStyleDeclaration>);
    document.body.appendChild(el);
    this.element = el;
    if (toggleKey !== null) window.addEventListener('keydown', this.#onKey);
  }

  /** Whether the overlay is shown. */
  get visible(): boolean {
    return this.element.style.display !== 'none';
  }

  set visible(value: boolean) {
    this.element.style.display = value ? 'block' : 'none';
    if (value) this.#lastRefresh = -Infinity;
  }

  /**
   * Refreshes the text when visible and {@link OVERLAY_REFRESH_MS} have passed.
   * @param nowMs a monotonic clock in ms (`performance.now()`).
   * @param ticks the scheduler's `stats.ticks` (for ticks per second).
   * @param figures called only when a refresh happens, so gathering them may allocate.
   */
  update(nowMs: number, ticks: number, figures: (ticksPerSecond: number) => OverlayFigures): void {
    if (!this.visible) {
      this.#lastTicks = ticks;
      this.#lastTime = nowMs;
      return;
    }
    if (nowMs - this.#lastRefresh < OVERLAY_REFRESH_MS) return;
    const span = nowMs - this.#lastTime;
    if (span > 0 && Number.isFinite(span)) this.#ticksPerSecond = ((ticks - this.#lastTicks) * 1000) / span;
    this.#lastTicks = ticks;
    this.#lastTime = nowMs;
    this.#lastRefresh = nowMs;
    this.element.textContent = formatOverlayText(figures(this.#ticksPerSecond));
    const rect = this.#canvas?.getBoundingClientRect();
    this.element.style.left = `${(rect?.left ?? 0) + 8}px`;
    this.element.style.top = `${(rect?.top ?? 0) + 8}px`;
  }

  /** Removes the element and the key listener. Safe to call twice. */
  dispose(): void {
    if (this.#toggleKey !== null) window.removeEventListener('keydown', this.#onKey);
    this.element.remove();
  }

  readonly #onKey = (e: KeyboardEvent): void => {
    if (e.code === this.#toggleKey && !e.repeat) this.visible = !this.visible;
  };
}
