/**
 * Process plumbing shared by the command-line entries (`npm run relay`, `npm start`): graceful
 * shutdown on SIGINT/SIGTERM and "was this file run directly". Node only.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /** Prefix of error messages, e.g. `'relay'`, `'npm start'`. */
  readonly label: string;
  /** Releases everything; the process exits 0 when it resolves, 1 when it rejects. */
  readonly close: () => Promise<void>;
  /** What the first signal prints, after "Received SIGxxx; ". Default `'stopping...'`. */
  readonly stoppingMessage?: string;
  /** Runs once on the first signal, before `close` (stop timers, print final figures). */
  readonly beforeClose?: () => void;
}

/**
 * On the first SIGINT or SIGTERM: prints what it is doing, runs `beforeClose`, awaits `close`,
 * prints "Stopped." and exits 0 (1 when `close` fails). A second signal exits at once with 130.
 */
export function closeOnSignals(options: CloseOnSignalsOptions): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      console.log(`\nReceived ${signal} again; exiting without waiting.`);
      process.exit(130);
    }
    stopping = true;
    console.log(`\nReceived ${signal}; ${options.stoppingMessage ?? 'stopping...'}`);
    options.beforeClose?.();
    options.close().then(
      () => {
        console.log('Stopped.');
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`${options.label}: error while stopping:`, error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** Whether the module at `importMetaUrl` is the script Node was started with (not imported). */
export function isMainModule(importMetaUrl: string): boolean {
  const invokedAs = process.argv[1] === undefined ? '' : path.resolve(process.argv[1]);
  return invokedAs === fileURLToPath(importMetaUrl);
}
