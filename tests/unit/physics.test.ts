/**
 * Rapier physics as the Physics phase: body creation for every kind and shape, write-back,
 * impulses, kinematic bodies, removal, collision events, ray casts, errors, and determinism of
 * snapshot/restore (same world, rollback loop, and a second independently built world).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  addComponent, addBody, applyImpulse, BodyKind, castRay, checksum, Collider, collisionEvents, createPhysics, createWorld,
  despawn, diffSnapshots, EngineError, getHeightfield, getPhysics, hasComponent, Impulse, initPhysics, isAlive,
  isPhysicsReady, NO_HANDLE, Phase, PHYSICS_EXTENSION, registerHeightfield, registerTrimesh, removeComponent, restore,
  RigidBody, Scheduler, ShapeKind, snapshot, spawn, storeOf, Transform, Velocity, findPhysics,
  type GameWorld, type PhysicsContext, type WorldSnapshot,
} from '../../engine/index.ts';

const G = 9.81;
const DT = 1 / 60;

interface Setup {
  world: GameWorld;
  scheduler: Scheduler;
  physics: PhysicsContext;
}

function setup(seed = 1): Setup {
  const world = createWorld({ seed });
  const scheduler = new Scheduler(world);
  const physics = createPhysics(world, scheduler);
  return { world, scheduler, physics };
}

function steps(scheduler: Scheduler, n: number): void {
  for (let i = 0; i < n; i++) scheduler.step();
}

function expectEngineError(fn: () => unknown, code: string, message?: RegExp): EngineError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe(code);
    if (message) expect((error as EngineError).message).toMatch(message);
    return error as EngineError;
  }
  throw new Error('expected an EngineError');
}

/** A fixed floor: top surface at y = 0. */
function floor(world: GameWorld, halfSize = 20): number {
  const e = spawn(world);
  addBody(world, e, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: halfSize, hy: 0.5, hz: halfSize, position: { x: 0, y: -0.5, z: 0 } });
  return e;
}

describe('before initPhysics', () => {
  it('createPhysics says how to initialize', () => {
    expect(isPhysicsReady()).toBe(false);
    expectEngineError(() => createPhysics(createWorld()), 'Physics', /await initPhysics\(\)/);
  });
});

