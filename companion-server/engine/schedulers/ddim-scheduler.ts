// Deterministic DDIM (diffusers' DDIMScheduler with eta = 0, clip_sample = false, set_alpha_to_one = false):
// x0 = (x - sqrt(1 - a_t) * eps) / sqrt(a_t); x' = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps,
// where a_prev is taken at t - N // n (diffusers' prev_timestep, even where the schedule's next
// timestep differs) and is alphas_cumprod[0] once that falls below 0.
import { checkStepArguments, checkStepIndex, noiseScheduleFor, roundHalfEven, timestepsFor } from './noise-schedule.ts';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerStepOutput } from './scheduler.ts';

export class DdimScheduler implements Scheduler {
  /** Whole-number timesteps, descending. */
  readonly timesteps: Float64Array;
  readonly initNoiseSigma = 1;
  private readonly alphasCumprod: Float64Array;
  private readonly stepRatio: number;

  constructor(config: SchedulerConfig, numInferenceSteps: number) {
    const schedule = noiseScheduleFor(config, numInferenceSteps);
    const { numTrainTimesteps: N, numInferenceSteps: n } = schedule;
    this.timesteps = timestepsFor(schedule.timestepSpacing, n, N, schedule.stepsOffset);
    // DDIM rounds the linspace spacing to whole timesteps: linspace(0, N - 1, n).round()[::-1].
    if (schedule.timestepSpacing === 'linspace') this.timesteps.forEach((t, i, all) => (all[i] = roundHalfEven(t)));
    // "leading" plus stepsOffset can pass the last train timestep; diffusers fails there with an IndexError.
    if (this.timesteps[0] > N - 1) {
      throw new RangeError(`DDIM with leading spacing and stepsOffset ${schedule.stepsOffset} reaches timestep ${this.timesteps[0]}, past the last train timestep ${N - 1}; use fewer than ${n} steps.`);
    }
    this.alphasCumprod = schedule.alphasCumprod;
    this.stepRatio = Math.floor(N / n);
  }

  /** DDIM does not scale its input; returns a copy so callers may always own the result. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    return sample.slice();
  }

  /**
   * A step's output lies at a_prev (see step): sqrt(a_prev) * x0 + sqrt(1 - a_prev) * noise, as add_noise.
   * After the last step the output is taken as the clean image, so the original comes back unchanged.
   */
  noiseToStepOutput(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    checkStepIndex(stepIndex, this.timesteps.length);
    if (noise.length !== original.length) throw new RangeError(`the noise has ${noise.length} values but the original has ${original.length}.`);
    if (stepIndex === this.timesteps.length - 1) return original.slice();
    const prevT = this.timesteps[stepIndex] - this.stepRatio;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.alphasCumprod[0];
    const a = Math.sqrt(alphaProdPrev);
    const b = Math.sqrt(1 - alphaProdPrev);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = a * original[i] + b * noise[i];
    return out;
  }

  /** `random` is not used: with eta = 0 the step is deterministic. */
  step(noisePred: Float32Array, stepIndex: number, sample: Float32Array, _noise?: NoiseSource): SchedulerStepOutput {
    checkStepArguments(stepIndex, this.timesteps.length, noisePred, sample);
    const t = this.timesteps[stepIndex];
    const prevT = t - this.stepRatio;
    const alphaProd = this.alphasCumprod[t];
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.alphasCumprod[0];
    const sqrtAlpha = Math.sqrt(alphaProd);
    const sqrtBeta = Math.sqrt(1 - alphaProd);
    const sqrtAlphaPrev = Math.sqrt(alphaProdPrev);
    const direction = Math.sqrt(1 - alphaProdPrev);
    const prevSample = new Float32Array(sample.length);
    const predOriginalSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const eps = noisePred[i];
      const x0 = (sample[i] - sqrtBeta * eps) / sqrtAlpha;
      predOriginalSample[i] = x0;
      prevSample[i] = sqrtAlphaPrev * x0 + direction * eps;
    }
    return { prevSample, predOriginalSample };
  }
}
