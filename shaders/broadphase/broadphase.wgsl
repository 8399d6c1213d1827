// Physics broadphase: which axis-aligned boxes overlap, by a uniform grid built with a counting
// sort (Le Grand, "Broad-Phase Collision Detection with CUDA", GPU Gems 3 ch. 32) and the spatial
// hash of Teschner et al., "Optimized Spatial Hashing for Collision Detection of Deformable
// Objects" (VMV 2003). The CPU twin is broadphase-cpu.ts; the pair lists are identical (the
// overlap test compares the input floats exactly, through order-preserving integer keys).
//
// Passes (broadphase.ts encodes them in this order; N = params.count, T = params.table_mask + 1):
//   assign        per box: cell of its centre, bucket = hash(cell), slot = atomicAdd(bucket count)
//   (scan.wgsl)   buckets[0..T) -> exclusive starts, buckets[T] = N
//   scatter       per box: sorted[start(bucket) + slot] = (box, cell)
//   count_pairs   per box i: partners j > i in the 27 cells around i's cell -> offsets[i]
//   (scan.wgsl)   offsets[0..N) -> exclusive offsets, offsets[N] = total pairs (saturating)
//   write_pairs   per box i: its partners, the smallest min(n_i, max_pairs - offset) of them,
//                 sorted, at pairs[offset..]; so the output is sorted by (i, j) globally
//   finish        1 invocation: result = (total, written, ...)

// Uniform block, 32 bytes (written by broadphase.ts, writeBroadphaseParams):
//   offset  0  count       u32  boxes N
//   offset  4  table_mask  u32  hash buckets T - 1 (T a power of two)
//   offset  8  max_pairs   u32  capacity of `pairs`, in pairs
//   offset 12  inv_cell    f32  1 / cell edge, rounded down to f32
//   offset 16  cell_size   f32  cell edge (only for the oversize diagnostic)
//   offset 20  (padding, 12 bytes)
struct Params {
  count: u32,
  table_mask: u32,
  max_pairs: u32,
  inv_cell: f32,
  cell_size: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

const WORKGROUP: u32 = 256u;
// Cell coordinates are clamped to +-2^30 (neighbour arithmetic stays within i32).
const CELL_LIMIT: f32 = 1073741824.0;

@group(0) @binding(0) var<uniform> params: Params;
// aabbs[6k .. 6k + 6): box k's minX, minY, minZ, maxX, maxY, maxZ as f32 bit patterns
// (byte 24k + 4a); read as u32 so that comparisons are exact integer ones.
@group(0) @binding(1) var<storage, read> aabbs: array<u32>;
// box_cell[k] (16 bytes at 16k): box k's cell x, y, z (i32) and its slot within its bucket (u32 bits).
@group(0) @binding(2) var<storage, read_write> box_cell: array<vec4<i32>>;
// buckets[h] (4 bytes at 4h), T + 1 used: counts after assign, starts after the scan; buckets[T] = N.
@group(0) @binding(3) var<storage, read_write> buckets: array<atomic<u32>>;
// sorted[s] (16 bytes at 16s), N used: (box index, cell x, cell y, cell z), bucket by bucket.
@group(0) @binding(4) var<storage, read_write> sorted: array<vec4<i32>>;
// offsets[k] (4 bytes at 4k), N + 1 used: box k's pair count after count_pairs, its first pair
// after the scan; offsets[N] = total pairs, saturated at 2^32 - 1.
@group(0) @binding(5) var<storage, read_write> offsets: array<u32>;
// pairs[2p], pairs[2p + 1] (8 bytes at 8p): pair p = (i, j), i < j, p < max_pairs.
@group(0) @binding(6) var<storage, read_write> pairs: array<u32>;
// result, 16 bytes: [0] total pairs found (saturating), [1] pairs written = min(total, max_pairs),
// [2] boxes with an extent > cell_size on some axis (their pairs may be missing), [3] N.
@group(0) @binding(7) var<storage, read_write> result: array<atomic<u32>, 4>;

fn box_min(k: u32) -> vec3<f32> {
  let b = 6u * k;
  return vec3<f32>(bitcast<f32>(aabbs[b]), bitcast<f32>(aabbs[b + 1u]), bitcast<f32>(aabbs[b + 2u]));
}

fn box_max(k: u32) -> vec3<f32> {
  let b = 6u * k;
  return vec3<f32>(bitcast<f32>(aabbs[b + 3u]), bitcast<f32>(aabbs[b + 4u]), bitcast<f32>(aabbs[b + 5u]));
}

// Maps an f32 bit pattern to a u32 with the same order as the float values (negatives reversed
// and below positives; -0 and +0 both to 0x80000000). Exact, and free of the subnormal flushing
// that float comparisons may suffer on a GPU.
fn order_key(bits: u32) -> u32 {
  if (bits == 0x80000000u) {
    return 0x80000000u;
  }
  if ((bits & 0x80000000u) != 0u) {
    return ~bits;
  }
  return bits | 0x80000000u;
}

fn keys(k: u32, first: u32) -> vec3<u32> {
  let b = 6u * k + first;
  return vec3<u32>(order_key(aabbs[b]), order_key(aabbs[b + 1u]), order_key(aabbs[b + 2u]));
}

// Cell holding the box's centre: floor((lo * 0.5 + hi * 0.5) * inv_cell) per axis (no overflow
// for any finite floats; rounding is covered by the cell size margin, see minCellSize).
fn cell_of(k: u32) -> vec3<i32> {
  let centre = box_min(k) * 0.5 + box_max(k) * 0.5;
  let q = clamp(floor(centre * params.inv_cell), vec3<f32>(-CELL_LIMIT), vec3<f32>(CELL_LIMIT));
  return vec3<i32>(q);
}

// Bucket of a cell: Teschner et al.'s primes and XOR hash the (y, z) row; x is added so that
// x-neighbouring cells are neighbouring buckets (cache-friendly 27-cell visits). As cellHash in
// broadphase-cpu.ts.
fn cell_hash(cell: vec3<i32>) -> u32 {
  let u = bitcast<vec3<u32>>(cell);
  return (u.x + ((u.y * 19349663u) ^ (u.z * 83492791u))) & params.table_mask;
}

@compute @workgroup_size(WORKGROUP)
fn assign(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= params.count) {
    return;
  }
  let cell = cell_of(i);
  let slot = atomicAdd(&buckets[cell_hash(cell)], 1u);
  box_cell[i] = vec4<i32>(cell, bitcast<i32>(slot));
  if (any(box_max(i) - box_min(i) > vec3<f32>(params.cell_size))) {
    atomicAdd(&result[2], 1u);
  }
}

