/**
 * Demo discovery for the dev server, the build and the landing page.
 *
 * A demo is any folder `demos/<name>/` that holds an `index.html`. Nothing is registered by
 * hand: copy a demo folder to a new name and it is served at `/<name>/`, built by
 * `npm run build`, printed by `npm start` and listed on the landing page `/`.
 *
 * The landing page shows each demo's `<title>` and `<meta name="description" content="...">`,
 * so give a forked demo its own.
 *
 * @example
 * ```ts
 * import { discoverDemos } from './demos.ts';
 * for (const demo of discoverDemos('/path/to/repo/demos')) console.log(demo.name, demo.title);
 * ```
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Connect, Plugin } from 'vite';

/** The marker in `demos/index.html` that {@link demoListPlugin} replaces with the demo list. */
export const DEMO_LIST_MARKER = '<!--demo-list-->';

/** Folder names under `demos/` that are never demos even if they hold an `index.html`. */
const IGNORED_FOLDERS = new Set(['node_modules', 'public', 'dist']);

/** One demo found under the demos folder. */
export interface DemoInfo {
  /** Folder name, e.g. `"arena"`; the demo is served at `/<name>/`. */
  name: string;
  /** Human label derived from the folder name, e.g. `"Arena"` for `arena`, `"My fork"` for `my-fork`. */
  label: string;
  /** Text of the page's `<title>`, or {@link DemoInfo.label} when the page has none. */
  title: string;
  /** Text of `<meta name="description">`, or `""` when the page has none. */
  description: string;
  /** Absolute path of the demo's `index.html`. */
  htmlPath: string;
}

/**
 * Lists the demos under `demosDir`: every direct sub-folder holding an `index.html`, except
 * folders whose name starts with `.` or `_` and `node_modules`, `public`, `dist`.
 *
 * @param demosDir Absolute path of the `demos/` folder.
 * @returns Demos sorted by folder name; `[]` when the folder has none. Reads each page
 *   synchronously (a few KB each), so call it again to see folders added since.
 * @throws Error (from `fs`, code `ENOENT`) when `demosDir` does not exist.
 */
export function discoverDemos(demosDir: string): DemoInfo[] {
  const demos: DemoInfo[] = [];
  for (const entry of readdirSync(demosDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    if (IGNORED_FOLDERS.has(entry.name)) continue;
    const htmlPath = path.join(demosDir, entry.name, 'index.html');
    if (!existsSync(htmlPath)) continue;
    const html = readFileSync(htmlPath, 'utf8');
    const label = labelFromFolderName(entry.name);
    demos.push({
      name: entry.name,
      label,
      title: extractTitle(html) ?? label,
      description: extractDescription(html) ?? '',
      htmlPath,
    });
  }
  return demos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Build entries for Vite's multi-page build: the landing page under the key `main` plus one
 * entry per demo under its folder name.
 *
 * @param demosDir Absolute path of the `demos/` folder (the Vite root).
 * @returns A map `entry name -> absolute html path`, e.g. `{ main: ".../demos/index.html",
 *   arena: ".../demos/arena/index.html" }`.
 */
export function buildInputs(demosDir: string): Record<string, string> {
  const inputs: Record<string, string> = { main: path.join(demosDir, 'index.html') };
  for (const demo of discoverDemos(demosDir)) inputs[demo.name] = demo.htmlPath;
  return inputs;
}

/**
 * Renders the landing page's list items, one `<li>` per demo with a link to `./<name>/`, the
 * title and the description. Text is HTML-escaped.
 *
 * @param demos Demos as returned by {@link discoverDemos}.
 * @returns HTML for the inside of a `<ul>`; a single "no demos" item when `demos` is empty.
 */
export function renderDemoList(demos: readonly DemoInfo[]): string {
  if (demos.length === 0) return '<li class="empty">No demos found under demos/.</li>';
  return demos
    .map(
      (demo) =>
        `<li><a href="./${encodeURIComponent(demo.name)}/" data-demo="${escapeHtml(demo.name)}">` +
        `${escapeHtml(demo.title)}</a>` +
        (demo.description ? `<p>${escapeHtml(demo.description)}</p>` : '') +
        `<code>demos/${escapeHtml(demo.name)}/</code></li>`,
    )
    .join('\n        ');
}

/**
 * Vite plugin for the demos root:
 * - fills {@link DEMO_LIST_MARKER} in `<demosDir>/index.html` with {@link renderDemoList},
 *   re-reading the folder on each request so a demo copied in while the server runs shows up;
 * - in the dev and preview servers, redirects `/<demo>` to `/<demo>/` so the page's relative
 *   imports resolve, and answers `/favicon.ico` with 204 No Content when `demos/favicon.ico` does not exist (the
 *   browser asks for it on every page; a 404 there would show up as a console error in tests).
 *
 * @param demosDir Absolute path of the `demos/` folder (the Vite root).
 */
export function demoListPlugin(demosDir: string): Plugin {
  const landingPath = path.resolve(demosDir, 'index.html');
  return {
    name: 'peercompute:demo-list',
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        if (path.resolve(ctx.filename) !== landingPath) return html;
        return html.replace(DEMO_LIST_MARKER, renderDemoList(discoverDemos(demosDir)));
      },
    },
    configureServer(server) {
      server.middlewares.use(demoRoutes(demosDir));
    },
    configurePreviewServer(server) {
      server.middlewares.use(demoRoutes(demosDir));
    },
  };
}

/** Connect middleware: favicon fallback and `/<demo>` -> `/<demo>/` redirect (see {@link demoListPlugin}). */
function demoRoutes(demosDir: string): Connect.NextHandleFunction {
  return (req, res, next) => {
    const url = req.url ?? '';
    if (url === '/favicon.ico' && !existsSync(path.join(demosDir, 'favicon.ico'))) {
      res.statusCode = 204;
      res.end();
      return;
    }
    const match = /^\/([^/?#]+)(\?[^#]*)?$/.exec(url);
    const name = match?.[1] === undefined ? undefined : safeDecodeURIComponent(match[1]);
    if (name !== undefined && !/[./\\]/.test(name) && existsSync(path.join(demosDir, name, 'index.html'))) {
      res.statusCode = 301;
      res.setHeader('Location', `/${match?.[1] ?? ''}/${match?.[2] ?? ''}`);
      res.end();
      return;
    }
    next();
  };
}

function safeDecodeURIComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** `"arena"` -> `"Arena"`, `"my-fork_2"` -> `"My fork 2"`. */
function labelFromFolderName(name: string): string {
  const spaced = name.replace(/[-_]+/g, ' ').trim();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function extractTitle(html: string): string | undefined {
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  const text = match?.[1] === undefined ? '' : decodeHtml(match[1]).replace(/\s+/g, ' ').trim();
  return text === '' ? undefined : text;
}

function extractDescription(html: string): string | undefined {
  for (const tag of html.match(/<meta\b[^>]*>/gi) ?? []) {
    if (!/\bname\s*=\s*["']description["']/i.test(tag)) continue;
    const content = /\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')/i.exec(tag);
    const text = decodeHtml(content?.[1] ?? content?.[2] ?? '').replace(/\s+/g, ' ').trim();
    return text === '' ? undefined : text;
  }
  return undefined;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;|&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
