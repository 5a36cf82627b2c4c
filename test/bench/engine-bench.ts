// `npm run bench`: one edit on the tiny bundle and one on a larger generated bundle whose compute
// dominates, each in its own process so peak RSS is its own. Prints figures; asserts nothing.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { ensureGeneratedBundleAsync } from '../../models/tiny/ensure-generated-bundle.ts';
import { BENCH_BUNDLE_CONFIG, TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';

const CONFIGS = { tiny: TINY_BUNDLE_CONFIG, bench: BENCH_BUNDLE_CONFIG };
type BundleKind = keyof typeof CONFIGS;

interface Figures {
  bundle: string;
  weightMB: number;
  loadMs: number;
  editSize: string;
  steps: number;
  tokens: number;
  stagesMs: Record<string, number>;
  wallMs: number;
  tokensPerSecond: number;
  unetStepsPerSecond: number;
  outsideOrtShare: number;
  peakRssMB: number;
  rssTargetMB: number;
}

async function measureAsync(kind: BundleKind): Promise<Figures> {
  const config = CONFIGS[kind];
  const { directory } = await ensureGeneratedBundleAsync(config);
  const pipeline = await MgiePipeline.loadAsync(directory);
  const image = await samplePhotoAsync(640, 480);
  const request = { image, instruction: 'make it look like autumn', parameters: { seed: 13331 } };
  await pipeline.editAsync({ ...request, parameters: { ...request.parameters, steps: 2 } }); // warm-up
  const sessions = Object.values(pipeline.bundle.sessions);
  for (const s of sessions) s.runMilliseconds = 0;
  const started = performance.now();
  const result = await pipeline.editAsync(request);
  const wallMs = performance.now() - started;
  const ortMs = sessions.reduce((sum, s) => sum + s.runMilliseconds, 0);
  const weightMB = pipeline.bundle.totalBytes / 2 ** 20;
  await pipeline.releaseAsync();
  return {
    bundle: config.name,
    weightMB,
    loadMs: pipeline.bundle.loadMilliseconds,
    editSize: `${result.editWidth}x${result.editHeight}`,
    steps: result.parameters.steps,
    tokens: result.generatedTokens,
    stagesMs: result.timings,
    wallMs,
    tokensPerSecond: result.generatedTokens / (result.timings.generate / 1000),
    unetStepsPerSecond: result.parameters.steps / (result.timings.diffuse / 1000),
    outsideOrtShare: 1 - ortMs / wallMs,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    rssTargetMB: 1.5 * weightMB + 300,
  };
}

function print(f: Figures): void {
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  console.log(`\n${f.bundle}: ${f.weightMB.toFixed(1)} MB of files, loaded in ${ms(f.loadMs)}; edit ${f.editSize}, ${f.steps} steps, ${f.tokens} tokens`);
  console.log(`  stages: ${Object.entries(f.stagesMs).map(([s, v]) => `${s} ${ms(v)}`).join(', ')}; wall ${ms(f.wallMs)}`);
  console.log(`  decoder ${f.tokensPerSecond.toFixed(1)} tokens/s, UNet ${f.unetStepsPerSecond.toFixed(2)} steps/s`);
  console.log(`  outside onnxruntime runs: ${(f.outsideOrtShare * 100).toFixed(2)}% of wall time (target < 5% on the larger bundle)`);
  console.log(`  peak RSS ${f.peakRssMB.toFixed(0)} MB (target < ${f.rssTargetMB.toFixed(0)} MB = 1.5 x files + 300 MB)`);
}

const only = process.argv[2] as BundleKind | undefined;
if (only) {
  process.stdout.write(JSON.stringify(await measureAsync(only)));
} else {
  const self = fileURLToPath(import.meta.url);
  for (const kind of Object.keys(CONFIGS) as BundleKind[]) {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', self, kind], { maxBuffer: 1 << 20 }, (error, out, err) => (error ? reject(new Error(err || error.message)) : resolve(out))),
    );
    print(JSON.parse(stdout));
  }
}
