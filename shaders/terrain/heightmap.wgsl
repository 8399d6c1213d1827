// Terrain heightmap kernel: fBm of value noise in integer arithmetic, one invocation per vertex.
// The CPU twin is heightmap-cpu.ts; every step here has the same name and order there, and the
// results are bit-exact (only u32/i32 wrapping arithmetic and shifts, no floating point).
// Sources: PCG hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", JCGT 2020), quintic
// fade (Perlin 2002), fBm (Musgrave, "Texturing and Modeling: A Procedural Approach").

// Level of detail: invocation (i, j) is global vertex origin + (i, j) * 2^lod (origin already
// includes the chunk's border, see heightmap-cpu.ts).
// Uniform block, 96 bytes (written by heightmap.ts, writeParams):
//   offset  0  seed         u32   world seed
//   offset  4  origin_x     i32   global x of vertex (0, 0) = chunkX * size
//   offset  8  origin_z     i32   global z of vertex (0, 0) = chunkZ * size
//   offset 12  side         u32   vertices per side = size + 1
//   offset 16  octaves      u32   1..16
//   offset 20  cell_log2    u32   log2 of the coarsest lattice cell, in vertices (0..16)
//   offset 24  base_height  i32   1/1024 m
//   offset 28  lod          u32   vertex spacing is 2^lod global vertices (0..11)
//   offset 32  amps         array<vec4<i32>, 4>   octave o's amplitude at amps[o / 4][o % 4], 1/64 m
struct Params {
  seed: u32,
  origin_x: i32,
  origin_z: i32,
  side: u32,
  octaves: u32,
  cell_log2: u32,
  base_height: i32,
  lod: u32,
  amps: array<vec4<i32>, 4>,
}

@group(0) @binding(0) var<uniform> params: Params;
// heights[j * side + i] = height of vertex (x = i, z = j) in 1/1024 m; side * side * 4 bytes used.
@group(0) @binding(1) var<storage, read_write> heights: array<i32>;

fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Signed 16-bit lattice value (-32768..32767) of point (cx, cz).
fn lattice_value(salt: u32, cx: i32, cz: i32) -> i32 {
  let h = pcg_hash(bitcast<u32>(cx) + pcg_hash(bitcast<u32>(cz) + salt));
  return i32(h >> 16u) - 32768;
}

// Quintic fade of a Q16 fraction t (0..65535); result Q15 (0..32767).
fn fade_q15(t: u32) -> i32 {
  let t2 = (t * t) >> 16u;
  let t3 = (t2 * t) >> 16u;
  let inner = 655360u - 15u * t + 6u * t2; // wraps below zero and back: same value as in JS
  let f = (t3 * (inner >> 4u)) >> 12u;
  return i32(f >> 1u);
}

fn lerp_q15(a: i32, b: i32, f: i32) -> i32 {
  return a + (((b - a) * f) >> 15u);
}

fn height_at(gx: i32, gz: i32) -> i32 {
  var height = params.base_height;
  for (var o = 0u; o < params.octaves; o++) {
    let salt = pcg_hash(params.seed ^ pcg_hash(o));
    let x = gx + i32(salt & 0xffffu);
    let z = gz + i32(salt >> 16u);
    let shift = params.cell_log2 - o;
    let mask = (1 << shift) - 1;
    let cx = x >> shift;
    let cz = z >> shift;
    let fx = fade_q15(bitcast<u32>((x & mask) << (16u - shift)));
    let fz = fade_q15(bitcast<u32>((z & mask) << (16u - shift)));
    let v00 = lattice_value(salt, cx, cz);
    let v10 = lattice_value(salt, cx + 1, cz);
    let v01 = lattice_value(salt, cx, cz + 1);
    let v11 = lattice_value(salt, cx + 1, cz + 1);
    let noise = lerp_q15(lerp_q15(v00, v10, fx), lerp_q15(v01, v11, fx), fz);
    height = height + ((noise * params.amps[o / 4u][o % 4u]) >> 11u);
  }
  return height;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x >= params.side || id.y >= params.side) {
    return;
  }
  let gx = params.origin_x + (i32(id.x) << params.lod);
  let gz = params.origin_z + (i32(id.y) << params.lod);
  heights[id.y * params.side + id.x] = height_at(gx, gz);
}
