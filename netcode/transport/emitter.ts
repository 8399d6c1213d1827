/**
 * A tiny typed event emitter for transports: `on` returns the unsubscribe function, handlers run
 * synchronously in subscription order, and one throwing handler does not stop the others (the
 * first error is rethrown after all have run).
 */
export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Set<(e: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (e: Events[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (set === undefined) this.handlers.set(event, (set = new Set()));
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const h = (e: Events[K]) => handler(e);
    set.add(h as (e: never) => void);
    return () => void set.delete(h as (e: never) => void);
  }

  emit<K extends keyof Events>(event: K, e: Events[K]): void {
    const set = this.handlers.get(event);
    if (set === undefined || set.size === 0) return;
    let failed = false;
    let error: unknown;
    for (const h of [...set]) {
      try {
        (h as (e: Events[K]) => void)(e);
      } catch (err) {
        if (!failed) error = err;
        failed = true;
      }
    }
    if (failed) throw error;
  }

  clear(): void {
    this.handlers.clear();
  }
}
