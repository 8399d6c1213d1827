/**
 * A peer's life tied to its page (browser only; a no-op where there is no `addEventListener`):
 *
 * - `pagehide`: `beforeClose` runs, then the peer is closed, so the others see it leave at once
 *   (a goodbye) instead of after their timeout.
 * - `pageshow` from the back/forward cache (`event.persisted`): the peer was closed on
 *   `pagehide`, so the page reloads to start afresh.
 *
 * @example
 * ```ts
 * const peer = await createPeer({ relays });
 * closeWithPage(peer);
 * ```
 */

/**
 * Ties `peer` to the page (see the module docs).
 * @param beforeClose Runs on `pagehide` before the peer closes (e.g. flush local storage).
 * @returns A function that removes both listeners.
 */
export function closeWithPage(peer: { close(): Promise<void> }, beforeClose?: () => void): () => void {
  const target = globalThis as { addEventListener?: typeof addEventListener; removeEventListener?: typeof removeEventListener; location?: Location };
  if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return () => {};
  const onHide = (): void => {
    beforeClose?.();
    void peer.close();
  };
  const onShow = (event: PageTransitionEvent): void => {
    if (event.persisted) target.location?.reload();
  };
  target.addEventListener('pagehide', onHide);
  target.addEventListener('pageshow', onShow);
  return () => {
    target.removeEventListener!('pagehide', onHide);
    target.removeEventListener!('pageshow', onShow);
  };
}
