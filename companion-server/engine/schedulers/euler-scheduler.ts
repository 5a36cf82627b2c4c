// Deterministic Euler sampling (diffusers' EulerDiscreteScheduler with s_churn = 0, so no noise is ever
// added): x' = x + (x - x0) / sigma * (sigma_next - sigma), x0 = x - sigma * eps.
import { checkStepArguments, checkStepIndex, eulerInitNoiseSigma, eulerSigmasFor, noiseScheduleFor, noiseToSigma, scaleBySigma, timestepsFor } from './noise-schedule.ts';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepOutput } from './scheduler.ts';

export class EulerScheduler implements Scheduler {
  readonly timesteps: Float64Array;
  /** sigma at each step, with a final 0 appended (n + 1 values). */
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: number;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const schedule = noiseScheduleFor(config, numInferenceSteps);
    this.timesteps = timestepsFor(schedule.timestepSpacing, schedule.numInferenceSteps, schedule.numTrainTimesteps, schedule.stepsOffset);
    this.sigmas = eulerSigmasFor(schedule, this.timesteps);
    this.initNoiseSigma = eulerInitNoiseSigma(schedule.timestepSpacing, this.sigmas);
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return scaleBySigma(sample, this.sigmas[stepIndex]);
  }

  /** A step's output lies at sigmas[stepIndex + 1] (0 after the last). */
  noiseToStepOutput(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return noiseToSigma(original, noise, this.sigmas[stepIndex + 1]);
  }

  /** `random` is not used: with s_churn = 0 the step is deterministic. */
  step(noisePred: Float32Array, stepIndex: number, sample: Float32Array, _noise?: NoiseSource): SchedulerStepOutput {
    checkStepArguments(stepIndex, this.timesteps.length, noisePred, sample);
    const sigma = this.sigmas[stepIndex];
    const dt = this.sigmas[stepIndex + 1] - sigma;
    const prevSample = new Float32Array(sample.length);
    const predOriginalSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const x0 = x - sigma * noisePred[i];
      predOriginalSample[i] = x0;
      prevSample[i] = x + ((x - x0) / sigma) * dt;
    }
    return { prevSample, predOriginalSample };
  }
}
