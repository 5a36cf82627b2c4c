// noiseToStepOutput: the original noised to the level a step's output lies at (masked edits blend with it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DdimScheduler } from '../../companion-server/engine/schedulers/ddim-scheduler.ts';
import { EulerAncestralScheduler } from '../../companion-server/engine/schedulers/euler-ancestral-scheduler.ts';
import { EulerScheduler } from '../../companion-server/engine/schedulers/euler-scheduler.ts';
import { alphasCumprodFor, betasFor } from '../../companion-server/engine/schedulers/noise-schedule.ts';
import type { SchedulerConfig } from '../../companion-server/engine/schedulers/scheduler.ts';

const config: SchedulerConfig = {
  type: 'euler-ancestral',
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  timestepSpacing: 'linspace',
  stepsOffset: 1,
  predictionType: 'epsilon',
};
const original = Float32Array.from([0.5, -1.25, 2]);
const noise = Float32Array.from([1, -0.5, 0.25]);

for (const Scheduler of [EulerAncestralScheduler, EulerScheduler]) {
  test(`${Scheduler.name}: x0 + noise * sigma of the next step; the original itself after the last`, () => {
    const scheduler = new Scheduler(config, 5);
    const out = scheduler.noiseToStepOutput(original, noise, 1);
    for (let i = 0; i < 3; i++) assert.equal(out[i], Math.fround(original[i] + noise[i] * scheduler.sigmas[2]));
    assert.deepEqual(scheduler.noiseToStepOutput(original, noise, 4), original);
    assert.throws(() => scheduler.noiseToStepOutput(original, noise, 5), /stepIndex must be a whole number from 0 to 4/);
    assert.throws(() => scheduler.noiseToStepOutput(original, noise.subarray(1), 0), /the noise has 2 values but the original has 3/);
  });
}

test('DdimScheduler: add_noise at the step\'s previous timestep; the original itself after the last', () => {
  const scheduler = new DdimScheduler({ ...config, type: 'ddim' }, 4);
  const acp = alphasCumprodFor(betasFor('scaled_linear', 0.00085, 0.012, 1000));
  const prevT = scheduler.timesteps[0] - 250;
  const out = scheduler.noiseToStepOutput(original, noise, 0);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(out[i] - (Math.sqrt(acp[prevT]) * original[i] + Math.sqrt(1 - acp[prevT]) * noise[i])) < 1e-6);
  assert.deepEqual(scheduler.noiseToStepOutput(original, noise, 3), original);
});