@compute @workgroup_size(WORKGROUP)
fn scatter(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= params.count) {
    return;
  }
  let entry = box_cell[i];
  let at = atomicLoad(&buckets[cell_hash(entry.xyz)]) + bitcast<u32>(entry.w);
  sorted[at] = vec4<i32>(bitcast<i32>(i), entry.xyz);
}

// Box i's partners are kept in a max-heap of at most `heap_cap` values in the j slots of
// pairs[heap_base ..]: the smallest heap_cap partners survive. Then heap sort makes them ascending.
fn heap_get(base: u32, t: u32) -> u32 {
  return pairs[2u * (base + t) + 1u];
}

fn heap_set(base: u32, t: u32, value: u32) {
  pairs[2u * (base + t) + 1u] = value;
}

fn sift_down(base: u32, start: u32, size: u32) {
  var parent = start;
  let value = heap_get(base, parent);
  loop {
    let left = 2u * parent + 1u;
    if (left >= size) {
      break;
    }
    var child = left;
    var child_value = heap_get(base, left);
    if (left + 1u < size) {
      let right_value = heap_get(base, left + 1u);
      if (right_value > child_value) {
        child = left + 1u;
        child_value = right_value;
      }
    }
    if (child_value <= value) {
      break;
    }
    heap_set(base, parent, child_value);
    parent = child;
  }
  heap_set(base, parent, value);
}

// Visits the boxes j > i stored in the 27 cells around box i's cell and tests them against box i.
// collect = false: returns how many overlap. collect = true: keeps the heap_cap smallest of them
// in the heap at heap_base and returns the heap size.
fn visit(i: u32, collect: bool, heap_base: u32, heap_cap: u32) -> u32 {
  let cell = box_cell[i].xyz;
  let lo = keys(i, 0u);
  let hi = keys(i, 3u);
  var found = 0u;
  for (var dz = -1; dz <= 1; dz++) {
    for (var dy = -1; dy <= 1; dy++) {
      for (var dx = -1; dx <= 1; dx++) {
        let near = cell + vec3<i32>(dx, dy, dz);
        let h = cell_hash(near);
        let end = atomicLoad(&buckets[h + 1u]);
        for (var s = atomicLoad(&buckets[h]); s < end; s++) {
          let entry = sorted[s];
          let j = bitcast<u32>(entry.x);
          if (j <= i || any(entry.yzw != near)) {
            continue;
          }
          if (!all(keys(j, 0u) <= hi) || !all(lo <= keys(j, 3u))) {
            continue;
          }
          if (!collect) {
            found++;
          } else if (found < heap_cap) {
            // Push j: sift up from the end.
            var t = found;
            found++;
            loop {
              if (t == 0u) {
                break;
              }
              let up = (t - 1u) / 2u;
              let up_value = heap_get(heap_base, up);
              if (up_value >= j) {
                break;
              }
              heap_set(heap_base, t, up_value);
              t = up;
            }
            heap_set(heap_base, t, j);
          } else if (j < heap_get(heap_base, 0u)) {
            // Full: j replaces the largest kept partner.
            heap_set(heap_base, 0u, j);
            sift_down(heap_base, 0u, heap_cap);
          }
        }
      }
    }
  }
  return found;
}

@compute @workgroup_size(WORKGROUP)
fn count_pairs(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= params.count) {
    return;
  }
  offsets[i] = visit(i, false, 0u, 0u);
}

@compute @workgroup_size(WORKGROUP)
fn write_pairs(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= params.count) {
    return;
  }
  let base = offsets[i];
  if (base >= params.max_pairs) {
    return;
  }
  // offsets[i + 1] may be saturated (then >= the true end): cap is still exact, see broadphase.ts.
  let cap = min(offsets[i + 1u] - base, params.max_pairs - base);
  if (cap == 0u) {
    return;
  }
  let size = visit(i, true, base, cap);
  if (size == 0u) {
    return;
  }
  // Heap sort: ascending j.
  for (var end = size - 1u; end > 0u; end--) {
    let top = heap_get(base, 0u);
    heap_set(base, 0u, heap_get(base, end));
    heap_set(base, end, top);
    sift_down(base, 0u, end);
  }
  for (var t = 0u; t < size; t++) {
    pairs[2u * (base + t)] = i;
  }
}

@compute @workgroup_size(1)
fn finish() {
  let total = offsets[params.count];
  atomicStore(&result[0], total);
  atomicStore(&result[1], min(total, params.max_pairs));
  atomicStore(&result[3], params.count);
}
