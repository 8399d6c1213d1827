/**
 * Swarm, browser entry: the Babylon engine, a compute backend (WebGPU, or the CPU twin with the
 * reason why), the swarm game (`game.ts`), its scene (`scene.ts`) and the HUD with the GPU/CPU
 * toggle and the frame and step times.
 *
 * Query parameters (README.md has the table): `?n=COUNT` (default 20000), `?seed=N`,
 * `?backend=cpu` (start on the CPU twin), `?quality=low`, `?engine=webgpu`, `?debug=1`.
 *
 * Debug handle (`window.peercompute`, see README.md): `{ game, ready, backend(), step(),
 * checksum(), toggle() }`.
 */
import { intParam as intParamOf, runDemo } from '../shared/page.ts';
import { attachPeerCompute, createBabylonEngine } from '../../plugins/babylon/index.ts';
import { acquireCompute, cpuBackend, type ComputeBackend } from '../../shaders/index.ts';
import { backendLabel, createSwarmGame, currentChecksum, DEFAULT_SWARM_COUNT, requestBackend, type SwarmGame } from './game.ts';
import { createSwarmScene } from './scene.ts';

/** The documented debug handle (README.md, "Debug handle"). */
export interface SwarmDebugHandle {
  readonly game: SwarmGame;
  /** `true` once the scene rendered a frame with the first landed swarm state. */
  ready: boolean;
  /** Where the steps run now. */
  backend(): 'webgpu' | 'cpu';
  /** Step of the newest landed frame (0 before the first). */
  step(): number;
  /** The swarm's current step and `swarmChecksum` (reads the GPU when it runs there). */
  checksum(): Promise<{ step: number; checksum: number }>;
  /** Same as clicking the toggle button; false when no GPU is available. */
  toggle(): boolean;
}

const HUD_REFRESH_MS = 250;
const canvas = document.getElementById('game') as HTMLCanvasElement;
const params = new URLSearchParams(location.search);
const intParam = (name: string, fallback: number): number => intParamOf(params, name, fallback);
const byId = (id: string): HTMLElement => document.getElementById(id)!;

runDemo('The swarm', main);

async function main(): Promise<void> {
  const [{ engine, backend: renderBackend }, gpu] = await Promise.all([
    createBabylonEngine(canvas, { prefer: params.get('engine') === 'webgpu' ? 'webgpu' : 'webgl' }),
    acquireCompute(),
  ]);
  window.addEventListener('resize', () => engine.resize());
  const cpu = cpuBackend('preferred', 'chosen on the page');
  const startOn: ComputeBackend = params.get('backend') === 'cpu' || gpu.kind === 'cpu' ? (gpu.kind === 'cpu' ? gpu : cpu) : gpu;
  const game = await createSwarmGame({ backend: startOn, count: intParam('n', DEFAULT_SWARM_COUNT), seed: intParam('seed', 1) >>> 0 });
  const drawn = createSwarmScene(engine, game.options, { quality: params.get('quality') === 'low' ? 'low' : 'high' });
  // The plugin drives the scheduler from the render loop (and offers its overlay with ?debug=1).
  attachPeerCompute(drawn.scene, { world: game.world, scheduler: game.scheduler, overlay: params.get('debug') === '1' });
  const rt = game.runtime;

  const toggleButton = byId('toggle') as HTMLButtonElement;
  const toggle = (): boolean => {
    if (gpu.kind === 'cpu') return false;
    requestBackend(game, rt.backend === 'webgpu' ? cpu : gpu);
    toggleButton.disabled = true;
    return true;
  };
  if (gpu.kind === 'cpu') {
    toggleButton.disabled = true;
    toggleButton.title = `No GPU path: ${gpu.reason}`;
  }
  toggleButton.addEventListener('click', () => toggle());
  window.addEventListener('keydown', (event) => {
    if (event.code === 'KeyG') toggle();
  });

  let renderMs = 0;
  let frameMs = 0;
  let lastFrameAt = performance.now();
  let renderStartedAt = 0;
  drawn.scene.onBeforeRenderObservable.add(() => {
    drawn.draw(rt.frame);
    renderStartedAt = performance.now();
  });
  drawn.scene.onAfterRenderObservable.add(() => {
    const t = performance.now();
    renderMs = renderMs === 0 ? t - renderStartedAt : renderMs * 0.9 + (t - renderStartedAt) * 0.1;
    frameMs = frameMs === 0 ? t - lastFrameAt : frameMs * 0.9 + (t - lastFrameAt) * 0.1;
    lastFrameAt = t;
    if (rt.frame !== null && !handle.ready) handle.ready = true;
  });

  const handle: SwarmDebugHandle = {
    game,
    ready: false,
    backend: () => rt.backend,
    step: () => rt.frame?.step ?? 0,
    checksum: () => currentChecksum(game),
    toggle,
  };
  (window as unknown as { peercompute: SwarmDebugHandle }).peercompute = handle;

  byId('count').textContent = game.options.count.toLocaleString('en');
  byId('render-backend').textContent = renderBackend === 'webgpu' ? 'WebGPU' : renderBackend === 'webgl2' ? 'WebGL2' : 'WebGL';
  setInterval(() => {
    const s = rt.stats;
    byId('backend').textContent = rt.backendLabel;
    document.body.dataset.backend = rt.backend;
    toggleButton.textContent = rt.backend === 'webgpu' ? 'Run on CPU' : 'Run on GPU';
    if (rt.pendingBackend === null && !(gpu.kind === 'cpu')) toggleButton.disabled = false;
    byId('frame').textContent = `${frameMs.toFixed(1)} ms (render call ${renderMs.toFixed(1)} ms)`;
    byId('step').textContent = `${s.stepMs.toFixed(1)} ms`;
    byId('rate').textContent = `${s.stepsPerSecond} steps/s (${(s.simRate * 100).toFixed(0)} % of real time)`;
    byId('pairs').textContent = (rt.frame?.pairs ?? 0).toLocaleString('en');
    byId('error-line').textContent = rt.error ?? '';
  }, HUD_REFRESH_MS);
  if (gpu.kind === 'cpu') console.warn(`swarm: no GPU path: ${backendLabel(gpu)}`);
  engine.runRenderLoop(() => drawn.scene.render());
}
