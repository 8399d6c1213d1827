/**
 * Vite config for the demos: `npm start` (dev server, via scripts/server.ts) and `npm run build`.
 *
 * - Root is `demos/`, so `demos/index.html` is served at `/` and `demos/arena/index.html` at
 *   `/arena/`. Demo code imports the rest of the repo by relative path
 *   (`../../engine/index.ts`); `server.fs.allow` lets the dev server read the whole repo.
 * - Multi-page: every `demos/<name>/index.html` is an entry, found by scanning the folder, so a
 *   copied demo folder is served, built and listed on the landing page without editing this file.
 * - The build goes to `dist/` at the repo root (`dist/index.html`, `dist/arena/index.html`, ...)
 *   with relative asset URLs; `npx vite preview` serves it at http://127.0.0.1:4173/.
 * - Babylon (`@babylonjs/core`, ES modules) and Rapier (`@dimforge/rapier3d-deterministic-compat`,
 *   WASM inlined as base64) need no special handling: Vite's dependency scan finds them from the
 *   entries and pre-bundles them into `node_modules/.vite` on the first start.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { buildInputs, demoListPlugin } from './scripts/demos.ts';

const repoRoot = path.dirname(fileURLToPath(import.meta.url));
const demosDir = path.join(repoRoot, 'demos');

export default defineConfig({
  root: demosDir,
  // Relative asset URLs, so `dist/` works from any sub-path of a static host.
  base: './',
  // Keep Vite's dependency cache where `npm ci` puts node_modules, not under demos/.
  cacheDir: path.join(repoRoot, 'node_modules', '.vite'),
  publicDir: false,
  // Unknown paths are 404s instead of silently serving the landing page.
  appType: 'mpa',
  plugins: [demoListPlugin(demosDir)],
  server: {
    host: '127.0.0.1',
    port: 5173,
    fs: { allow: [repoRoot] },
    // Transform each demo's entry and its imports at start, so the first page load is quick.
    warmup: { clientFiles: ['./*/main.ts'] },
  },
  preview: {
    host: '127.0.0.1',
    port: 4173,
  },
  build: {
    outDir: path.join(repoRoot, 'dist'),
    emptyOutDir: true,
    // Top-level await (Rapier's `await RAPIER.init()` in demo entries) needs ES2022.
    target: 'es2022',
    // Babylon alone is several MB minified; a demo is one page, not a site to split up.
    chunkSizeWarningLimit: 8192,
    rolldownOptions: {
      input: buildInputs(demosDir),
    },
  },
});
