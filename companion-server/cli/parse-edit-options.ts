// Turns `mgie edit` flags (and MGIE_BUNDLE) into a typed options object; nothing else.
import { type EditParameterInput, MAX_SEED } from '../engine/edit-parameters.ts';
import { SIZE_MODES, type SizeMode } from '../engine/image/edit-size.ts';
import { DEFAULT_LIMITS } from '../engine/image/image-limits.ts';
import { MAX_CHAIN_STEPS, MAX_VARIATIONS } from '../engine/edit-counts.ts';
import { SCHEDULER_NAMES, type SchedulerName } from '../engine/schedulers/scheduler.ts';
import { UsageError } from './cli-errors.ts';
import { type OutputFormat, outputFormatOf } from './edit-output.ts';
import { parseCommandArgs, parseProvider, parseThreads, PROVIDER_USAGE } from './parse-command-args.ts';

export interface EditCommandOptions {
  image: string;
  /** The instruction itself, or (exactly one of the two) the file it is in; `-` is stdin. */
  instruction?: string;
  instructionFile?: string;
  /** --instruction given more than once: a chain, each instruction editing the previous one's result. */
  instructions?: string[];
  /** With a chain: write every step's picture too (OUT-step1.png, ...). */
  saveSteps?: boolean;
  /** The designer's expressive instruction, or (exactly one of the two) the file it is in; `-` is stdin. */
  expressive?: string;
  expressiveFile?: string;
  /** A mask picture: white edits, black keeps. */
  mask?: string;
  /** 1..MAX_VARIATIONS edits in one run, written to OUT-1 .. OUT-N. */
  variations?: number;
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
                 [--expressive TEXT | --expressive-file FILE] [--mask MASK.png] [--variations N]
                 [--initial-noise NOISE.npy] [--json]
       mgie edit --image IN --instruction A --instruction B [...] --out OUT.png [--save-steps] [--mask MASK.png] [...]
--instruction-file - reads the instruction from stdin. --seed -1 (the default) draws a random seed.
--expressive gives MGIE's expressive instruction instead of generating it. --mask: white edits, black keeps
(at the image's size or proportions). --variations N (1 to ${MAX_VARIATIONS}) writes OUT-1 .. OUT-N, seeds seed .. seed+N-1.
--instruction given 2 to ${MAX_CHAIN_STEPS} times runs a chain, each step editing the last; --save-steps also writes OUT-step1 ...
--size-mode fit (the default) scales the long side to --size; native edits at the image's own size, as the
MGIE notebook does, up to the edit size limit (${DEFAULT_LIMITS.maxEditSize} px a side).
Environment: MGIE_BUNDLE (--bundle wins).`;

export function parseEditOptions(args: string[], env: NodeJS.ProcessEnv = process.env): EditCommandOptions {
  const values = parseCommandArgs(
    args,
    {
      image: { type: 'string' },
      instruction: { type: 'string', multiple: true },
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
      expressive: { type: 'string' },
      'expressive-file': { type: 'string' },
      mask: { type: 'string' },
      variations: { type: 'string' },
      'save-steps': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    EDIT_USAGE,
  );
  for (const required of ['image', 'out'] as const) {
    if (!values[required]) throw new UsageError(`--${required} is required.\n${EDIT_USAGE}`);
  }
  const instructions = values.instruction;
  if (instructions !== undefined && values['instruction-file'] !== undefined) {
    throw new UsageError('Give the instruction once: --instruction TEXT or --instruction-file FILE, not both.');
  }
  // An empty --instruction "" is caught with the other instruction checks, which say what to write.
  if (instructions === undefined && !values['instruction-file']) {
    throw new UsageError(`--instruction or --instruction-file is required.\n${EDIT_USAGE}`);
  }
  const chain = instructions !== undefined && instructions.length > 1;
  if (chain && instructions.length > MAX_CHAIN_STEPS) {
    throw new UsageError(`A chain takes at most ${MAX_CHAIN_STEPS} instructions, got ${instructions.length}. Run the rest as a second chain on this one's result.`);
  }
  if (values.expressive !== undefined && values['expressive-file'] !== undefined) {
    throw new UsageError('Give the expressive instruction once: --expressive TEXT or --expressive-file FILE, not both.');
  }
  if (values['expressive-file'] === '-' && values['instruction-file'] === '-') {
    throw new UsageError('Only one of --instruction-file and --expressive-file can read stdin (-); put the other in a file.');
  }
  const variations = wholeNumber(values.variations, '--variations');
  if (variations !== undefined && (variations < 1 || variations > MAX_VARIATIONS)) {
    throw new UsageError(`--variations must be a whole number from 1 to ${MAX_VARIATIONS}, got "${values.variations}".`);
  }
  if (chain && (values.expressive !== undefined || values['expressive-file'] !== undefined)) {
    throw new UsageError('--expressive is for one instruction: each step of a chain imagines its own. Drop it, or run the steps one by one.');
  }
  if (chain && variations !== undefined && variations > 1) {
    throw new UsageError('--variations is for one instruction, not a chain. Run the chain, then ask for variations of its last step.');
  }
  if (!chain && values['save-steps']) throw new UsageError('--save-steps is for a chain: give --instruction more than once.');
  if (values['initial-noise'] !== undefined && variations !== undefined && variations > 1) {
    throw new UsageError('--initial-noise is for one edit; leave out --variations with it.');
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
    instruction: instructions?.[0],
    instructionFile: values['instruction-file'],
    ...(chain ? { instructions } : {}),
    saveSteps: values['save-steps'] ?? false,
    expressive: values.expressive,
    expressiveFile: values['expressive-file'],
    mask: values.mask,
    variations,
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
