/**
 * Loads a `.wgsl` file that sits next to its TypeScript wrapper, in the browser and in Node.
 *
 * Wrappers name their file with `new URL('./kernel.wgsl', import.meta.url)`: Vite turns that
 * into a served asset URL (dev server and build), which is fetched; under Node (tsx, Vitest) the
 * URL is `file:`, which is read from disk (Node's `fetch` does not read `file:` URLs).
 */
import { ShadersError } from './errors.ts';

/**
 * Reads the text of a WGSL file.
 *
 * @param url Absolute URL of the file (`file:` in Node, `http(s):` or `blob:` in a browser).
 * @returns The WGSL source text.
 * @throws ShadersError code `ShaderSource` (with `data.url`) when the file cannot be read.
 */
export async function loadWgsl(url: URL): Promise<string> {
  try {
    if (url.protocol === 'file:') {
      // A computed specifier keeps bundlers from trying to resolve a Node built-in for browsers.
      const fsModule = 'node:fs/promises';
      const { readFile } = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
      return await readFile(url, 'utf8');
    }
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    return await response.text();
  } catch (error) {
    throw new ShadersError('ShaderSource', `could not load WGSL from ${url.href}: ${(error as Error).message}`, {
      url: url.href,
    });
  }
}
