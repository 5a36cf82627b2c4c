import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SeededRandom } from '../../companion-server/engine/random.ts';
import { TorchGenerator } from '../../companion-server/engine/torch-random/torch-generator.ts';
import { DdimScheduler } from '../../companion-server/engine/schedulers/ddim-scheduler.ts';
import { EulerAncestralScheduler } from '../../companion-server/engine/schedulers/euler-ancestral-scheduler.ts';
import { EulerScheduler } from '../../companion-server/engine/schedulers/euler-scheduler.ts';
import { roundHalfEven, timestepsFor } from '../../companion-server/engine/schedulers/noise-schedule.ts';
import { SCHEDULER_NAMES, createScheduler, type Scheduler, type SchedulerConfig, type SchedulerName } from '../../companion-server/engine/schedulers/scheduler.ts';

// Golden numbers from test/fixtures/compute-scheduler-golden.py (numpy reimplementation of diffusers).
interface GoldenCase {
  scheduler: SchedulerName;
  betaSchedule: string;
  betaStart: number;
  betaEnd: number;
  timestepSpacing: string;
  steps: number;
  initNoiseSigma: number;
  timesteps?: number[];
  sigmas?: number[];
  sigmaUps?: number[];
  sigmaDowns?: number[];
  finalSample: number[];
  lastPredOriginalSample: number[];
}
interface Golden {
  baseConfig: SchedulerConfig;
  sampleSize: number;
  cases: GoldenCase[];
  timestepSweep: { numTrainTimesteps: number; stepsOffset: number; leading: number[]; trailing: number[]; ddimLinspace: number[]; trailingExtraStep: number[] };
  diffusersFloat32: { steps: number; sigmas: number[]; initNoiseSigma: number };
}
const golden = JSON.parse(readFileSync(new URL('../fixtures/scheduler-golden.json', import.meta.url), 'utf8')) as Golden;
const base = golden.baseConfig;
const SCHEDULE_TOLERANCE = { rel: 1e-6, abs: 1e-12 };
const LOOP_TOLERANCE = { rel: 1e-5, abs: 1e-6 };

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: { rel: number; abs: number }, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= tolerance.abs + tolerance.rel * Math.abs(expected[i]))) {
      assert.fail(`${label}[${i}]: got ${actual[i]}, expected ${expected[i]} (diff ${diff})`);
    }
  }
}

function configOf(c: GoldenCase): SchedulerConfig {
  return { ...base, type: c.scheduler, betaSchedule: c.betaSchedule, betaStart: c.betaStart, betaEnd: c.betaEnd, timestepSpacing: c.timestepSpacing };
}

function caseLabel(c: GoldenCase): string {
  return `${c.scheduler} ${c.betaSchedule} ${c.timestepSpacing} ${c.steps} steps`;
}

/** The golden loop (see the script's `loop` notes), with every array float32 between steps. */
function runLoop(scheduler: Scheduler, stepper: (noisePred: Float32Array, k: number, sample: Float32Array) => { prevSample: Float32Array; predOriginalSample: Float32Array }) {
  const n = golden.sampleSize;
  const start = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  let sample: Float32Array = start.map((x) => x * scheduler.initNoiseSigma);
  let predOriginalSample: Float32Array = new Float32Array(n);
  for (let k = 0; k < scheduler.timesteps.length; k++) {
    const t = scheduler.timesteps[k];
    const scaled = scheduler.scaleModelInput(sample, k);
    const eps = Float32Array.from({ length: n }, (_, i) => 0.1 * scaled[i] + Math.cos(t / 100 + i));
    ({ prevSample: sample, predOriginalSample } = stepper(eps, k, sample));
  }
  return { sample, predOriginalSample };
}

const ancestralNoise = (k: number) => Float32Array.from({ length: golden.sampleSize }, (_, i) => Math.sin(0.7 * (i + 1) + 1.3 * k));

test('golden fixture covers all three schedulers, the three spacings and both beta schedules', () => {
  const kinds = new Set(golden.cases.map((c) => `${c.scheduler}/${c.timestepSpacing}/${c.betaSchedule}`));
  for (const name of SCHEDULER_NAMES) {
    for (const spacing of ['linspace', 'leading', 'trailing']) assert.ok(kinds.has(`${name}/${spacing}/scaled_linear`), `${name} ${spacing}`);
    assert.ok(kinds.has(`${name}/linspace/linear`), `${name} linear`);
  }
  assert.ok(golden.cases.length >= 60);
});