describe('physics', () => {
  beforeAll(async () => {
    const a = initPhysics();
    const b = initPhysics();
    await Promise.all([a, b]);
    expect(isPhysicsReady()).toBe(true);
  });

  describe('setup and disposal', () => {
    it('createPhysics is idempotent and registers system, extension and resource', () => {
      const { world, scheduler, physics } = setup();
      expect(createPhysics(world, scheduler)).toBe(physics);
      expect(createPhysics(world)).toBe(physics);
      expect(scheduler.systemsOf(Phase.Physics)).toEqual(['physicsSystem']);
      expect(world.snapshotExtensions.has(PHYSICS_EXTENSION)).toBe(true);
      expect(getPhysics(world)).toBe(physics);
      expect(physics.options.timestep).toBe(DT);
      expect(physics.rapierWorld.timestep).toBe(Math.fround(DT));
      expect(physics.rapierWorld.gravity.y).toBeCloseTo(-G, 5);
      expectEngineError(() => createPhysics(world, new Scheduler(world)), 'InvalidConfig', /another scheduler/);
    });

    it('attaches to a scheduler given on a later call', () => {
      const world = createWorld();
      const physics = createPhysics(world);
      const scheduler = new Scheduler(world);
      expect(createPhysics(world, scheduler)).toBe(physics);
      expect(scheduler.systemsOf(Phase.Physics)).toEqual(['physicsSystem']);
    });

    it('validates options', () => {
      expectEngineError(() => createPhysics(createWorld(), undefined, { gravity: { x: 0, y: Number.NaN, z: 0 } }), 'InvalidConfig', /gravity\.y/);
      expectEngineError(() => createPhysics(createWorld(), undefined, { solverIterations: 0 }), 'InvalidConfig', /solverIterations/);
      expectEngineError(() => createPhysics(createWorld(), undefined, { lengthUnit: -1 }), 'InvalidConfig', /lengthUnit/);
      const physics = createPhysics(createWorld(), undefined, { gravity: { x: 0, y: -1.62, z: 0 }, solverIterations: 8 });
      expect(physics.rapierWorld.numSolverIterations).toBe(8);
      expect(physics.rapierWorld.gravity.y).toBeCloseTo(-1.62, 5);
    });

    it('dispose undoes everything; a new createPhysics rebuilds bodies of existing entities', () => {
      const { world, scheduler, physics } = setup();
      floor(world);
      const ball = spawn(world);
      addBody(world, ball, { shape: ShapeKind.Ball, position: { x: 0, y: 2, z: 0 } });
      steps(scheduler, 1);
      expect(physics.bodyCount).toBe(2);
      physics.dispose();
      physics.dispose();
      expect(physics.disposed).toBe(true);
      expect(findPhysics(world)).toBeUndefined();
      expect(world.snapshotExtensions.has(PHYSICS_EXTENSION)).toBe(false);
      expect(scheduler.systemsOf(Phase.Physics)).toEqual([]);
      const y = storeOf(world, Transform).py[ball]!;
      steps(scheduler, 5);
      expect(storeOf(world, Transform).py[ball]).toBe(y); // nothing simulates any more

      const again = createPhysics(world, scheduler);
      expect(again).not.toBe(physics);
      expect(storeOf(world, RigidBody).handle[ball]).toBe(NO_HANDLE);
      steps(scheduler, 1);
      expect(again.bodyCount).toBe(2);
      expect(storeOf(world, Transform).py[ball]).toBeLessThan(y);
    });
  });

  describe('bodies', () => {
    it('creates a body for every kind and every shape', () => {
      const { world, scheduler, physics } = setup();
      const R = physics.rapierWorld;
      const heights = new Float32Array(9);
      registerHeightfield(world, 1, { nrows: 2, ncols: 2, heights, scale: { x: 4, y: 1, z: 4 } });
      registerTrimesh(world, 1, { vertices: new Float32Array([0, 0, 0, 1, 0, 0, 0, 0, -1, 1, 0, -1]), indices: new Uint32Array([0, 1, 2, 1, 3, 2]) });
      const kinds = [BodyKind.Dynamic, BodyKind.KinematicPosition, BodyKind.KinematicVelocity, BodyKind.Fixed];
      const shapes = [ShapeKind.Ball, ShapeKind.Cuboid, ShapeKind.Capsule, ShapeKind.Heightfield, ShapeKind.Trimesh];
      const made: { eid: number; kind: number; shape: number }[] = [];
      kinds.forEach((kind, k) => shapes.forEach((shape, s) => {
        const eid = spawn(world);
        // Far apart, without gravity: nothing touches anything.
        addBody(world, eid, { kind, shape, shapeRef: 1, gravityScale: 0, position: { x: k * 20, y: 0, z: s * 20 } });
        made.push({ eid, kind, shape });
      }));
      expect(physics.bodyCount).toBe(0);
      steps(scheduler, 1);
      expect(physics.bodyCount).toBe(20);
      expect(R.bodies.len()).toBe(20);
      expect(R.colliders.len()).toBe(20);
      const rapierType = { [BodyKind.Dynamic]: 0, [BodyKind.Fixed]: 1, [BodyKind.KinematicPosition]: 2, [BodyKind.KinematicVelocity]: 3 };
      // Rapier ShapeType: Ball 0, Cuboid 1, Capsule 2, TriMesh 6, HeightField 7.
      const rapierShape = { [ShapeKind.Ball]: 0, [ShapeKind.Cuboid]: 1, [ShapeKind.Capsule]: 2, [ShapeKind.Trimesh]: 6, [ShapeKind.Heightfield]: 7 };
      const rb = storeOf(world, RigidBody);
      const co = storeOf(world, Collider);
      const tr = storeOf(world, Transform);
      for (const m of made) {
        expect(rb.handle[m.eid]).not.toBe(NO_HANDLE);
        const body = R.getRigidBody(rb.handle[m.eid]!);
        const collider = R.getCollider(co.handle[m.eid]!);
        expect(body.handle).toBe(rb.handle[m.eid]);
        expect(body.bodyType()).toBe(rapierType[m.kind as keyof typeof rapierType]);
        expect(collider.shape.type).toBe(rapierShape[m.shape as keyof typeof rapierShape]);
        expect(collider.parent()?.handle).toBe(body.handle);
        expect(body.translation().x).toBe(tr.px[m.eid]);
      }
      const ball = made.find((m) => m.kind === BodyKind.Dynamic && m.shape === ShapeKind.Ball)!;
      expect(R.getRigidBody(rb.handle[ball.eid]!).mass()).toBeCloseTo((4 / 3) * Math.PI * 0.125, 5); // density 1, r 0.5
      const capsule = made.find((m) => m.shape === ShapeKind.Capsule)!;
      expect(R.getCollider(co.handle[capsule.eid]!).halfHeight()).toBeCloseTo(0.5, 6);
    });

    it('drops a ball onto a fixed floor: free fall, then rest at floor + radius', () => {
      const { world, scheduler } = setup();
      floor(world);
      const ball = spawn(world);
      addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.5, position: { x: 0, y: 3, z: 0 } });
      const tr = storeOf(world, Transform);
      const ve = storeOf(world, Velocity);
      steps(scheduler, 10);
      // Rapier 0.21 integrates in S = numSolverIterations = 4 substeps of dt / S, so after n
      // steps v_n = -g dt n and y_n = y0 - g dt^2 (n (n - 1) / 2 + n (S + 1) / (2 S)).
      expect(ve.ly[ball]).toBeCloseTo(-G * DT * 10, 4);
      expect(tr.py[ball]).toBeCloseTo(3 - G * DT * DT * (45 + (10 * 5) / 8), 4);
      steps(scheduler, 110);
      expect(tr.py[ball]).toBeGreaterThan(0.49);
      expect(tr.py[ball]).toBeLessThan(0.51);
      expect(Math.abs(ve.ly[ball]!)).toBeLessThan(1e-3);
      expect(tr.px[ball]).toBe(0);
    });

    it('writes rotation and angular velocity back', () => {
      const { world, scheduler } = setup();
      const e = spawn(world);
      addBody(world, e, { shape: ShapeKind.Cuboid, gravityScale: 0, angularVelocity: { x: 0, y: Math.PI, z: 0 } });
      steps(scheduler, 30); // half a second at pi rad/s: a quarter turn about Y
      const tr = storeOf(world, Transform);
      expect(tr.qy[e]).toBeCloseTo(Math.sin(Math.PI / 4), 3);
      expect(tr.qw[e]).toBeCloseTo(Math.cos(Math.PI / 4), 3);
      expect(storeOf(world, Velocity).ay[e]).toBeCloseTo(Math.PI, 4);
    });

    it('applies Impulse components once and zeroes them', () => {
      const { world, scheduler, physics } = setup();
      const e = spawn(world);
      addBody(world, e, { shape: ShapeKind.Ball, radius: 0.5, density: 2, gravityScale: 0 });
      steps(scheduler, 1);
      const mass = physics.rapierWorld.getRigidBody(storeOf(world, RigidBody).handle[e]!).mass();
      expect(mass).toBeCloseTo(2 * (4 / 3) * Math.PI * 0.125, 5);
      applyImpulse(world, e, 0, 0, mass * 1.5);
      applyImpulse(world, e, 0, 0, mass * 0.5); // accumulates: 2 m/s in total
      steps(scheduler, 1);
      const ve = storeOf(world, Velocity);
      const im = storeOf(world, Impulse);
      expect(ve.lz[e]).toBeCloseTo(2, 4);
      expect([im.x[e], im.y[e], im.z[e]]).toEqual([0, 0, 0]);
      steps(scheduler, 1);
      expect(ve.lz[e]).toBeCloseTo(2, 4); // applied once, not every tick
      // A raw Impulse component works the same; on a fixed body it is ignored and zeroed.
      const wall = spawn(world);
      addBody(world, wall, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, position: { x: 50, y: 0, z: 0 } });
      addComponent(world, wall, Impulse, { x: 100, y: 0, z: 0 });
      addComponent(world, e, Impulse, { x: -mass * 2, y: 0, z: 0 });
      steps(scheduler, 1);
      expect(ve.lx[e]).toBeCloseTo(-2, 4);
      expect(im.x[wall]).toBe(0);
      expect(storeOf(world, Transform).px[wall]).toBe(50);
    });

    it('position-kinematic bodies follow Transform; velocity-kinematic ones follow Velocity', () => {
      const { world, scheduler } = setup();
      const kp = spawn(world);
      addBody(world, kp, { kind: BodyKind.KinematicPosition, shape: ShapeKind.Cuboid, position: { x: 0, y: 1, z: 0 } });
      const kv = spawn(world);
      addBody(world, kv, { kind: BodyKind.KinematicVelocity, shape: ShapeKind.Ball, position: { x: 0, y: 1, z: 10 }, linearVelocity: { x: 2, y: 0, z: 0 } });
      const tr = storeOf(world, Transform);
      const ve = storeOf(world, Velocity);
      steps(scheduler, 1);
      for (let i = 1; i <= 30; i++) {
        tr.px[kp] = i * 0.1; // game code moves the platform 0.1 m per tick
        tr.qy[kp] = Math.sin(i * 0.01); tr.qw[kp] = Math.cos(i * 0.01);
        scheduler.step();
        expect(tr.px[kp]).toBeCloseTo(i * 0.1, 5);
        expect(tr.py[kp]).toBe(1); // gravity does not apply
        expect(ve.lx[kp]).toBeCloseTo(0.1 / DT, 2);
      }
      expect(tr.qy[kp]).toBeCloseTo(Math.sin(0.3), 5);
      expect(tr.px[kv]).toBeCloseTo(2 * 31 * DT, 4);
      ve.lx[kv] = 0; ve.lz[kv] = -1;
      steps(scheduler, 60);
      expect(tr.px[kv]).toBeCloseTo(2 * 31 * DT, 4);
      expect(tr.pz[kv]).toBeCloseTo(9, 3);
      expect(tr.py[kv]).toBe(1);
    });

    it('teleports a dynamic body and sets its velocity when game code writes them', () => {
      const { world, scheduler } = setup();
      floor(world);
      const ball = spawn(world);
      addBody(world, ball, { shape: ShapeKind.Ball, position: { x: 0, y: 0.5, z: 0 } });
      steps(scheduler, 30);
      const tr = storeOf(world, Transform);
      const ve = storeOf(world, Velocity);
      tr.px[ball] = 5; tr.py[ball] = 10;
      scheduler.step();
      expect(tr.px[ball]).toBe(5);
      expect(tr.py[ball]).toBeCloseTo(10 - (G * DT * DT * 5) / 8, 5); // 4 substeps: see the free-fall test
      ve.lx[ball] = 3; ve.ly[ball] = 0;
      scheduler.step();
      expect(ve.lx[ball]).toBeCloseTo(3, 5);
      expect(tr.px[ball]).toBeCloseTo(5 + 3 * DT, 5);
    });

    it('removes the Rapier body on despawn and on component removal; re-adding rebuilds it', () => {
      const { world, scheduler, physics } = setup();
      floor(world);
      const a = spawn(world);
      addBody(world, a, { shape: ShapeKind.Ball, position: { x: 0, y: 0.5, z: 0 } });
      const b = spawn(world);
      addBody(world, b, { shape: ShapeKind.Ball, position: { x: 3, y: 0.5, z: 0 } });
      steps(scheduler, 2);
      expect(physics.bodyCount).toBe(3);
      const handleA = storeOf(world, RigidBody).handle[a]!;
      expect(castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: -1, z: 0 }, 10)?.eid).toBe(a);
      despawn(world, a);
      steps(scheduler, 1);
      expect(physics.bodyCount).toBe(2);
      expect(physics.rapierWorld.bodies.len()).toBe(2);
      expect(physics.rapierWorld.getRigidBody(handleA)?.handle === handleA).toBe(false);
      expect(castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: -1, z: 0 }, 10)?.eid).toBe(1);

      removeComponent(world, b, Collider);
      steps(scheduler, 1);
      expect(physics.bodyCount).toBe(1);
      expect(storeOf(world, RigidBody).handle[b]).toBe(NO_HANDLE);
      addComponent(world, b, Collider, { shape: ShapeKind.Cuboid, hx: 0.5, hy: 0.5, hz: 0.5, friction: 0.5, density: 1 });
      expect(storeOf(world, Collider).handle[b]).toBe(NO_HANDLE);
      steps(scheduler, 1);
      expect(physics.bodyCount).toBe(2);
      expect(physics.rapierWorld.getCollider(storeOf(world, Collider).handle[b]!).shape.type).toBe(1); // cuboid now
    });

    it('a recycled entity id gets a fresh body, not the old one', () => {
      const { world, scheduler, physics } = setup();
      const a = spawn(world);
      addBody(world, a, { shape: ShapeKind.Ball, gravityScale: 0, linearVelocity: { x: 5, y: 0, z: 0 } });
      steps(scheduler, 10);
      const old = storeOf(world, RigidBody).handle[a]!;
      despawn(world, a);
      // Spawn until the id comes back (bitECS may recycle it at once or later).
      let again = spawn(world);
      while (again !== a && again < 100) again = spawn(world);
      expect(again).toBe(a);
      addBody(world, a, { shape: ShapeKind.Ball, gravityScale: 0, position: { x: 0, y: 0, z: 0 } });
      steps(scheduler, 1);
      expect(storeOf(world, RigidBody).handle[a]).not.toBe(old);
      expect(storeOf(world, Transform).px[a]).toBe(0); // not the old body's position or velocity
      expect(physics.bodyCount).toBe(1);
    });
  });

  describe('collision events', () => {
    it('reports started contacts and sensor overlaps with entity ids, sorted', () => {
      const { world, scheduler } = setup();
      const ground = floor(world);
      const sensor = spawn(world);
      addBody(world, sensor, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 1, hy: 0.25, hz: 1, sensor: true, position: { x: 5, y: 2, z: 0 } });
      const low = spawn(world);
      addBody(world, low, { shape: ShapeKind.Ball, position: { x: 0, y: 1, z: 0 } });
      const high = spawn(world);
      addBody(world, high, { shape: ShapeKind.Ball, position: { x: 5, y: 4, z: 0 } });
      const log: { tick: number; a: number; b: number; started: boolean; sensor: boolean }[] = [];
      for (let t = 0; t < 90; t++) {
        scheduler.step();
        for (const ev of collisionEvents(world)) log.push({ tick: t, ...ev });
      }
      const pairs = log.map((e) => `${e.a}-${e.b}:${e.started ? 'start' : 'stop'}${e.sensor ? ':sensor' : ''}`);
      expect(pairs).toEqual([
        `${ground}-${low}:start`,
        `${sensor}-${high}:start:sensor`,
        `${sensor}-${high}:stop:sensor`,
        `${ground}-${high}:start`,
      ]);
      // The low ball falls 0.5 m (about 19 ticks), the high one reaches the sensor top at y 2.75 first.
      expect(log[0]!.tick).toBeGreaterThan(15);
      expect(log[0]!.tick).toBeLessThan(22);
      expect(log.every((e) => e.a < e.b)).toBe(true);
      // The sensor did not stop the ball: it rests on the ground.
      expect(storeOf(world, Transform).py[high]).toBeCloseTo(0.5, 2);
    });

    it('reports a stopped event naming a removed body', () => {
      const { world, scheduler } = setup();
      const ground = floor(world);
      const ball = spawn(world);
      addBody(world, ball, { shape: ShapeKind.Ball, position: { x: 0, y: 0.5, z: 0 } });
      steps(scheduler, 5);
      despawn(world, ball);
      scheduler.step();
      expect(collisionEvents(world)).toEqual([{ a: ground, b: ball, started: false, sensor: false }]);
      scheduler.step();
      expect(collisionEvents(world)).toEqual([]);
    });
  });

  describe('ray casts', () => {
    it('returns entity, time of impact, point and normal; honours excludeEid and ignores sensors', () => {
      const { world, scheduler } = setup();
      const ground = floor(world);
      const ball = spawn(world);
      addBody(world, ball, { shape: ShapeKind.Ball, radius: 0.5, position: { x: 0, y: 0.5, z: 0 }, lockRotations: true });
      const trigger = spawn(world);
      addBody(world, trigger, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, sensor: true, position: { x: 0, y: 3, z: 0 } });
      expect(castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: -1, z: 0 }, 10)).toBeNull(); // nothing before the first step
      steps(scheduler, 2);
      const y = storeOf(world, Transform).py[ball]!;
      const hit = castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: -1, z: 0 }, 10)!;
      expect(hit.eid).toBe(ball);
      expect(hit.toi).toBeCloseTo(5 - (y + 0.5), 4);
      expect(hit.point.y).toBeCloseTo(y + 0.5, 4);
      expect(hit.normal).toEqual({ x: 0, y: 1, z: 0 });
      const ground1 = castRay(world, { x: 0, y: y, z: 0 }, { x: 0, y: -1, z: 0 }, 10, ball)!;
      expect(ground1.eid).toBe(ground);
      expect(ground1.point.y).toBeCloseTo(0, 5);
      expect(castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: -1, z: 0 }, 1)).toBeNull(); // too short
      expect(castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: 2, z: 0 }, 10)).toBeNull(); // pointing up
      expectEngineError(() => castRay(world, { x: 0, y: 5, z: 0 }, { x: 0, y: 0, z: 0 }, 10), 'InvalidConfig', /dir/);
    });

    it('matches the documented heightfield layout', () => {
      const { world, scheduler } = setup();
      // nrows 2 (along Z), ncols 3 (along X): 3 x 4 samples, column-major.
      const heights = new Float32Array(12);
      heights[1 + 0 * 3] = 1; // row 1, col 0: x = -15, z = 0
      heights[2 + 1 * 3] = 2; // row 2, col 1: x = -5, z = 10
      registerHeightfield(world, 9, { nrows: 2, ncols: 3, heights, scale: { x: 30, y: 1.5, z: 20 } });
      const e = spawn(world);
      addBody(world, e, { kind: BodyKind.Fixed, shape: ShapeKind.Heightfield, shapeRef: 9, position: { x: 100, y: 0, z: 0 } });
      steps(scheduler, 1);
      const heightAt = (x: number, z: number) => 10 - castRay(world, { x: 100 + x, y: 10, z }, { x: 0, y: -1, z: 0 }, 20)!.toi;
      expect(heightAt(-15 * 0.999, 0)).toBeCloseTo(1.5, 2);
      expect(heightAt(-5, 10 * 0.999)).toBeCloseTo(3, 2);
      expect(heightAt(5.5, 0.5)).toBeCloseTo(0, 3);
      expect(heightAt(-14, 0.5)).toBeGreaterThan(1); // next to the bump, on its slope
    });
  });

  describe('shape data and errors', () => {
    it('validates and registers shape data once per id', () => {
      const world = createWorld();
      const data = { nrows: 1, ncols: 1, heights: new Float32Array([0, 1, 2, 3]), scale: { x: 1, y: 1, z: 1 } };
      registerHeightfield(world, 3, data);
      registerHeightfield(world, 3, { ...data, heights: new Float32Array([0, 1, 2, 3]) }); // identical: no-op
      data.heights[0] = 9; // the registry holds a copy
      expect(getHeightfield(world, 3)!.heights[0]).toBe(0);
      expectEngineError(() => registerHeightfield(world, 3, { ...data, scale: { x: 2, y: 1, z: 1 } }), 'InvalidConfig', /already registered/);
      expectEngineError(() => registerHeightfield(world, 4, { ...data, heights: new Float32Array(3) }), 'InvalidConfig', /\(nrows \+ 1\) \* \(ncols \+ 1\) = 4/);
      expectEngineError(() => registerHeightfield(world, 4, { ...data, scale: { x: 0, y: 1, z: 1 } }), 'InvalidConfig', /scale\.x/);
      expectEngineError(() => registerTrimesh(world, 1, { vertices: new Float32Array(9), indices: new Uint32Array([0, 1, 3]) }), 'InvalidConfig', /out of range/);
      expectEngineError(() => registerTrimesh(world, 1, { vertices: new Float32Array(9), indices: new Uint32Array([0, 1]) }), 'InvalidConfig', /triangle triples/);
    });

    it('an unknown shapeRef fails the tick without changing anything, naming entity and ref', () => {
      const { world, scheduler, physics } = setup();
      floor(world);
      steps(scheduler, 1);
      const tick = world.time.tick;
      const good = spawn(world);
      addBody(world, good, { shape: ShapeKind.Ball, position: { x: 0, y: 2, z: 0 } });
      const bad = spawn(world);
      addBody(world, bad, { kind: BodyKind.Fixed, shape: ShapeKind.Trimesh, shapeRef: 42 });
      const error = expectEngineError(() => scheduler.step(), 'Physics', new RegExp(`entity ${bad}: Collider.shapeRef 42 names no registered trimesh`));
      expect(error.data).toMatchObject({ eid: bad, shapeRef: 42 });
      expect(world.time.tick).toBe(tick);
      expect(physics.bodyCount).toBe(1);
      expect(physics.rapierWorld.bodies.len()).toBe(1);
      expect(storeOf(world, RigidBody).handle[good]).toBe(NO_HANDLE);
      expect(storeOf(world, RigidBody).handle[bad]).toBe(NO_HANDLE);
      registerTrimesh(world, 42, { vertices: new Float32Array([0, 0, 0, 1, 0, 0, 0, 0, 1]), indices: new Uint32Array([0, 2, 1]) });
      scheduler.step();
      expect(physics.bodyCount).toBe(3);
    });

    it('rejects bad component values with the entity and field', () => {
      const { world, scheduler } = setup();
      const e = spawn(world);
      addBody(world, e, { shape: ShapeKind.Ball, radius: -1 });
      expectEngineError(() => scheduler.step(), 'Physics', new RegExp(`entity ${e}: Collider.radius -1 must be finite and > 0`));
      addBody(world, e, { shape: 7 as ShapeKind });
      expectEngineError(() => scheduler.step(), 'Physics', /Collider.shape 7 is not a ShapeKind/);
      addBody(world, e, { shape: ShapeKind.Ball });
      scheduler.step();
      storeOf(world, Transform).px[e] = Number.NaN;
      expectEngineError(() => scheduler.step(), 'Physics', new RegExp(`entity ${e}: Transform holds a non-finite value`));
    });

    it('accepts a RigidBody added by hand and treats a zero rotation as identity', () => {
      const { world, scheduler, physics } = setup();
      const e = spawn(world);
      addComponent(world, e, Transform, { px: 1, py: 2, pz: 3 }); // qw left 0
      addComponent(world, e, RigidBody, { kind: BodyKind.Dynamic, gravityScale: 1 });
      addComponent(world, e, Collider, { shape: ShapeKind.Ball, radius: 0.25, density: 1, friction: 0.5 });
      expect(storeOf(world, RigidBody).handle[e]).toBe(NO_HANDLE); // not 0, which is a valid handle
      scheduler.step();
      expect(physics.bodyCount).toBe(1);
      expect(storeOf(world, Transform).qw[e]).toBe(1);
      expect(storeOf(world, Transform).py[e]).toBeLessThan(2);
    });
  });

  describe('determinism and snapshots', () => {
    it('a snapshot reused as a ring slot keeps its physics buffer; foreign bytes are never written into', () => {
      const { world, scheduler } = setup(5);
      floor(world);
      for (let i = 0; i < 20; i++) addBody(world, spawn(world), { shape: ShapeKind.Ball, radius: 0.3, position: { x: i * 0.7 - 7, y: 1 + (i % 3), z: 0 } });
      // The bytes grow while balls land (contact pairs are in Rapier's world): settle first.
      steps(scheduler, 120);
      const slot = snapshot(world);
      const first = slot.extensions.get(PHYSICS_EXTENSION)!;
      const buffers = new Set<ArrayBufferLike>();
      for (let i = 0; i < 10; i++) {
        steps(scheduler, 3);
        snapshot(world, slot);
        buffers.add(slot.extensions.get(PHYSICS_EXTENSION)!.buffer);
      }
      // Same backing memory every time at steady state (the first save left 25 % headroom).
      expect([...buffers]).toEqual([first.buffer]);
      const reference = snapshot(world);
      expect(Array.from(slot.extensions.get(PHYSICS_EXTENSION)!)).toEqual(Array.from(reference.extensions.get(PHYSICS_EXTENSION)!));
      // A slot whose physics bytes point into someone else's memory (a decoded network buffer)
      // gets a fresh buffer; the foreign bytes stay as they were.
      const foreign = new Uint8Array(first.length * 2).fill(7);
      slot.extensions.set(PHYSICS_EXTENSION, foreign.subarray(0, first.length + 100));
      snapshot(world, slot);
      expect(slot.extensions.get(PHYSICS_EXTENSION)!.buffer).not.toBe(foreign.buffer);
      expect(foreign.every((b) => b === 7)).toBe(true);
      // And restoring from the reused slot still gives the saved state.
      const sum = checksum(world);
      steps(scheduler, 30);
      restore(world, slot);
      expect(checksum(world)).toBe(sum);
    });

    const PLATFORM_PATH = 0.05;

    /** Shape data of the scene: every peer registers the same. */
    function registerSceneShapes(world: GameWorld): void {
      const heights = new Float32Array(5 * 5);
      for (let i = 0; i < heights.length; i++) heights[i] = ((i * 37) % 11) / 20;
      registerHeightfield(world, 1, { nrows: 4, ncols: 4, heights, scale: { x: 30, y: 1, z: 30 } });
      registerTrimesh(world, 2, {
        vertices: new Float32Array([-3, 0, -3, 3, 2, -3, -3, 0, 3, 3, 2, 3]),
        indices: new Uint32Array([0, 2, 1, 1, 2, 3]),
      });
    }

    /** Game rules: move the platform in a straight line; every 10 ticks kick a random body upwards. */
    function addRules(scheduler: Scheduler, platform: number, stirred: readonly number[]): void {
      scheduler.addSystem(Phase.Simulation, function gameRules(w) {
        const tr = storeOf(w, Transform);
        const t = w.time.tick;
        tr.px[platform] = -5 + PLATFORM_PATH * (t % 80);
        if (t % 10 === 0) {
          const e = stirred[w.rng.nextInt(stirred.length)]!;
          if (isAlive(w, e)) applyImpulse(w, e, w.rng.nextFloat() - 0.5, 3 + w.rng.nextFloat(), w.rng.nextFloat() - 0.5);
        }
      });
    }

    /** ~30 mixed bodies on a heightfield and a trimesh ramp, plus game rules using world.rng. */
    function buildScene(seed = 7): Setup & { platform: number; stirred: number[] } {
      const s = setup(seed);
      const { world, scheduler } = s;
      registerSceneShapes(world);
      const terrain = spawn(world);
      addBody(world, terrain, { kind: BodyKind.Fixed, shape: ShapeKind.Heightfield, shapeRef: 1, friction: 0.8 });
      const ramp = spawn(world);
      addBody(world, ramp, { kind: BodyKind.Fixed, shape: ShapeKind.Trimesh, shapeRef: 2, position: { x: 4, y: 0.5, z: 0 } });
      const platform = spawn(world);
      addBody(world, platform, { kind: BodyKind.KinematicPosition, shape: ShapeKind.Cuboid, hx: 1.5, hy: 0.2, hz: 1.5, position: { x: -5, y: 1, z: -5 } });
      const spinner = spawn(world);
      addBody(world, spinner, { kind: BodyKind.KinematicVelocity, shape: ShapeKind.Cuboid, hx: 2, hy: 0.2, hz: 0.2, position: { x: 0, y: 1.2, z: 5 }, angularVelocity: { x: 0, y: 2, z: 0 } });
      const zone = spawn(world);
      addBody(world, zone, { kind: BodyKind.Fixed, shape: ShapeKind.Cuboid, hx: 3, hy: 1, hz: 3, sensor: true, position: { x: 0, y: 1.5, z: 0 } });
      const stirred: number[] = [];
      for (let i = 0; i < 26; i++) {
        const e = spawn(world);
        const shape = [ShapeKind.Ball, ShapeKind.Cuboid, ShapeKind.Capsule][i % 3]!;
        // Only + - * / in setup: transcendental functions may differ across machines.
        addBody(world, e, {
          shape, radius: 0.3 + (i % 4) * 0.05, hx: 0.3, hy: 0.25, hz: 0.35, halfHeight: 0.3,
          position: { x: (((i * 7) % 11) - 5) * 0.6, y: 2 + i * 0.45, z: (((i * 5) % 9) - 4) * 0.6 },
          rotation: { x: (i % 3) * 0.1, y: (i % 5) * 0.2, z: 0, w: 1 }, // normalized by the physics system
          restitution: (i % 5) * 0.1, friction: 0.3 + (i % 3) * 0.2, density: 1 + (i % 4), ccd: i % 7 === 0,
        });
        stirred.push(e);
      }
      addRules(scheduler, platform, stirred);
      return { ...s, platform, stirred };
    }

    it('step 100, snapshot, step 50, restore, step 50: identical checksums, also in a second world', () => {
      const a = buildScene();
      steps(a.scheduler, 100);
      const at100 = checksum(a.world);
      const snap = snapshot(a.world);
      expect(snap.extensions.get(PHYSICS_EXTENSION)!.byteLength).toBeGreaterThan(1000);
      steps(a.scheduler, 50);
      const first = checksum(a.world);
      const firstSnap = snapshot(a.world);
      expect(first).not.toBe(at100); // the scene is moving
      let sawEvents = false;
      restore(a.world, snap);
      expect(checksum(a.world)).toBe(at100);
      for (let i = 0; i < 50; i++) {
        a.scheduler.step();
        sawEvents ||= collisionEvents(a.world).length > 0;
      }
      expect(checksum(a.world)).toBe(first);
      expect(diffSnapshots(a.world, firstSnap, snapshot(a.world))).toEqual([]);
      expect(sawEvents).toBe(true);

      // A second world built independently with the same setup computes the same states.
      const b = buildScene();
      steps(b.scheduler, 100);
      expect(checksum(b.world)).toBe(at100);
      steps(b.scheduler, 50);
      expect(checksum(b.world)).toBe(first);
      // Even the Rapier snapshot bytes agree.
      expect(snapshot(b.world).extensions.get(PHYSICS_EXTENSION)).toEqual(firstSnap.extensions.get(PHYSICS_EXTENSION));
    });

    it('restoring components without the physics state does diverge (the test above can fail)', () => {
      const a = buildScene();
      steps(a.scheduler, 100);
      const snap = snapshot(a.world);
      steps(a.scheduler, 50);
      const first = checksum(a.world);
      const componentsOnly: WorldSnapshot = { ...snap, extensions: new Map() };
      restore(a.world, componentsOnly);
      steps(a.scheduler, 50);
      expect(checksum(a.world)).not.toBe(first);
    });

    it('a fresh world restored from copied snapshot bytes continues identically (late join)', () => {
      const a = buildScene();
      steps(a.scheduler, 100);
      const snap = snapshot(a.world);
      // As if sent over the network: plain copies of the bytes.
      const copy: WorldSnapshot = {
        tick: snap.tick,
        checksum: snap.checksum,
        bytes: new Uint8Array(snap.bytes),
        extensions: new Map([...snap.extensions].map(([name, bytes]) => [name, new Uint8Array(bytes)])),
      };
      const b = setup(12345); // another seed: the snapshot carries the PRNG state
      registerSceneShapes(b.world);
      addRules(b.scheduler, a.platform, a.stirred);
      restore(b.world, copy);
      expect(checksum(b.world)).toBe(checksum(a.world));
      expect(b.physics.bodyCount).toBe(a.physics.bodyCount);
      steps(a.scheduler, 50);
      steps(b.scheduler, 50);
      expect(checksum(b.world)).toBe(checksum(a.world));
    });

    it('survives a rollback loop: every tick, reload 8 ticks back and re-simulate', () => {
      const straight = buildScene();
      steps(straight.scheduler, 60);
      const expected = checksum(straight.world);

      const r = buildScene();
      const ring: WorldSnapshot[] = [];
      for (let t = 0; t < 60; t++) {
        ring[r.world.time.tick % 9] = snapshot(r.world, ring[r.world.time.tick % 9]);
        r.scheduler.step();
        if (t >= 8) {
          const back = r.world.time.tick - 8;
          restore(r.world, ring[back % 9]!);
          expect(r.world.time.tick).toBe(back);
          for (let i = 0; i < 8; i++) {
            ring[r.world.time.tick % 9] = snapshot(r.world, ring[r.world.time.tick % 9]);
            r.scheduler.simulateTick();
          }
        }
      }
      expect(checksum(r.world)).toBe(expected);
    });

    it('restores across despawn and spawn: the entity and its body come back, the new one goes', () => {
      const a = buildScene();
      steps(a.scheduler, 80);
      const snap = snapshot(a.world);
      const bodies = a.physics.bodyCount;
      const events = collisionEvents(a.world);
      steps(a.scheduler, 30);
      const expected = checksum(a.world);

      restore(a.world, snap);
      const victim = a.stirred[3]!;
      const other = a.stirred[9]!;
      const victimHandle = storeOf(a.world, RigidBody).handle[victim]!;
      const otherHandle = storeOf(a.world, RigidBody).handle[other]!;
      despawn(a.world, victim);
      despawn(a.world, other);
      const newcomer = spawn(a.world); // bitECS recycles ids: typically `other` or `victim` again
      addBody(a.world, newcomer, { shape: ShapeKind.Ball, position: { x: 0, y: 8, z: 0 } });
      steps(a.scheduler, 20);
      expect(isAlive(a.world, victim) && isAlive(a.world, other)).toBe(false);
      expect(storeOf(a.world, RigidBody).handle[newcomer]).not.toBe(newcomer === victim ? victimHandle : otherHandle);
      expect(a.physics.bodyCount).toBe(bodies - 1);

      restore(a.world, snap);
      for (const [e, handle] of [[victim, victimHandle], [other, otherHandle]] as const) {
        expect(isAlive(a.world, e)).toBe(true);
        expect(storeOf(a.world, RigidBody).handle[e]).toBe(handle);
        const body = a.physics.rapierWorld.getRigidBody(handle);
        expect(body.handle).toBe(handle);
        expect(body.translation().y).toBe(storeOf(a.world, Transform).py[e]);
      }
      expect(a.physics.bodyCount).toBe(bodies);
      expect(a.physics.rapierWorld.bodies.len()).toBe(bodies);
      expect(collisionEvents(a.world)).toEqual(events);
      if (newcomer !== victim && newcomer !== other) expect(isAlive(a.world, newcomer)).toBe(false);
      steps(a.scheduler, 30);
      expect(checksum(a.world)).toBe(expected);
    });

    it('restores a body whose entity was despawned after the physics step and before the snapshot', () => {
      const run = (despawnEarly: boolean) => {
        const s = buildScene();
        steps(s.scheduler, 40);
        despawn(s.world, s.stirred[5]!); // as a later phase (Compute, Replication) could
        const snap = snapshot(s.world);
        expect(s.physics.bodyCount).toBe(31); // the body still exists until the next step
        steps(s.scheduler, 20);
        const expected = checksum(s.world);
        if (despawnEarly) {
          restore(s.world, snap);
          expect(s.physics.bodyCount).toBe(31);
          s.scheduler.step();
          expect(s.physics.bodyCount).toBe(30);
          steps(s.scheduler, 19);
        }
        return { expected, actual: checksum(s.world) };
      };
      const { expected, actual } = run(true);
      expect(actual).toBe(expected);
    });
  });
});
