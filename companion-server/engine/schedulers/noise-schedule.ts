// The training noise schedule and the inference timesteps shared by the schedulers, following diffusers'
// EulerAncestralDiscreteScheduler, EulerDiscreteScheduler and DDIMScheduler (`__init__` and
// `set_timesteps`). Everything is float64: diffusers keeps betas, alphas_cumprod and sigmas in float32,
// which moves sigmas by about 1e-6 relative; the latents stay float32 in both.
import type { SchedulerConfig } from './scheduler.ts';

export const BETA_SCHEDULES = ['linear', 'scaled_linear'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];
export const TIMESTEP_SPACINGS = ['linspace', 'leading', 'trailing'] as const;
export type TimestepSpacing = (typeof TIMESTEP_SPACINGS)[number];
export const PREDICTION_TYPES = ['epsilon'] as const;
export type PredictionType = (typeof PREDICTION_TYPES)[number];

/** A checked scheduler config with the train-time schedule worked out, for `numInferenceSteps` steps. */
export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly numInferenceSteps: number;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** cumprod(1 - beta), one per train timestep. */
  readonly alphasCumprod: Float64Array;
  /** sqrt((1 - acp) / acp), one per train timestep, ascending. */
  readonly trainSigmas: Float64Array;
}

/** Checks every field of `config` and the step count; errors name the field and list the allowed values. */
export function noiseScheduleFor(config: SchedulerConfig, numInferenceSteps: number): NoiseSchedule {
  const { numTrainTimesteps, betaStart, betaEnd, stepsOffset } = config;
  if (!Number.isInteger(numTrainTimesteps) || numTrainTimesteps < 2) {
    throw new RangeError(`numTrainTimesteps must be a whole number of at least 2, got ${numTrainTimesteps}.`);
  }
  for (const [name, beta] of [['betaStart', betaStart], ['betaEnd', betaEnd]] as const) {
    if (!(typeof beta === 'number' && beta > 0 && beta < 1)) throw new RangeError(`${name} must be a number between 0 and 1 (exclusive), got ${beta}.`);
  }
  const betaSchedule = oneOf(config.betaSchedule, BETA_SCHEDULES, 'betaSchedule');
  const timestepSpacing = oneOf(config.timestepSpacing, TIMESTEP_SPACINGS, 'timestepSpacing');
  oneOf(config.predictionType, PREDICTION_TYPES, 'predictionType');
  if (!Number.isInteger(stepsOffset) || stepsOffset < 0) {
    throw new RangeError(`stepsOffset must be a whole number of at least 0, got ${stepsOffset}.`);
  }
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1 || numInferenceSteps > numTrainTimesteps) {
    throw new RangeError(`the number of inference steps must be a whole number from 1 to ${numTrainTimesteps} (numTrainTimesteps), got ${numInferenceSteps}.`);
  }
  const alphasCumprod = alphasCumprodFor(betasFor(betaSchedule, betaStart, betaEnd, numTrainTimesteps));
  return { numTrainTimesteps, numInferenceSteps, timestepSpacing, stepsOffset, alphasCumprod, trainSigmas: trainSigmasFor(alphasCumprod) };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value as T)) throw new Error(`${field} must be one of ${allowed.join(', ')}, got "${String(value)}".`);
  return value as T;
}

/** numpy.linspace (endpoint included): start + i * step, last value exactly `stop`; [start] when num is 1. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) out[0] = start;
  if (num < 2) return out;
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num - 1; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** numpy.round / rint: halves go to the even neighbour (499.5 -> 500, 812.5 -> 812). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** diffusers: "linear" = linspace(start, end, N); "scaled_linear" = linspace(sqrt(start), sqrt(end), N)^2. */
export function betasFor(schedule: BetaSchedule, betaStart: number, betaEnd: number, numTrainTimesteps: number): Float64Array {
  if (schedule === 'linear') return linspace(betaStart, betaEnd, numTrainTimesteps);
  const roots = linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), numTrainTimesteps);
  for (let i = 0; i < roots.length; i++) roots[i] *= roots[i];
  return roots;
}

/** alphas_cumprod = cumprod(1 - betas), accumulated in order as numpy does. */
export function alphasCumprodFor(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) out[i] = product *= 1 - betas[i];
  return out;
}