test('euler-ancestral: timesteps, sigmas, init noise sigma and sigma up/down match the numpy reference', () => {
  for (const c of golden.cases.filter((c) => c.scheduler === 'euler-ancestral')) {
    const label = caseLabel(c);
    const scheduler = createScheduler('euler-ancestral', configOf(c), c.steps);
    assert.ok(scheduler instanceof EulerAncestralScheduler);
    assertClose(scheduler.timesteps, c.timesteps!, SCHEDULE_TOLERANCE, `${label} timesteps`);
    assertClose(scheduler.sigmas, c.sigmas!, SCHEDULE_TOLERANCE, `${label} sigmas`);
    assertClose([scheduler.initNoiseSigma], [c.initNoiseSigma], SCHEDULE_TOLERANCE, `${label} initNoiseSigma`);
    if (c.sigmaUps) assertClose(scheduler.sigmaUps, c.sigmaUps, SCHEDULE_TOLERANCE, `${label} sigmaUps`);
    if (c.sigmaDowns) assertClose(scheduler.sigmaDowns, c.sigmaDowns, SCHEDULE_TOLERANCE, `${label} sigmaDowns`);
  }
});

test('euler-ancestral: the whole loop with explicit noise matches the numpy reference', () => {
  for (const c of golden.cases.filter((c) => c.scheduler === 'euler-ancestral')) {
    const scheduler = createScheduler('euler-ancestral', configOf(c), c.steps) as EulerAncestralScheduler;
    const result = runLoop(scheduler, (eps, k, sample) => scheduler.stepWithNoise(eps, k, sample, ancestralNoise(k)));
    assertClose(result.sample, c.finalSample, LOOP_TOLERANCE, `${caseLabel(c)} final sample`);
    assertClose(result.predOriginalSample, c.lastPredOriginalSample, LOOP_TOLERANCE, `${caseLabel(c)} last x0`);
  }
});

test('euler: same timesteps and sigmas as euler-ancestral, and the deterministic loop matches the numpy reference', () => {
  const random = new SeededRandom(1);
  for (const c of golden.cases.filter((c) => c.scheduler === 'euler')) {
    const label = caseLabel(c);
    const twin = golden.cases.find((a) => a.scheduler === 'euler-ancestral' && caseLabel(a) === caseLabel({ ...c, scheduler: 'euler-ancestral' }))!;
    const scheduler = createScheduler('euler', configOf(c), c.steps);
    assert.ok(scheduler instanceof EulerScheduler);
    assertClose(scheduler.timesteps, twin.timesteps!, SCHEDULE_TOLERANCE, `${label} timesteps`);
    assertClose(scheduler.sigmas, twin.sigmas!, SCHEDULE_TOLERANCE, `${label} sigmas`);
    assertClose([scheduler.initNoiseSigma], [c.initNoiseSigma], SCHEDULE_TOLERANCE, `${label} initNoiseSigma`);
    const result = runLoop(scheduler, (eps, k, sample) => scheduler.step(eps, k, sample, random));
    assertClose(result.sample, c.finalSample, LOOP_TOLERANCE, `${label} final sample`);
    assertClose(result.predOriginalSample, c.lastPredOriginalSample, LOOP_TOLERANCE, `${label} last x0`);
  }
});

test('ddim: whole-number timesteps equal the reference and the deterministic loop matches it', () => {
  const random = new SeededRandom(1);
  for (const c of golden.cases.filter((c) => c.scheduler === 'ddim')) {
    const label = caseLabel(c);
    const scheduler = createScheduler('ddim', configOf(c), c.steps);
    assert.ok(scheduler instanceof DdimScheduler);
    assert.deepEqual([...scheduler.timesteps], c.timesteps!, `${label} timesteps`);
    assert.equal(scheduler.initNoiseSigma, 1);
    const result = runLoop(scheduler, (eps, k, sample) => scheduler.step(eps, k, sample, random));
    assertClose(result.sample, c.finalSample, LOOP_TOLERANCE, `${label} final sample`);
    assertClose(result.predOriginalSample, c.lastPredOriginalSample, LOOP_TOLERANCE, `${label} last x0`);
  }
});

