// Turns `mgie edit` flags (and MGIE_BUNDLE) into a typed options object; nothing else.
import { type EditParameterInput, MAX_SEED } from '../engine/edit-parameters.ts';
import { SIZE_MODES, type SizeMode } from '../engine/image/edit-size.ts';
import { DEFAULT_LIMITS } from '../engine/image/image-limits.ts';
import { SCHEDULER_NAMES, type SchedulerName } from '../engine/schedulers/scheduler.ts';
import { UsageError } from './cli-errors.ts';
import { type OutputFormat, outputFormatOf } from './edit-output.ts';
import { parseCommandArgs, parseProvider, parseThreads, PROVIDER_USAGE } from './parse-command-args.ts';

export interface EditCommandOptions {
  image: string;
  /** The instruction itself, or (exactly one of the two) the file it is in; `-` is stdin. */
  instruction?: string;
  instructionFile?: string;
  out: string;
  /** Defaults to the format --out's extension names. */
  outFormat?: OutputFormat;
  bundle?: string;
  json: boolean;
  parameters: EditParameterInput;
  executionProvider?: string;
  threads?: number;
  /** A float32 .npy of unit-variance noise for the initial latents (comparisons with a reference run). */
  initialNoise?: string;
}

export const EDIT_USAGE = `Usage: mgie edit --image IN (--instruction TEXT | --instruction-file FILE) --out OUT.png|.jpg|.webp
                 [--bundle DIR] [--seed N|-1] [--steps N] [--guidance F] [--image-guidance F] [--size N]
                 [--size-mode ${SIZE_MODES.join('|')}] [--scheduler ${SCHEDULER_NAMES.join('|')}] ${PROVIDER_USAGE} [--threads N]
                 [--initial-noise NOISE.npy] [--json]
--instruction-file - reads the instruction from stdin. --seed -1 (the default) draws a random seed.
--size-mode fit (the default) scales the long side to --size; native edits at the image's own size, as the
MGIE notebook does, up to the edit size limit (${DEFAULT_LIMITS.maxEditSize} px a side).
Environment: MGIE_BUNDLE (--bundle wins).`;

export function parseEditOptions(args: string[], env: NodeJS.ProcessEnv = process.env): EditCommandOptions {
  const values = parseCommandArgs(
    args,
    {
      image: { type: 'string' },
      instruction: { type: 'string' },
      'instruction-file': { type: 'string' },
      out: { type: 'string' },
      bundle: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      guidance: { type: 'string' },
      'image-guidance': { type: 'string' },
      size: { type: 'string' },
      'size-mode': { type: 'string' },
      scheduler: { type: 'string' },
      provider: { type: 'string' },
      threads: { type: 'string' },
      'initial-noise': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    EDIT_USAGE,
  );
  for (const required of ['image', 'out'] as const) {
    if (!values[required]) throw new UsageError(`--${required} is required.\n${EDIT_USAGE}`);
  }
  if (values.instruction !== undefined && values['instruction-file'] !== undefined) {
    throw new UsageError('Give the instruction once: --instruction TEXT or --instruction-file FILE, not both.');
  }
  // An empty --instruction "" is caught with the other instruction checks, which say what to write.
  if (values.instruction === undefined && !values['instruction-file']) {
    throw new UsageError(`--instruction or --instruction-file is required.\n${EDIT_USAGE}`);
  }
  if (values.scheduler !== undefined && !SCHEDULER_NAMES.includes(values.scheduler as SchedulerName)) {
    throw new UsageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')}, got "${values.scheduler}".`);
  }
  if (values['size-mode'] !== undefined && !SIZE_MODES.includes(values['size-mode'] as SizeMode)) {
    throw new UsageError(`--size-mode must be one of ${SIZE_MODES.join(', ')}, got "${values['size-mode']}".`);
  }
  const parameters: EditParameterInput = {
    seed: seed(values.seed),
    steps: wholeNumber(values.steps, '--steps'),
    guidanceScale: decimal(values.guidance, '--guidance'),
    imageGuidanceScale: decimal(values['image-guidance'], '--image-guidance'),
    size: wholeNumber(values.size, '--size'),
    sizeMode: values['size-mode'] as SizeMode | undefined,
    scheduler: values.scheduler as SchedulerName | undefined,
  };
  return {
    image: values.image!,
    instruction: values.instruction,
    instructionFile: values['instruction-file'],
    out: values.out!,
    outFormat: outputFormatOf(values.out!),
    bundle: values.bundle ?? (env.MGIE_BUNDLE || undefined),
    json: values.json ?? false,
    parameters: Object.fromEntries(Object.entries(parameters).filter(([, v]) => v !== undefined)),
    executionProvider: parseProvider(values.provider),
    threads: parseThreads(values.threads),
    initialNoise: values['initial-noise'],
  };
}

/** -1 draws a random seed, as in AUTOMATIC1111's web UI; so does leaving --seed out. */
function seed(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '-1') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value > MAX_SEED) {
    throw new UsageError(`--seed must be a whole number from 0 to ${MAX_SEED}, or -1 for a random seed, got "${text}".`);
  }
  return value;
}

function wholeNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} must be a whole number, got "${text}".`);
  return Number(text);
}

function decimal(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} must be a number, got "${text}".`);
  return value;
}