/** The k-diffusion sigma of each train timestep: sqrt((1 - acp) / acp). */
export function trainSigmasFor(alphasCumprod: Float64Array): Float64Array {
  const out = new Float64Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt((1 - alphasCumprod[i]) / alphasCumprod[i]);
  return out;
}

/**
 * Inference timesteps, descending, as diffusers' Euler schedulers compute them:
 * - linspace: linspace(0, N - 1, n) reversed, fractional (stepsOffset unused; n = 1 gives [0], as numpy);
 * - leading: arange(n) * (N // n) reversed, plus stepsOffset;
 * - trailing: round(arange(N, 0, -N / n)) - 1 (stepsOffset unused).
 * numpy's float arange sometimes yields one extra element (for N = 1000: n = 61, 103, ...; the extra
 * timestep is -1, and diffusers then runs a spurious step); exactly n are kept here.
 */
export function timestepsFor(spacing: TimestepSpacing, numInferenceSteps: number, numTrainTimesteps: number, stepsOffset: number): Float64Array {
  const n = numInferenceSteps;
  const out = new Float64Array(n);
  if (spacing === 'linspace') {
    const ascending = linspace(0, numTrainTimesteps - 1, n);
    for (let i = 0; i < n; i++) out[i] = ascending[n - 1 - i];
  } else if (spacing === 'leading') {
    const stepRatio = Math.floor(numTrainTimesteps / n);
    for (let i = 0; i < n; i++) out[i] = (n - 1 - i) * stepRatio + stepsOffset;
  } else {
    // numpy fills a float arange as start + i * (a[1] - a[0]), not start + i * step.
    const start = numTrainTimesteps;
    const delta = (start - numTrainTimesteps / n) - start;
    for (let i = 0; i < n; i++) out[i] = roundHalfEven(start + i * delta) - 1;
  }
  return out;
}

/** numpy.interp(x, arange(len(values)), values): linear in between, clamped to the end values outside. */
export function interpolateAt(values: Float64Array, x: number): number {
  const last = values.length - 1;
  if (!(x > 0)) return values[0];
  if (x >= last) return values[last];
  const j = Math.floor(x);
  // Same operation order as numpy: slope * (x - xp[j]) + fp[j], with xp[j + 1] - xp[j] = 1.
  return (values[j + 1] - values[j]) * (x - j) + values[j];
}

/** The Euler schedulers' sigmas: train sigmas interpolated at each timestep, then a final 0. */
export function eulerSigmasFor(schedule: NoiseSchedule, timesteps: Float64Array): Float64Array {
  const sigmas = new Float64Array(timesteps.length + 1);
  for (let i = 0; i < timesteps.length; i++) sigmas[i] = interpolateAt(schedule.trainSigmas, timesteps[i]);
  return sigmas;
}

/** diffusers' Euler init_noise_sigma: sigma max for linspace/trailing spacing, sqrt(max^2 + 1) otherwise. */
export function eulerInitNoiseSigma(spacing: TimestepSpacing, sigmas: Float64Array): number {
  let max = 0;
  for (const sigma of sigmas) max = Math.max(max, sigma);
  return spacing === 'linspace' || spacing === 'trailing' ? max : Math.sqrt(max * max + 1);
}

/** The Euler schedulers' scale_model_input: x / sqrt(sigma^2 + 1), into a new array. */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const denominator = Math.sqrt(sigma * sigma + 1);
  const out = new Float32Array(sample.length);
  for (let i = 0; i < out.length; i++) out[i] = sample[i] / denominator;
  return out;
}

export function checkStepIndex(stepIndex: number, numInferenceSteps: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= numInferenceSteps) {
    throw new RangeError(`stepIndex must be a whole number from 0 to ${numInferenceSteps - 1}, got ${stepIndex}.`);
  }
}

/** The checks every scheduler's `step` makes before touching the arrays. */
export function checkStepArguments(stepIndex: number, numInferenceSteps: number, modelOutput: Float32Array, sample: Float32Array): void {
  checkStepIndex(stepIndex, numInferenceSteps);
  if (modelOutput.length !== sample.length) {
    throw new RangeError(`the model output has ${modelOutput.length} values but the sample has ${sample.length}.`);
  }
}

/** The Euler schedulers' add_noise at the sigma a step steps to: original + noise * sigmas[stepIndex + 1]. */
export function noiseToSigma(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  if (noise.length !== original.length) throw new RangeError(`the noise has ${noise.length} values but the original has ${original.length}.`);
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = original[i] + noise[i] * sigma;
  return out;
}
