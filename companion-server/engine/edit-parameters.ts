import type { BundleManifest } from './bundle/bundle-manifest.ts';
import { MgieError } from './errors.ts';
import { SIZE_MODES, type SizeMode } from './image/edit-size.ts';
import type { ImageLimits } from './image/image-limits.ts';
import { drawSeed } from './random.ts';
import { SCHEDULER_NAMES, type SchedulerName } from './schedulers/scheduler.ts';

export interface EditParameters {
  steps: number;
  guidanceScale: number;
  imageGuidanceScale: number;
  /** The long side, in pixels, the model edits at in size mode 'fit'; the result comes back at the input's size. */
  size: number;
  /** 'fit': the long side scaled to `size`; 'native': the image's own size, as the reference notebook (image/edit-size.ts). */
  sizeMode: SizeMode;
  seed: number;
  scheduler: SchedulerName;
}

/** What a caller may pass; anything left out takes the bundle's defaults (seed: drawn). */
export type EditParameterInput = Partial<EditParameters>;

export const MAX_SEED = 0xffffffff;
const MAX_GUIDANCE = 100;

/** Fills defaults and checks every parameter, naming the bad one and its allowed range. */
export function resolveEditParameters(input: EditParameterInput, manifest: BundleManifest, limits: ImageLimits): EditParameters {
  const { defaults, sizeMultiple, scheduler } = manifest.diffusion;
  const bad = (message: string): never => {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', message);
  };
  const steps = input.steps ?? Math.min(defaults.steps, limits.maxSteps);
  if (!Number.isInteger(steps) || steps < 1 || steps > limits.maxSteps) bad(`steps must be a whole number from 1 to ${limits.maxSteps}, got ${input.steps}.`);
  const guidanceScale = input.guidanceScale ?? defaults.guidanceScale;
  if (!Number.isFinite(guidanceScale) || guidanceScale < 0 || guidanceScale > MAX_GUIDANCE) bad(`guidance must be a number from 0 to ${MAX_GUIDANCE}, got ${input.guidanceScale}.`);
  const imageGuidanceScale = input.imageGuidanceScale ?? defaults.imageGuidanceScale;
  if (!Number.isFinite(imageGuidanceScale) || imageGuidanceScale < 0 || imageGuidanceScale > MAX_GUIDANCE) {
    bad(`image guidance must be a number from 0 to ${MAX_GUIDANCE}, got ${input.imageGuidanceScale}.`);
  }
  const size = input.size ?? Math.min(defaults.size, limits.maxEditSize - (limits.maxEditSize % sizeMultiple));
  if (!Number.isInteger(size) || size < sizeMultiple || size > limits.maxEditSize || size % sizeMultiple !== 0) {
    bad(`size must be a multiple of ${sizeMultiple} from ${sizeMultiple} to ${limits.maxEditSize}, got ${input.size}.`);
  }
  const sizeMode = input.sizeMode ?? 'fit';
  if (!SIZE_MODES.includes(sizeMode)) bad(`sizeMode must be one of ${SIZE_MODES.join(', ')}, got "${input.sizeMode}".`);
  const seed = input.seed ?? drawSeed();
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) bad(`seed must be a whole number from 0 to ${MAX_SEED}, got ${input.seed}.`);
  const schedulerName = input.scheduler ?? (scheduler.type as SchedulerName);
  if (!SCHEDULER_NAMES.includes(schedulerName)) bad(`scheduler must be one of ${SCHEDULER_NAMES.join(', ')}, got "${input.scheduler}".`);
  return { steps, guidanceScale, imageGuidanceScale, size, sizeMode, seed, scheduler: schedulerName };
}