test('whole-number timesteps match numpy for every step count 1..1000 (leading, trailing, DDIM linspace)', () => {
  const { numTrainTimesteps: N, stepsOffset } = golden.timestepSweep;
  const weightedSum = (ts: Float64Array) => ts.reduce((sum, t, i) => sum + (i + 1) * t, 0);
  for (let n = 1; n <= N; n++) {
    const leading = timestepsFor('leading', n, N, stepsOffset);
    const trailing = timestepsFor('trailing', n, N, stepsOffset);
    const ddim = createScheduler('ddim', { ...base, timestepSpacing: 'linspace' }, n).timesteps;
    for (const [name, ts] of [['leading', leading], ['trailing', trailing], ['ddim linspace', ddim]] as const) {
      assert.equal(ts.length, n, `${name} ${n}: one timestep per step`);
    }
    assert.equal(weightedSum(leading), golden.timestepSweep.leading[n - 1], `leading, ${n} steps`);
    assert.equal(weightedSum(trailing), golden.timestepSweep.trailing[n - 1], `trailing, ${n} steps`);
    assert.equal(weightedSum(ddim), golden.timestepSweep.ddimLinspace[n - 1], `ddim linspace, ${n} steps`);
  }
  // Where numpy's float arange hands diffusers an extra step at t = -1, the engine keeps n, ending >= 0.
  assert.ok(golden.timestepSweep.trailingExtraStep.includes(61));
  for (const n of golden.timestepSweep.trailingExtraStep) assert.ok(timestepsFor('trailing', n, N, 0)[n - 1] >= 0);
});

test('float64 sigmas stay within 2e-5 of diffusers\' float32 ones', () => {
  const scheduler = createScheduler('euler-ancestral', base, golden.diffusersFloat32.steps) as EulerAncestralScheduler;
  assertClose(scheduler.sigmas, golden.diffusersFloat32.sigmas, { rel: 2e-5, abs: 0 }, 'sigmas vs float32');
  assertClose([scheduler.initNoiseSigma], [golden.diffusersFloat32.initNoiseSigma], { rel: 2e-5, abs: 0 }, 'initNoiseSigma vs float32');
});

test('MGIE reference settings: 100 linspace steps from t = 999 to 0, init noise sigma about 14.6147', () => {
  // mgie-reference.md, section 6
  const scheduler = createScheduler('euler-ancestral', base, 100) as EulerAncestralScheduler;
  assert.ok(Math.abs(scheduler.initNoiseSigma - 14.6147) < 1e-4, `${scheduler.initNoiseSigma}`);
  assert.equal(scheduler.timesteps.length, 100);
  assert.equal(scheduler.timesteps[0], 999);
  assert.equal(scheduler.timesteps[99], 0);
  assert.ok(Math.abs(scheduler.timesteps[1] - (999 - 999 / 99)) < 1e-9, 'fractional timesteps');
  assert.equal(scheduler.sigmas.length, 101);
  assert.equal(scheduler.sigmas[100], 0);
  assert.equal(scheduler.sigmas[0], scheduler.initNoiseSigma);
  // leading spacing is sqrt(max^2 + 1) (diffusers)
  const leading = createScheduler('euler', { ...base, timestepSpacing: 'leading' }, 50) as EulerScheduler;
  assert.ok(Math.abs(leading.initNoiseSigma - Math.hypot(leading.sigmas[0], 1)) < 1e-12);
});

test('the ancestral step draws its noise from the generator passed in', () => {
  const scheduler = createScheduler('euler-ancestral', base, 10) as EulerAncestralScheduler;
  const sample = new SeededRandom(3).randn(64).map((x) => x * scheduler.initNoiseSigma);
  const eps = new SeededRandom(4).randn(64);
  const viaStep = scheduler.step(eps, 2, sample, new SeededRandom(99));
  const viaNoise = scheduler.stepWithNoise(eps, 2, sample, new SeededRandom(99).randn(64));
  assert.deepEqual(viaStep.prevSample, viaNoise.prevSample);
  assert.notDeepEqual(scheduler.step(eps, 2, sample, new SeededRandom(100)).prevSample, viaStep.prevSample);
  // The last step goes to sigma 0: no noise, the sample becomes the x0 estimate.
  const last = scheduler.step(eps, 9, sample, new SeededRandom(5));
  assert.equal(scheduler.sigmaUps[9], 0);
  assertClose(last.prevSample, last.predOriginalSample, { rel: 1e-6, abs: 1e-6 }, 'last step');
});

test('draws per run, as diffusers\' schedulers make them: Euler Ancestral one of the sample\'s shape per step (the last included), Euler (s_churn 0) and DDIM (eta 0) none', () => {
  const steps = 10;
  for (const [name, draws] of [['euler-ancestral', steps], ['euler', 0], ['ddim', 0]] as const) {
    const scheduler = createScheduler(name, base, steps);
    const generator = new TorchGenerator(13331);
    let sample: Float32Array = new TorchGenerator(3).randn(64).map((x) => x * scheduler.initNoiseSigma);
    const eps = new TorchGenerator(4).randn(64);
    for (let k = 0; k < steps; k++) sample = scheduler.step(eps, k, sample, generator).prevSample;
    // The generator's next draw shows how many it made: the same as a fresh one's draw number `draws`.
    const fresh = new TorchGenerator(13331);
    for (let k = 0; k < draws; k++) fresh.randn(64);
    assert.deepEqual(generator.randn(64), fresh.randn(64), `${name} made ${draws} draws of 64 values`);
  }
});

