// The scheduler config checks and the numeric helpers of noise-schedule.ts, at their boundaries and
// with the exact wording a bundle author reads. (schedulers.test.ts checks the numbers against numpy.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkStepArguments,
  checkStepIndex,
  eulerInitNoiseSigma,
  interpolateAt,
  linspace,
  noiseScheduleFor,
  scaleBySigma,
} from '../../companion-server/engine/schedulers/noise-schedule.ts';
import type { SchedulerConfig } from '../../companion-server/engine/schedulers/scheduler.ts';

const base = {
  type: 'euler',
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  timestepSpacing: 'linspace',
  stepsOffset: 1,
  predictionType: 'epsilon',
} as SchedulerConfig;

function assertRefused(config: Partial<SchedulerConfig> & Record<string, unknown>, steps: number, message: string): void {
  assert.throws(() => noiseScheduleFor({ ...base, ...config } as SchedulerConfig, steps), (error: Error) => error.message === message, message);
}

test('numTrainTimesteps: a whole number of at least 2', () => {
  assert.equal(noiseScheduleFor({ ...base, numTrainTimesteps: 2 }, 1).alphasCumprod.length, 2);
  for (const n of [1, 0, 2.5]) assertRefused({ numTrainTimesteps: n }, 1, `numTrainTimesteps must be a whole number of at least 2, got ${n}.`);
});

test('betaStart and betaEnd: numbers strictly between 0 and 1', () => {
  for (const key of ['betaStart', 'betaEnd'] as const) {
    for (const beta of [0, 1, -0.1, 1.5, Number.NaN, '0.1']) {
      assertRefused({ [key]: beta }, 1, `${key} must be a number between 0 and 1 (exclusive), got ${beta}.`);
    }
    assert.doesNotThrow(() => noiseScheduleFor({ ...base, [key]: 0.5 }, 1));
    assert.doesNotThrow(() => noiseScheduleFor({ ...base, [key]: 1e-9 }, 1));
    assert.doesNotThrow(() => noiseScheduleFor({ ...base, [key]: 0.999999 }, 1));
  }
});

test('betaSchedule, timestepSpacing and predictionType: one of the listed values, quoted when not', () => {
  assertRefused({ betaSchedule: 'cosine' }, 1, 'betaSchedule must be one of linear, scaled_linear, got "cosine".');
  assertRefused({ timestepSpacing: undefined }, 1, 'timestepSpacing must be one of linspace, leading, trailing, got "undefined".');
  assertRefused({ predictionType: 'sample' }, 1, 'predictionType must be one of epsilon, got "sample".');
  for (const timestepSpacing of ['linspace', 'leading', 'trailing']) assert.equal(noiseScheduleFor({ ...base, timestepSpacing } as SchedulerConfig, 3).timestepSpacing, timestepSpacing);
});

test('stepsOffset: a whole number of at least 0; inference steps from 1 to numTrainTimesteps', () => {
  assert.equal(noiseScheduleFor({ ...base, stepsOffset: 0 }, 1).stepsOffset, 0);
  for (const offset of [-1, 0.5]) assertRefused({ stepsOffset: offset }, 1, `stepsOffset must be a whole number of at least 0, got ${offset}.`);
  assert.equal(noiseScheduleFor(base, 1000).numInferenceSteps, 1000);
  for (const steps of [0, 1001, 2.5]) assertRefused({}, steps, `the number of inference steps must be a whole number from 1 to 1000 (numTrainTimesteps), got ${steps}.`);
});

test('linear and scaled-linear betas give their own alphas_cumprod, decreasing from 1 - betaStart', () => {
  const linear = noiseScheduleFor({ ...base, betaSchedule: 'linear', betaStart: 0.1, betaEnd: 0.3, numTrainTimesteps: 3 }, 1);
  assert.deepEqual([...linear.alphasCumprod].map((x) => +x.toFixed(12)), [0.9, 0.9 * 0.8, 0.9 * 0.8 * 0.7].map((x) => +x.toFixed(12)));
  const scaled = noiseScheduleFor({ ...base, betaSchedule: 'scaled_linear', betaStart: 0.01, betaEnd: 0.09, numTrainTimesteps: 3 }, 1);
  // sqrt: 0.1, 0.2, 0.3 -> betas 0.01, 0.04, 0.09
  assert.deepEqual([...scaled.alphasCumprod].map((x) => +x.toFixed(12)), [0.99, 0.99 * 0.96, 0.99 * 0.96 * 0.91].map((x) => +x.toFixed(12)));
  assert.deepEqual([...scaled.trainSigmas].map((x) => +x.toFixed(12)), [...scaled.alphasCumprod].map((a) => +Math.sqrt((1 - a) / a).toFixed(12)));
});

test('linspace: endpoints exact, [start] for one value, nothing for none', () => {
  assert.deepEqual([...linspace(2, 4, 5)], [2, 2.5, 3, 3.5, 4]);
  assert.deepEqual([...linspace(0, 1, 2)], [0, 1]);
  assert.deepEqual([...linspace(7, 9, 1)], [7]);
  assert.deepEqual([...linspace(7, 9, 0)], []);
});

test('interpolateAt: linear between samples, the end values outside and for NaN', () => {
  const values = Float64Array.from([10, 20, 40]);
  assert.equal(interpolateAt(values, 0), 10);
  assert.equal(interpolateAt(values, -3), 10);
  assert.equal(interpolateAt(values, Number.NaN), 10);
  assert.equal(interpolateAt(values, 0.25), 12.5);
  assert.equal(interpolateAt(values, 1.5), 30);
  assert.equal(interpolateAt(values, 2), 40);
  assert.equal(interpolateAt(values, 9), 40);
});

test('Euler init noise sigma: the largest sigma for linspace and trailing spacing, sqrt(max^2 + 1) for leading', () => {
  const sigmas = Float64Array.from([3, 4, 0]);
  assert.equal(eulerInitNoiseSigma('linspace', sigmas), 4);
  assert.equal(eulerInitNoiseSigma('trailing', sigmas), 4);
  assert.equal(eulerInitNoiseSigma('leading', sigmas), Math.sqrt(17));
  assert.equal(eulerInitNoiseSigma('leading', Float64Array.from([0, 0])), 1);
});

test('scaleBySigma divides by sqrt(sigma^2 + 1) into a new array', () => {
  const sample = Float32Array.from([5, -10]);
  const out = scaleBySigma(sample, 2);
  assert.notEqual(out, sample);
  assert.deepEqual([...out], [5 / Math.sqrt(5), -10 / Math.sqrt(5)].map((x) => Math.fround(x)));
  assert.deepEqual([...sample], [5, -10]);
});

test('step checks: the index is a whole number inside the schedule; model output and sample have one length', () => {
  assert.doesNotThrow(() => checkStepIndex(0, 5));
  assert.doesNotThrow(() => checkStepIndex(4, 5));
  for (const index of [-1, 5, 1.5]) {
    assert.throws(() => checkStepIndex(index, 5), (error: Error) => error instanceof RangeError && error.message === `stepIndex must be a whole number from 0 to 4, got ${index}.`);
  }
  assert.throws(
    () => checkStepArguments(0, 5, new Float32Array(3), new Float32Array(4)),
    (error: Error) => error instanceof RangeError && error.message === 'the model output has 3 values but the sample has 4.',
  );
  assert.throws(() => checkStepArguments(5, 5, new Float32Array(4), new Float32Array(4)), RangeError);
  assert.doesNotThrow(() => checkStepArguments(4, 5, new Float32Array(4), new Float32Array(4)));
});
