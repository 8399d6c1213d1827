// Swarm physics: the GPU twin of swarm-cpu.ts (read its header for the algorithm and units).
// Integer arithmetic only, except the AABB pass, whose f32 values are exact (see there).
//
// Three entry points, dispatched in this order every step (the broadphase runs between the
// first two, in the same command encoder):
//   aabbs       one invocation per body: positions -> AABBs in metres (f32)
//   narrowphase one invocation per pair: contact impulses added to dv with i32 atomics
//   integrate   one invocation per body: dv, gravity, drag, walls, fountain -> velocities, positions
//
// Buffers (group 0), all arrays flattened with 3 (or 6) entries per body:
//   binding 0  params      uniform, 64 bytes, see Params (offsets in swarm.ts writeSwarmParams)
//   binding 1  positions   array<i32>, 3 per body, Q16 m
//   binding 2  velocities  array<i32>, 3 per body, Q16 m per tick
//   binding 3  dv          array<atomic<i32>>, 3 per body, cleared to 0 before each step
//   binding 4  aabbs       array<f32>, 6 per body: min x y z, max x y z (metres)
//   binding 5  pairs       array<u32>, 2 per pair (i < j), from the broadphase
//   binding 6  pair_count  array<u32>, [0] = pairs found (may exceed max_pairs)

struct Params {
  count: u32,            // byte 0
  radius: i32,           // 4   Q16 m
  min_x: i32,            // 8   box of the sphere centres, Q16 m
  max_x: i32,            // 12
  min_y: i32,            // 16
  max_y: i32,            // 20
  min_z: i32,            // 24
  max_z: i32,            // 28
  gravity: i32,          // 32  Q16 m per tick^2
  stiffness: i32,        // 36  1/256
  damping: i32,          // 40  1/256
  restitution: i32,      // 44  1/256
  fountain_speed: i32,   // 48  Q16 m per tick
  fountain_radius2: i32, // 52  (1/16 m)^2
  max_pairs: u32,        // 56
  _pad: u32,             // 60
}

const MAX_SPEED: i32 = 32767;
const MAX_IMPULSE: i32 = 131072;
// 2^-16: multiplying by a power of two is exact in f32 (division is not correctly rounded in WGSL).
const INV_UNITS: f32 = 0.0000152587890625;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> positions: array<i32>;
@group(0) @binding(2) var<storage, read_write> velocities: array<i32>;
@group(0) @binding(3) var<storage, read_write> dv: array<atomic<i32>>;
@group(0) @binding(4) var<storage, read_write> aabbs: array<f32>;
@group(0) @binding(5) var<storage, read> pairs: array<u32>;
@group(0) @binding(6) var<storage, read> pair_count: array<u32>;

// |p -/+ r| < 2^24 (the bounds guarantee it), so f32(i32) is exact, and so is the scaling.
@compute @workgroup_size(256)
fn aabbs_main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= params.count) { return; }
  for (var a = 0u; a < 3u; a++) {
    let c = positions[3u * k + a];
    aabbs[6u * k + a] = f32(c - params.radius) * INV_UNITS;
    aabbs[6u * k + 3u + a] = f32(c + params.radius) * INV_UNITS;
  }
}

// Floor of sqrt(value) for 0 <= value < 2^31, digit by digit: the same loop as isqrt() in TS.
fn isqrt(value: i32) -> i32 {
  var x = value;
  var result = 0;
  var bit = 1 << 30u;
  while (bit > x) { bit = bit >> 2u; }
  while (bit != 0) {
    if (x >= result + bit) {
      x = x - (result + bit);
      result = (result >> 1u) + bit;
    } else {
      result = result >> 1u;
    }
    bit = bit >> 2u;
  }
  return result;
}

