// Exclusive prefix sum (scan) of u32 values, saturating at 0xffffffff. The CPU twin is
// scan-cpu.ts (exclusiveScanCpu); results are bit-exact (integer arithmetic only).
// Algorithm: the classic three-phase blocked scan (Blelloch, "Prefix Sums and Their
// Applications", 1990; Harris, Sengupta, Owens, "Parallel Prefix Sum (Scan) with CUDA",
// GPU Gems 3 ch. 39): each workgroup scans a block of BLOCK values (every invocation scans
// PER_THREAD values sequentially, then a Hillis-Steele scan of the 256 per-invocation sums in
// workgroup memory), writes the block's total to `block_sums`; scan.ts scans `block_sums`
// recursively with the same entry point, then `add_block_sums` adds each block's offset.
// Saturating addition of non-negative values is associative, so the blocked order gives the
// same sums as the sequential loop of the twin.
//
// Convention: data[0..count) holds the input; data[k] becomes the sum of inputs 0..k-1 for every
// k <= count, so data[count] receives the total (it is written, never read). data therefore
// holds at least count + 1 values.

// Uniform block, 16 bytes (one per scan level, at a 256-byte stride; written by scan.ts):
//   offset  0  count  u32   input values at this level
//   offset  4  (padding, 12 bytes)
struct Params {
  count: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

const WORKGROUP: u32 = 256u;
const PER_THREAD: u32 = 4u;
const BLOCK: u32 = 1024u; // WORKGROUP * PER_THREAD
const SATURATED: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
// data[k]: u32 at byte 4k; count + 1 values used.
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
// block_sums[b]: total of block b (scan_blocks writes it, add_block_sums reads it once scanned);
// floor(count / BLOCK) + 1 values used.
@group(0) @binding(2) var<storage, read_write> block_sums: array<u32>;

var<workgroup> partial: array<u32, WORKGROUP>;

fn sat_add(a: u32, b: u32) -> u32 {
  let s = a + b;
  return select(s, SATURATED, s < a);
}

@compute @workgroup_size(WORKGROUP)
fn scan_blocks(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let base = group.x * BLOCK + local.x * PER_THREAD;
  var values: array<u32, PER_THREAD>;
  var sum = 0u;
  for (var k = 0u; k < PER_THREAD; k++) {
    let index = base + k;
    var value = 0u;
    if (index < params.count) {
      value = data[index];
    }
    values[k] = sum; // exclusive within this invocation
    sum = sat_add(sum, value);
  }
  partial[local.x] = sum;
  workgroupBarrier();
  // Hillis-Steele inclusive scan of the per-invocation sums (log2(256) = 8 steps).
  for (var offset = 1u; offset < WORKGROUP; offset <<= 1u) {
    var left = 0u;
    if (local.x >= offset) {
      left = partial[local.x - offset];
    }
    workgroupBarrier();
    partial[local.x] = sat_add(partial[local.x], left);
    workgroupBarrier();
  }
  var before = 0u;
  if (local.x > 0u) {
    before = partial[local.x - 1u];
  }
  for (var k = 0u; k < PER_THREAD; k++) {
    let index = base + k;
    if (index <= params.count) {
      data[index] = sat_add(before, values[k]);
    }
  }
  if (local.x == WORKGROUP - 1u) {
    block_sums[group.x] = partial[WORKGROUP - 1u];
  }
}

@compute @workgroup_size(WORKGROUP)
fn add_block_sums(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) local: vec3<u32>) {
  let offset = block_sums[group.x];
  let base = group.x * BLOCK + local.x * PER_THREAD;
  for (var k = 0u; k < PER_THREAD; k++) {
    let index = base + k;
    if (index <= params.count) {
      data[index] = sat_add(data[index], offset);
    }
  }
}
