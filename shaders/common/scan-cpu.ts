/**
 * Exclusive prefix sum (scan) of u32 values: the CPU twin of `scan.wgsl`.
 *
 * Convention shared with the GPU kernel: `count` input values in `data[0..count)` are replaced by
 * their exclusive prefix sums and `data[count]` receives the total, so `data` holds at least
 * `count + 1` u32 values; the entry at `count` is written, never read. Sums SATURATE at
 * `0xffffffff` instead of wrapping (saturating addition of non-negative values is associative,
 * so the blocked GPU scan and this sequential loop agree bit for bit): a total of `0xffffffff`
 * means "at least 2^32 - 1". Below that, results are exact.
 *
 * @example
 * ```ts
 * const data = new Uint32Array([3, 1, 4, 0]); // 3 values and the slot for the total
 * exclusiveScanCpu(data, 3); // returns 8; data is now [0, 3, 4, 8]
 * ```
 */
import { ShadersError } from '../errors.ts';

/** The value saturated sums stop at (u32 max). */
export const SCAN_SATURATED = 0xffffffff;

/**
 * Scans `data[0..count)` in place into exclusive prefix sums and writes the total at `data[count]`.
 *
 * @param data u32 values; length at least `count + 1`.
 * @param count Number of input values, an integer; default `data.length - 1`.
 * @returns The total (saturated at {@link SCAN_SATURATED}), also stored at `data[count]`.
 * @throws ShadersError code `InvalidOption` when `count` is not an integer in `0..data.length - 1`.
 */
export function exclusiveScanCpu(data: Uint32Array, count: number = data.length - 1): number {
  if (!Number.isInteger(count) || count < 0 || count > data.length - 1) {
    throw new ShadersError('InvalidOption', `scan count = ${String(count)}: expected an integer 0..${data.length - 1} (data holds count + 1 values)`, {
      option: 'count',
      value: count,
    });
  }
  let sum = 0;
  for (let k = 0; k < count; k++) {
    const value = data[k];
    data[k] = sum;
    sum += value;
    if (sum > SCAN_SATURATED) sum = SCAN_SATURATED;
  }
  data[count] = sum;
  return sum;
}