@compute @workgroup_size(256)
fn narrowphase_main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  if (q >= min(pair_count[0], params.max_pairs)) { return; }
  let i = pairs[2u * q];
  let j = pairs[2u * q + 1u];
  let dx = (positions[3u * j] - positions[3u * i]) >> 4u;
  let dy = (positions[3u * j + 1u] - positions[3u * i + 1u]) >> 4u;
  let dz = (positions[3u * j + 2u] - positions[3u * i + 2u]) >> 4u;
  let reach = (2 * params.radius) >> 4u;
  let d2 = dx * dx + dy * dy + dz * dz;
  if (d2 >= reach * reach) { return; }
  let dist = isqrt(d2);
  var n = vec3<i32>(0, 4096, 0);
  if (dist > 0) {
    // i32 division truncates toward zero, like Math.trunc in the twin.
    n = vec3<i32>((dx * 4096) / dist, (dy * 4096) / dist, (dz * 4096) / dist);
  }
  let pen = (reach - dist) << 4u;
  let rv = vec3<i32>(
    velocities[3u * j] - velocities[3u * i],
    velocities[3u * j + 1u] - velocities[3u * i + 1u],
    velocities[3u * j + 2u] - velocities[3u * i + 2u],
  );
  let v_rel = (rv.x * n.x + rv.y * n.y + rv.z * n.z) >> 12u;
  var impulse = (params.stiffness * pen - params.damping * v_rel) >> 8u;
  if (impulse <= 0) { return; }
  impulse = min(impulse, MAX_IMPULSE);
  let jv = vec3<i32>((impulse * n.x) >> 12u, (impulse * n.y) >> 12u, (impulse * n.z) >> 12u);
  atomicSub(&dv[3u * i], jv.x);
  atomicSub(&dv[3u * i + 1u], jv.y);
  atomicSub(&dv[3u * i + 2u], jv.z);
  atomicAdd(&dv[3u * j], jv.x);
  atomicAdd(&dv[3u * j + 1u], jv.y);
  atomicAdd(&dv[3u * j + 2u], jv.z);
}

fn drag_clamp(v: i32) -> i32 {
  return clamp(v - (v >> 9u), -MAX_SPEED, MAX_SPEED);
}

@compute @workgroup_size(256)
fn integrate_main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let k = gid.x;
  if (k >= params.count) { return; }
  let b = 3u * k;
  var vx = drag_clamp(velocities[b] + atomicLoad(&dv[b]));
  var vy = drag_clamp(velocities[b + 1u] + atomicLoad(&dv[b + 1u]) - params.gravity);
  var vz = drag_clamp(velocities[b + 2u] + atomicLoad(&dv[b + 2u]));
  var px = positions[b] + vx;
  var py = positions[b + 1u] + vy;
  var pz = positions[b + 2u] + vz;
  let e = params.restitution;
  if (px < params.min_x) { px = params.min_x; if (vx < 0) { vx = (-vx * e) >> 8u; } }
  if (px > params.max_x) { px = params.max_x; if (vx > 0) { vx = -((vx * e) >> 8u); } }
  if (pz < params.min_z) { pz = params.min_z; if (vz < 0) { vz = (-vz * e) >> 8u; } }
  if (pz > params.max_z) { pz = params.max_z; if (vz > 0) { vz = -((vz * e) >> 8u); } }
  if (py > params.max_y) { py = params.max_y; if (vy > 0) { vy = -((vy * e) >> 8u); } }
  if (py <= params.min_y) {
    py = params.min_y;
    if (vy < 0) {
      let up = (-vy * e) >> 8u;
      vy = select(0, up, up > 2 * params.gravity);
    }
    vx = vx - (vx >> 5u);
    vz = vz - (vz >> 5u);
    let fx = px >> 12u;
    let fz = pz >> 12u;
    if (params.fountain_speed > 0 && fx * fx + fz * fz < params.fountain_radius2) { vy = params.fountain_speed; }
  }
  positions[b] = px;
  positions[b + 1u] = py;
  positions[b + 2u] = pz;
  velocities[b] = vx;
  velocities[b + 1u] = vy;
  velocities[b + 2u] = vz;
}
