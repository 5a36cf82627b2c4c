// What `mgie edit` and `mgie serve` flag parsing share: strict flags and no positionals, --help/-h,
// negative numbers as values, one-line usage errors, and whole numbers within a range.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { isProviderName, PROVIDER_NAMES, type ProviderName } from '../engine/providers/provider-names.ts';
import { HelpRequested, UsageError } from './cli-errors.ts';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** Threads per ONNX Runtime session: beyond this a typo (99999) spawns tens of thousands of threads. */
export const THREADS_RANGE = { min: 1, max: 1024 } as const;

/** The flags' values, typed from `options`. Throws HelpRequested for --help/-h, UsageError for the rest. */
export function parseCommandArgs<T extends OptionSpecs>(args: string[], options: T, usage: string) {
  // Before parsing, so that `mgie edit --help` works whatever else is (or is not) on the line.
  if (args.some((arg) => arg === '--help' || arg === '-h')) throw new HelpRequested(usage);
  try {
    return parseArgs({ args: joinNegativeValues(args, options), options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]}\n${usage}`);
  }
}

/**
 * `--seed -1` as `--seed=-1`: parseArgs takes a value that starts with a dash for an option and calls the
 * line ambiguous. No flag is a digit, so a negative number after a string flag can only be its value.
 */
function joinNegativeValues(args: string[], options: OptionSpecs): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith('--') ? args[i].slice(2) : '';
    if (args[i] === '--') return [...joined, ...args.slice(i)];
    if (options[name]?.type === 'string' && /^-(\d|\.\d)/.test(args[i + 1] ?? '')) {
      joined.push(`${args[i]}=${args[i + 1]}`);
      i++;
    } else joined.push(args[i]);
  }
  return joined;
}

/** A whole number from min to max, or a UsageError naming the flag and the range. */
export function wholeNumberInRange(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${text}".`);
  return value;
}

/** --threads, the same for both commands. */
export function parseThreads(text: string | undefined): number | undefined {
  return text === undefined ? undefined : wholeNumberInRange(text, '--threads', THREADS_RANGE.min, THREADS_RANGE.max);
}

/** `[--provider auto|cpu|...]` for a usage text. */
export const PROVIDER_USAGE = `[--provider ${PROVIDER_NAMES.join('|')}]`;

/** --provider, the same for every command: `auto` unless named; an unknown name lists the valid ones. */
export function parseProvider(text: string | undefined): ProviderName {
  const name = (text ?? 'auto').trim().toLowerCase();
  if (!isProviderName(name)) throw new UsageError(`--provider must be one of ${PROVIDER_NAMES.join(', ')}, got "${text}".`);
  return name;
}
