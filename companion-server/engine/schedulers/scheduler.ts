// The interface the denoising loop drives, and the factory that builds a scheduler from the bundle's
// config (diffusers' SchedulerMixin shape: timesteps, init_noise_sigma, scale_model_input, step).
import { DdimScheduler } from './ddim-scheduler.ts';
import { EulerAncestralScheduler } from './euler-ancestral-scheduler.ts';
import { EulerScheduler } from './euler-scheduler.ts';

export const SCHEDULER_NAMES = ['euler-ancestral', 'euler', 'ddim'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/**
 * `diffusion.scheduler` in the bundle manifest: diffusers' scheduler_config.json in camelCase. String
 * fields are checked by `createScheduler`, which lists the allowed values
 * (betaSchedule: linear | scaled_linear; timestepSpacing: linspace | leading | trailing; predictionType: epsilon).
 */
export interface SchedulerConfig {
  /** The scheduler an edit uses unless it names another. */
  type: string;
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: string;
  timestepSpacing: string;
  stepsOffset: number;
  predictionType: string;
}

export interface SchedulerStepOutput {
  /** The sample for the next step (a new array). */
  prevSample: Float32Array;
  /** The denoised estimate x0 at this step (a new array). */
  predOriginalSample: Float32Array;
}

/**
 * Where a step draws fresh noise from: an edit's TorchGenerator, so that each draw is torch.randn of the
 * sample's shape on the seed's generator, in the order diffusers' schedulers draw.
 */
export interface NoiseSource {
  /** Fills `out` with standard normal values and returns it. */
  fillNormal(out: Float32Array): Float32Array;
}

/** One denoising run of `timesteps.length` steps, driven by position (stepIndex 0..n-1). */
export interface Scheduler {
  /** The UNet's timestep at each step, descending; fractional for the Euler schedulers' linspace spacing. */
  readonly timesteps: Float64Array;
  /** Initial latents are standard normal noise times this. */
  readonly initNoiseSigma: number;
  /** The UNet input for this step, as a new array; `sample` is left untouched. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /** One step back from `sample` given the model's epsilon prediction; `noise` supplies any fresh noise. */
  step(noisePred: Float32Array, stepIndex: number, sample: Float32Array, noise: NoiseSource): SchedulerStepOutput;
  /**
   * `original` (a clean latent) noised with `noise` to the level of step `stepIndex`'s output, as diffusers'
   * add_noise at that level: what a masked edit keeps outside the mask (blended latent diffusion). After the
   * last step the level is 0, so `original` comes back unchanged, as a new array.
   */
  noiseToStepOutput(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array;
}

/** Builds the named scheduler for `numInferenceSteps` steps (1..numTrainTimesteps); bad config throws. */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, numInferenceSteps: number): Scheduler {
  switch (name) {
    case 'euler-ancestral':
      return new EulerAncestralScheduler(config, numInferenceSteps);
    case 'euler':
      return new EulerScheduler(config, numInferenceSteps);
    case 'ddim':
      return new DdimScheduler(config, numInferenceSteps);
    default:
      throw new Error(`scheduler must be one of ${SCHEDULER_NAMES.join(', ')}, got "${String(name)}".`);
  }
}
