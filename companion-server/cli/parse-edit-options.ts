// Turns `mgie edit` flags into a typed options object; nothing else.
import { parseArgs } from 'node:util';
import type { EditParameterInput } from '../engine/edit-parameters.ts';
import { SCHEDULER_NAMES, type SchedulerName } from '../engine/schedulers/scheduler.ts';

export class UsageError extends Error {}

export interface EditCommandOptions {
  image: string;
  instruction: string;
  out: string;
  bundle?: string;
  json: boolean;
  parameters: EditParameterInput;
  executionProvider?: string;
  threads?: number;
  /** A float32 .npy of unit-variance noise for the initial latents (comparisons with a reference run). */
  initialNoise?: string;
}

export const EDIT_USAGE = `Usage: mgie edit --image IN --instruction TEXT --out OUT [--bundle DIR] [--seed N] [--steps N]
                 [--guidance F] [--image-guidance F] [--size N] [--scheduler ${SCHEDULER_NAMES.join('|')}]
                 [--provider cpu|cuda|webgpu|coreml] [--threads N] [--initial-noise NOISE.npy] [--json]`;

export function parseEditOptions(args: string[]): EditCommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        image: { type: 'string' },
        instruction: { type: 'string' },
        out: { type: 'string' },
        bundle: { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        guidance: { type: 'string' },
        'image-guidance': { type: 'string' },
        size: { type: 'string' },
        scheduler: { type: 'string' },
        provider: { type: 'string' },
        threads: { type: 'string' },
        'initial-noise': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]}\n${EDIT_USAGE}`);
  }
  for (const required of ['image', 'instruction', 'out'] as const) {
    if (!values[required]) throw new UsageError(`--${required} is required.\n${EDIT_USAGE}`);
  }
  if (values.scheduler !== undefined && !SCHEDULER_NAMES.includes(values.scheduler as SchedulerName)) {
    throw new UsageError(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')}, got "${values.scheduler}".`);
  }
  const parameters: EditParameterInput = {
    seed: wholeNumber(values.seed, '--seed'),
    steps: wholeNumber(values.steps, '--steps'),
    guidanceScale: decimal(values.guidance, '--guidance'),
    imageGuidanceScale: decimal(values['image-guidance'], '--image-guidance'),
    size: wholeNumber(values.size, '--size'),
    scheduler: values.scheduler as SchedulerName | undefined,
  };
  return {
    image: values.image!,
    instruction: values.instruction!,
    out: values.out!,
    bundle: values.bundle,
    json: values.json ?? false,
    parameters: Object.fromEntries(Object.entries(parameters).filter(([, v]) => v !== undefined)),
    executionProvider: values.provider,
    threads: wholeNumber(values.threads, '--threads'),
    initialNoise: values['initial-noise'],
  };
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
