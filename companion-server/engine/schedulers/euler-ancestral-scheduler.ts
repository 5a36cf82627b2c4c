// Euler ancestral sampling (k-diffusion's sample_euler_ancestral, as diffusers'
// EulerAncestralDiscreteScheduler): the scheduler MGIE's reference runs (mgie-reference.md, section 6).
import { checkStepArguments, checkStepIndex, eulerInitNoiseSigma, eulerSigmasFor, noiseScheduleFor, noiseToSigma, scaleBySigma, timestepsFor } from './noise-schedule.ts';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepOutput } from './scheduler.ts';

export class EulerAncestralScheduler implements Scheduler {
  readonly timesteps: Float64Array;
  /** sigma at each step, with a final 0 appended (n + 1 values). */
  readonly sigmas: Float64Array;
  /** The noise added at each step: sqrt(s_to^2 * (s_from^2 - s_to^2) / s_from^2). */
  readonly sigmaUps: Float64Array;
  /** The sigma the deterministic part steps to: sqrt(s_to^2 - sigma_up^2). */
  readonly sigmaDowns: Float64Array;
  readonly initNoiseSigma: number;
  private noise: Float32Array | undefined;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const schedule = noiseScheduleFor(config, numInferenceSteps);
    const n = schedule.numInferenceSteps;
    this.timesteps = timestepsFor(schedule.timestepSpacing, n, schedule.numTrainTimesteps, schedule.stepsOffset);
    this.sigmas = eulerSigmasFor(schedule, this.timesteps);
    this.initNoiseSigma = eulerInitNoiseSigma(schedule.timestepSpacing, this.sigmas);
    this.sigmaUps = new Float64Array(n);
    this.sigmaDowns = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const from2 = this.sigmas[i] ** 2;
      const to2 = this.sigmas[i + 1] ** 2;
      // max(0, .) only guards rounding; both are >= 0 whenever sigmas do not increase.
      this.sigmaUps[i] = Math.sqrt(Math.max(0, (to2 * (from2 - to2)) / from2));
      this.sigmaDowns[i] = Math.sqrt(Math.max(0, to2 - this.sigmaUps[i] ** 2));
    }
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

  /**
   * Draws this step's noise, one draw of the sample's shape, into a reused buffer and steps with it: as
   * diffusers' step draws randn_tensor(model_output.shape, generator=...) at every step, the last included
   * (where sigma_up is 0), after computing sigma_up.
   */
  step(noisePred: Float32Array, stepIndex: number, sample: Float32Array, noise: NoiseSource): SchedulerStepOutput {
    checkStepArguments(stepIndex, this.timesteps.length, noisePred, sample);
    if (this.noise?.length !== sample.length) this.noise = new Float32Array(sample.length);
    return this.stepWithNoise(noisePred, stepIndex, sample, noise.fillNormal(this.noise));
  }

  /** The step with the ancestral noise given: x0 = x - sigma * eps; x' = x + eps * (sigma_down - sigma) + noise * sigma_up. */
  stepWithNoise(noisePred: Float32Array, stepIndex: number, sample: Float32Array, noise: Float32Array): SchedulerStepOutput {
    checkStepArguments(stepIndex, this.timesteps.length, noisePred, sample);
    if (noise.length !== sample.length) throw new RangeError(`the noise has ${noise.length} values but the sample has ${sample.length}.`);
    const sigma = this.sigmas[stepIndex];
    const dt = this.sigmaDowns[stepIndex] - sigma;
    const sigmaUp = this.sigmaUps[stepIndex];
    const prevSample = new Float32Array(sample.length);
    const predOriginalSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i];
      const x0 = x - sigma * noisePred[i];
      predOriginalSample[i] = x0;
      // derivative (x - x0) / sigma, as diffusers writes it (equal to eps up to rounding)
      prevSample[i] = x + ((x - x0) / sigma) * dt + noise[i] * sigmaUp;
    }
    return { prevSample, predOriginalSample };
  }
}
