// Creates a generated bundle when it is missing or was made by another generator version.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_BUNDLE_CONFIG, type GeneratedBundleConfig, TINY_BUNDLE_CONFIG } from './generated-bundle-config.ts';
import { generatorStamp, writeGeneratedBundleAsync } from './write-generated-bundle.ts';

/** Generated bundles live in the git-ignored .bundles/ folder at the project root. */
export const GENERATED_BUNDLES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.bundles');

export function generatedBundleDir(config: GeneratedBundleConfig): string {
  return path.join(GENERATED_BUNDLES_DIR, config.name);
}

export const tinyBundleDir = (): string => generatedBundleDir(TINY_BUNDLE_CONFIG);
export const benchBundleDir = (): string => generatedBundleDir(BENCH_BUNDLE_CONFIG);

export interface EnsureResult {
  directory: string;
  created: boolean;
  milliseconds: number;
}

export async function ensureGeneratedBundleAsync(config: GeneratedBundleConfig, options: { force?: boolean; directory?: string } = {}): Promise<EnsureResult> {
  const started = performance.now();
  const directory = options.directory ?? generatedBundleDir(config);
  if (!options.force && (await currentStampAsync(directory)) === generatorStamp(config)) {
    return { directory, created: false, milliseconds: performance.now() - started };
  }
  await writeGeneratedBundleAsync(config, directory);
  return { directory, created: true, milliseconds: performance.now() - started };
}

async function currentStampAsync(directory: string): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(directory, 'mgie-bundle.json'), 'utf8'));
    return manifest?.generator?.stamp;
  } catch {
    return undefined;
  }
}
