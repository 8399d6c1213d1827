/**
 * Page helpers shared by the demos' browser entries (`main.ts`): starting the demo with its
 * failure shown on the page, and reading integer query parameters. A forked demo keeps using
 * them through `../shared/page.ts`, or copies this short file into its folder.
 */

/**
 * Runs a demo's `main`; if it fails, shows the error (with its stack) in the page's `#error`
 * element (made visible with `display: grid`) and logs it.
 *
 * @param title The demo's name in the message, e.g. `'The arena'`.
 */
export function runDemo(title: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const box = document.getElementById('error');
    if (box) {
      box.style.display = 'grid';
      box.textContent = `${title} could not start:\n\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    }
    console.error(error);
  });
}

/**
 * An integer query parameter, or `fallback` when absent.
 * @throws Error naming the parameter when its value is not an integer.
 */
export function intParam(params: URLSearchParams, name: string, fallback: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`?${name}= must be an integer, got "${raw}"`);
  return value;
}
