/**
 * Where a browser test that opens WebRTC between pages can run. Chromium gathers no ICE
 * candidate with only loopback, so such tests need a non-loopback interface. They get one of
 * their own: a private network namespace (`unshare -n`, root) holding a veth pair with
 * 198.18.0.1/24 (RFC 2544 benchmarking range) and a default route on it, so nothing leaves the
 * namespace. The relay and dev server started inside it listen on its own 127.0.0.1.
 *
 * @example
 * ```ts
 * const plan = webrtcNetworkPlan();
 * if (plan.mode === 'skip') ctx.skip(plan.reason);
 * const child = spawn(...commandFor(plan, [process.execPath, 'script.js']));
 * ```
 */
import { spawn, spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/server.ts';

/**
 * Shell script run by `sh -c` inside the new namespace before the command (`"$@"`): loopback
 * up, a veth pair v0/v1 with 198.18.0.1/24 on v0, a default route through it.
 */
export const NETNS_SETUP =
  'ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 198.18.0.1/24 dev v0 && ' +
  'ip link set v0 up && ip link set v1 up && ip route add default dev v0 && exec "$@"';

/** How to run a WebRTC browser test on this machine. */
export type WebrtcNetworkPlan =
  /** In a private network namespace of its own (root with a working `unshare -n` and `ip`). */
  | { readonly mode: 'namespace' }
  /**
   * Here: no namespace possible, but this machine has a non-loopback interface (a developer's
   * machine: WebRTC between two local pages stays on this host).
   */
  | { readonly mode: 'here'; readonly interfaces: readonly string[] }
  /** Neither: the test must be skipped, `reason` says why. */
  | { readonly mode: 'skip'; readonly reason: string };

/** Names of the up, non-internal IPv4/IPv6 interfaces of this machine (or namespace). */
export function nonLoopbackInterfaces(): string[] {
  return Object.entries(networkInterfaces())
    .filter(([, infos]) => (infos ?? []).some((info) => !info.internal))
    .map(([name]) => name);
}

/**
 * Decides where WebRTC tests run. A namespace is preferred even when this machine has other
 * interfaces, so test traffic never touches a real network; it needs root, `unshare` and `ip`
 * (checked by creating a throwaway namespace, ~10 ms). Without it, an existing non-loopback
 * interface is used; without one either, the plan is to skip, with the reason.
 *
 * @param env `PEERCOMPUTE_NETNS=0` forbids the namespace (to debug on a desktop), `=1`
 *   requires it (then a failing check is the skip reason). Default `process.env`.
 */
export function webrtcNetworkPlan(env: NodeJS.ProcessEnv = process.env): WebrtcNetworkPlan {
  const setting = env.PEERCOMPUTE_NETNS;
  let namespaceProblem = 'PEERCOMPUTE_NETNS=0 forbids a network namespace';
  if (setting !== '0') {
    namespaceProblem = namespaceUnavailable() ?? '';
    if (namespaceProblem === '') return { mode: 'namespace' };
    if (setting === '1') return { mode: 'skip', reason: `PEERCOMPUTE_NETNS=1 but no network namespace: ${namespaceProblem}` };
  }
  const interfaces = nonLoopbackInterfaces();
  if (interfaces.length > 0) return { mode: 'here', interfaces };
  return {
    mode: 'skip',
    reason: `Chromium needs a non-loopback network interface for WebRTC; this machine has only loopback, and no private network namespace can be made (${namespaceProblem}). Run as root with unshare and ip (util-linux, iproute2) available.`,
  };
}

/** Why no namespace can be made here, or `undefined` when one can. */
function namespaceUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces are Linux-only (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', NETNS_SETUP, 'sh', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined) return `unshare could not run: ${probe.error.message}`;
  if (probe.status !== 0) return `unshare -n with the veth setup failed (exit ${probe.status}): ${probe.stderr.trim()}`;
  return undefined;
}

/**
 * The command line that runs `argv` according to `plan`: wrapped in `unshare -n sh -c
 * NETNS_SETUP` for a namespace, unchanged otherwise.
 *
 * @returns `[command, args]` for `child_process.spawn`.
 * @throws Error for a `'skip'` plan.
 */
export function commandFor(plan: WebrtcNetworkPlan, argv: readonly [string, ...string[]]): [string, string[]] {
  if (plan.mode === 'skip') throw new Error(`no network for WebRTC: ${plan.reason}`);
  if (plan.mode === 'here') return [argv[0], argv.slice(1)];
  return ['unshare', ['-n', 'sh', '-c', NETNS_SETUP, 'sh', ...argv]];
}

/**
 * Runs a scenario script (a `.ts` file run by tsx) according to `plan`, and finds its result:
 * the JSON after `resultPrefix` on a line of its stdout. The child is killed after `timeoutMs`.
 *
 * @returns the parsed result (`undefined` when no such line was printed), the exit code, and
 *   everything the script wrote on stderr (its progress log).
 */
export function runScenarioScript<T>(
  plan: WebrtcNetworkPlan, script: string, argv: readonly string[], resultPrefix: string, timeoutMs: number,
): Promise<{ result: T | undefined; code: number | null; log: string }> {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const [command, args] = commandFor(plan, [tsx, script, ...argv]);
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(resultPrefix));
      resolve({ result: line === undefined ? undefined : (JSON.parse(line.slice(resultPrefix.length)) as T), code, log });
    });
  });
}