test('scaleModelInput and step return new arrays and leave their inputs untouched', () => {
  for (const name of SCHEDULER_NAMES) {
    const scheduler = createScheduler(name, base, 20);
    const sample = new SeededRandom(11).randn(32);
    const eps = new SeededRandom(12).randn(32);
    const sampleCopy = sample.slice();
    const epsCopy = eps.slice();
    const scaled = scheduler.scaleModelInput(sample, 3);
    assert.notEqual(scaled, sample, name);
    assert.deepEqual(sample, sampleCopy, `${name}: scaleModelInput mutated its input`);
    const sigma = name === 'ddim' ? 0 : (scheduler as EulerScheduler).sigmas[3];
    assertClose(scaled, sample.map((x) => x / Math.sqrt(sigma * sigma + 1)), { rel: 1e-6, abs: 0 }, `${name} scaled`);
    const out = scheduler.step(eps, 3, sample, new SeededRandom(1));
    assert.notEqual(out.prevSample, sample);
    assert.deepEqual(sample, sampleCopy, `${name}: step mutated the sample`);
    assert.deepEqual(eps, epsCopy, `${name}: step mutated the model output`);
    assert.equal(out.prevSample.length, 32);
    assert.equal(out.predOriginalSample.length, 32);
  }
});

test('unknown scheduler, beta schedule, spacing or prediction type throws, listing the allowed values', () => {
  assert.throws(() => createScheduler('heun' as SchedulerName, base, 10), /scheduler must be one of euler-ancestral, euler, ddim, got "heun"/);
  for (const name of SCHEDULER_NAMES) {
    assert.throws(() => createScheduler(name, { ...base, betaSchedule: 'squaredcos_cap_v2' }, 10), /betaSchedule must be one of linear, scaled_linear/);
    assert.throws(() => createScheduler(name, { ...base, timestepSpacing: 'karras' }, 10), /timestepSpacing must be one of linspace, leading, trailing/);
    assert.throws(() => createScheduler(name, { ...base, predictionType: 'v_prediction' }, 10), /predictionType must be one of epsilon/);
  }
});

test('bad step counts and bad numbers in the config throw', () => {
  for (const name of SCHEDULER_NAMES) {
    for (const steps of [0, -1, 1.5, Number.NaN, 1001]) {
      assert.throws(() => createScheduler(name, base, steps), /from 1 to 1000/, `${name} ${steps} steps`);
    }
    assert.doesNotThrow(() => createScheduler(name, base, 1));
    assert.throws(() => createScheduler(name, { ...base, numTrainTimesteps: 0 }, 1), /numTrainTimesteps/);
    assert.throws(() => createScheduler(name, { ...base, betaStart: 0 }, 1), /betaStart/);
    assert.throws(() => createScheduler(name, { ...base, betaEnd: 1 }, 1), /betaEnd/);
    assert.throws(() => createScheduler(name, { ...base, stepsOffset: -1 }, 1), /stepsOffset/);
  }
  assert.doesNotThrow(() => createScheduler('euler', { ...base, timestepSpacing: 'leading' }, 1000));
  // DDIM would index alphas_cumprod[1000] here (diffusers raises an IndexError).
  assert.throws(() => createScheduler('ddim', { ...base, timestepSpacing: 'leading' }, 1000), /past the last train timestep 999/);
});

test('step and scaleModelInput check the step index and the array lengths', () => {
  for (const name of SCHEDULER_NAMES) {
    const scheduler = createScheduler(name, base, 5);
    const x = new Float32Array(4);
    for (const index of [-1, 5, 0.5]) {
      assert.throws(() => scheduler.scaleModelInput(x, index), RangeError, `${name} scale ${index}`);
      assert.throws(() => scheduler.step(x, index, x, new SeededRandom(0)), RangeError, `${name} step ${index}`);
    }
    assert.throws(() => scheduler.step(new Float32Array(3), 0, x, new SeededRandom(0)), /3 values but the sample has 4/);
  }
});

test('roundHalfEven rounds halves as numpy does', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 499.5, 812.5, 937.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 500, 812, 938, -2, 2, 3]);
});
