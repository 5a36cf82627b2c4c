// `npm run bench`: benchmark figures, never assertions.
//
//   npm run bench                                  the tiny and the generated benchmark bundle
//   npm run bench -- --bundle DIR [--size 256,512] [--steps 4,3] [--threads N] [--torch] [--variations 4]
//   npm run bench -- --real-width [--llm-layers 2] [--llm-weights fp32|int4] [...]   the same on a real-size
//                                                  bundle exported once with --random-init into .bundles/bench-real/
//
// Each bundle is measured in a fresh process, so its peak RSS is its own; the machine's copy bandwidth
// is measured here first, for the decoder's bandwidth bound. --torch then times the same stages on the
// same weights with transformers and diffusers (models/export/bench_torch.py) and prints the ratios.
// Each run ends with one line comparing --variations N (default 4) edits batched in one job against N
// separate edits (on the tiny bundle, or on --bundle DIR at its first size and step count).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MALLOC_TUNABLES } from '../../companion-server/cli/restart-with-malloc-tunables.js';
import { ensureGeneratedBundleAsync, GENERATED_BUNDLES_DIR } from '../../models/tiny/ensure-generated-bundle.ts';
import { BENCH_BUNDLE_CONFIG, TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';
import { type CopyBandwidth, measureCopyBandwidthAsync } from './copy-bandwidth.ts';
import { type BundleFigures, type MeasureOptions, measureBundleEditAsync } from './measure-bundle-edit.ts';
import { measureVariationsAsync, printVariationFigures, type VariationFigures, type VariationOptions } from './measure-variations.ts';
import { printBundleFigures, printTorchComparison } from './print-bench-figures.ts';
import { torchStageTimesAsync } from './torch-stage-times.ts';

const SELF = fileURLToPath(import.meta.url);
const REPO = path.resolve(path.dirname(SELF), '../..');
/** Real-size bundles the benchmark exports for itself (git-ignored with the rest of .bundles/). */
export const REAL_BENCH_DIR = path.join(GENERATED_BUNDLES_DIR, 'bench-real');

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    'real-width': { type: 'boolean', default: false },
    'llm-layers': { type: 'string', default: '2' },
    'llm-weights': { type: 'string', default: 'fp32' },
    size: { type: 'string' },
    steps: { type: 'string' },
    threads: { type: 'string' },
    torch: { type: 'boolean', default: false },
    python: { type: 'string', default: process.env.MGIE_PYTHON ?? 'python3' },
    variations: { type: 'string', default: '4' },
    // internal: the measuring children
    measure: { type: 'string' },
    'measure-variations': { type: 'string' },
  },
});
const numbers = (text: string | undefined, fallback: number[]): number[] => (text ? text.split(',').map(Number) : fallback);

const variations = Number(args.variations);
if (args.measure) {
  process.stdout.write(JSON.stringify(await measureBundleEditAsync(JSON.parse(args.measure) as MeasureOptions)));
} else if (args['measure-variations']) {
  process.stdout.write(JSON.stringify(await measureVariationsAsync(JSON.parse(args['measure-variations']) as VariationOptions)));
} else if (args.bundle || args['real-width']) {
  const directory = args.bundle ? path.resolve(args.bundle) : await ensureRealWidthBundleAsync(Number(args['llm-layers']), args['llm-weights']!);
  // Real size: few steps (a 512 px step of SD 1.5's UNet at batch 3 takes tens of seconds on 2 cores);
  // the first step of each size is reported apart, the median of the others is the figure.
  const sizes = numbers(args.size, [256, 512]);
  const steps = numbers(args.steps, [4, 3]);
  const threads = args.threads ? Number(args.threads) : undefined;
  const bandwidth = await measureCopyBandwidthAsync({ threads: threads ?? cpus().length });
  const figures = await measureInChildAsync({ directory, sizes, steps, intraOpNumThreads: threads });
  printBundleFigures(figures, bandwidth);
  if (args.torch) {
    const torch = await torchStageTimesAsync({ python: args.python!, directory, figures, threads: threads ?? cpus().length, repo: REPO });
    printTorchComparison(figures, torch);
  }
  printVariationFigures(await measureVariationsInChildAsync({ directory, variations, size: sizes[0], steps: steps[0], intraOpNumThreads: threads }));
} else {
  const bandwidth = await measureCopyBandwidthAsync({ threads: cpus().length });
  for (const config of [TINY_BUNDLE_CONFIG, BENCH_BUNDLE_CONFIG]) {
    const { directory } = await ensureGeneratedBundleAsync(config);
    const figures = await measureInChildAsync({ directory, sizes: [config.defaults.size], steps: [config.defaults.steps] });
    printBundleFigures(figures, bandwidth);
  }
  const tiny = await ensureGeneratedBundleAsync(TINY_BUNDLE_CONFIG);
  // 256 px and 20 steps: the comparison's point is the batching, not the tiny bundle's 512 px, 100-step default.
  printVariationFigures(await measureVariationsInChildAsync({ directory: tiny.directory, variations, size: 256, steps: 20 }));
}

/** The child runs with the malloc settings `mgie` starts with (restart-with-malloc-tunables.js), unless MGIE_MALLOC_TUNABLES=0. */
function measureInChildAsync(options: MeasureOptions): Promise<BundleFigures> {
  const tuned = process.env.MGIE_MALLOC_TUNABLES !== '0';
  const env = tuned ? { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, ...MALLOC_TUNABLES].filter(Boolean).join(':') } : process.env;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', SELF, '--measure', JSON.stringify(options)], { maxBuffer: 16 << 20, env }, (error, out, err) =>
      error ? reject(new Error(err || error.message)) : resolve(JSON.parse(out) as BundleFigures),
    ),
  );
}

function measureVariationsInChildAsync(options: VariationOptions): Promise<VariationFigures> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', SELF, '--measure-variations', JSON.stringify(options)], { maxBuffer: 16 << 20 }, (error, out, err) =>
      error ? reject(new Error(err || error.message)) : resolve(JSON.parse(out) as VariationFigures),
    ),
  );
}

/**
 * The real-size bundle of `layers` LLaMA layers, exported once with the exporter's --random-init (seed 0)
 * and kept in .bundles/bench-real/. Needs the exporter's Python packages (models/export/requirements.txt).
 */
async function ensureRealWidthBundleAsync(layers: number, llmWeights: string): Promise<string> {
  const directory = path.join(REAL_BENCH_DIR, `mgie-7b-random-l${layers}-${llmWeights}`);
  const ready = path.join(directory, 'mgie-bundle.json');
  if (existsSync(ready)) return directory;
  const command = [args.python!, '-m', 'models.export', '--random-init', '--llm-layers', String(layers), '--llm-weights', llmWeights, '--out', directory];
  console.log(`Exporting the real-size benchmark bundle once (minutes; ${layers} LLaMA layers, LLM ${llmWeights}):\n  ${command.join(' ')}`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd: REPO, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the export failed (exit ${code}); see its output above`))));
  });
  return directory;
}
