/**
 * A minimal libp2p `Metrics` implementation that counts raw bytes in and out of every
 * connection (encrypted bytes on the socket, relayed traffic included). Every other metric
 * libp2p registers is accepted and ignored.
 *
 * It wraps the connection's `onData` (bytes from the socket) and `sendData` (bytes to the
 * socket) methods, which @libp2p/utils' AbstractMultiaddrConnection calls for TCP and
 * WebSocket connections. A `message` listener would not do: it would consume data before the
 * upgrader subscribes.
 */
import type { Metrics, MultiaddrConnection } from '@libp2p/interface';

/** Byte totals since creation. */
export interface ByteTotals {
  readonly bytesIn: number;
  readonly bytesOut: number;
}

interface ByteLength {
  readonly byteLength: number;
}

interface Wrappable {
  onData?: (data: ByteLength) => void;
  sendData?: (data: ByteLength) => { sentBytes: number };
}

const noop = (): void => {};
const nullMetric = {
  update: noop, increment: noop, decrement: noop, reset: noop, observe: noop, timer: () => noop,
};

/** Creates the metrics factory for `createLibp2p({ metrics })` and a reader of its totals. */
export function byteCounter(): { metrics: () => Metrics; totals: () => ByteTotals } {
  let bytesIn = 0;
  let bytesOut = 0;
  const metrics: Metrics = {
    trackMultiaddrConnection(maConn: MultiaddrConnection): void {
      const conn = maConn as unknown as Wrappable;
      const onData = conn.onData;
      const sendData = conn.sendData;
      if (typeof onData === 'function') {
        conn.onData = (data) => {
          bytesIn += data.byteLength;
          onData.call(conn, data);
        };
      }
      if (typeof sendData === 'function') {
        conn.sendData = (data) => {
          const result = sendData.call(conn, data);
          bytesOut += result.sentBytes;
          return result;
        };
      }
    },
    trackProtocolStream: noop,
    registerMetric: (() => nullMetric) as unknown as Metrics['registerMetric'],
    registerMetricGroup: (() => nullMetric) as unknown as Metrics['registerMetricGroup'],
    registerCounter: (() => nullMetric) as unknown as Metrics['registerCounter'],
    registerCounterGroup: (() => nullMetric) as unknown as Metrics['registerCounterGroup'],
    registerHistogram: (() => nullMetric) as unknown as Metrics['registerHistogram'],
    registerHistogramGroup: (() => nullMetric) as unknown as Metrics['registerHistogramGroup'],
    registerSummary: (() => nullMetric) as unknown as Metrics['registerSummary'],
    registerSummaryGroup: (() => nullMetric) as unknown as Metrics['registerSummaryGroup'],
    traceFunction: ((_name: string, fn: unknown) => fn) as Metrics['traceFunction'],
    createTrace: () => undefined,
  };
  return { metrics: () => metrics, totals: () => ({ bytesIn, bytesOut }) };
}
