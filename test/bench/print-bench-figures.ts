// The benchmark's printout: every figure with what it is measured against.
import type { CopyBandwidth } from './copy-bandwidth.ts';
import type { BundleFigures, EditFigures } from './measure-bundle-edit.ts';
import type { TorchStageTimes } from './torch-stage-times.ts';

const MB = 2 ** 20;
const GB = 2 ** 30;
const ms = (v: number): string => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`);
const gb = (bytes: number): string => `${(bytes / GB).toFixed(2)} GB`;

/** Issue 10's targets (benchmarks, not tests). */
export const TARGETS = {
  rss: (bundleBytes: number): number => 1.2 * bundleBytes + 300 * MB,
  outsideOrtShare: 0.03,
  int4BandwidthRatio: 1.5,
};

/** Weight bytes one decoder run reads, over the machine's bandwidth: the least time a token can take. */
export function bandwidthBoundMs(figures: BundleFigures, bandwidth: CopyBandwidth): number {
  return (figures.decoderBytes / (bandwidth.gbPerSecond * 1e9)) * 1000;
}

export function printBundleFigures(f: BundleFigures, bandwidth: CopyBandwidth): void {
  const target = TARGETS.rss(f.bundleBytes);
  const peak = f.peakRssMB * MB;
  console.log(`\n${f.bundle} (LLM weights ${f.llmWeights}): ${gb(f.bundleBytes)} of files; loaded in ${ms(f.loadMs)} (checksums ${ms(f.checksumMs)}); intra-op threads ${f.threads}`);
  const memory = (m: BundleFigures['memoryAfterLoad']) => `${(m.rssMB / 1024).toFixed(2)} GB resident (anonymous ${(m.anonMB / 1024).toFixed(2)}, file-mapped ${(m.fileMB / 1024).toFixed(2)})`;
  console.log(`  memory: before load ${memory(f.memoryBeforeLoad)}; after load ${memory(f.memoryAfterLoad)}`);
  console.log(`  peak RSS ${gb(peak)} = ${(peak / f.bundleBytes).toFixed(2)} x the bundle; target <= 1.2 x bundle + 300 MB = ${gb(target)}: ${peak <= target ? 'met' : 'NOT met'}`);
  for (const edit of f.edits) printEdit(edit);
  const last = f.edits[f.edits.length - 1];
  if (last) {
    const bound = bandwidthBoundMs(f, bandwidth);
    const ratio = last.modelMs.decodeToken / bound;
    const quantized = f.llmWeights.startsWith('int4');
    console.log(
      `  decoder: ${gb(f.decoderBytes)} of weights read per token / ${bandwidth.gbPerSecond.toFixed(1)} GB/s copy bandwidth (${bandwidth.threads} threads, read + write) = ${ms(bound)} per token at best;` +
        ` measured ${ms(last.modelMs.decodeToken)} = ${ratio.toFixed(2)} x the bound${quantized ? ` (target <= ${TARGETS.int4BandwidthRatio} x: ${ratio <= TARGETS.int4BandwidthRatio ? 'met' : 'NOT met'})` : ''}`,
    );
  }
  console.log(`  load average (1 min): ${f.loadAverage.before.toFixed(1)} before, ${f.loadAverage.after.toFixed(1)} after: other work on this machine slows every figure`);
}

function printEdit(e: EditFigures): void {
  const outside = 1 - e.ortMs / e.wallMs;
  const m = e.modelMs;
  console.log(`  ${e.size} px, ${e.steps} steps, ${e.promptTokens}-token prompt, ${e.generatedTokens} tokens generated: wall ${ms(e.wallMs)}, outside onnxruntime ${(outside * 100).toFixed(2)}% (target < ${TARGETS.outsideOrtShare * 100}%: ${outside < TARGETS.outsideOrtShare ? 'met' : 'NOT met'})`);
  console.log(`    stages: ${Object.entries(e.stagesMs).map(([stage, v]) => `${stage} ${ms(v)}`).join(', ')}`);
  console.log(
    `    models: vision ${ms(m.vision)}, prefill ${ms(m.prefill)}, decode ${ms(m.decodeToken)}/token (${e.tokensPerSecond.toFixed(2)} tokens/s), edit head ${ms(m.editHead)},` +
      ` VAE encode ${ms(m.vaeEncode)}, UNet ${(m.unetStep / 1000).toFixed(2)} s/step (first step ${(m.unetFirstStep / 1000).toFixed(2)} s), VAE decode ${ms(m.vaeDecode)}`,
  );
}

/** Per stage: our time, PyTorch's, and PyTorch / ours (above 1: we are faster). */
export function printTorchComparison(f: BundleFigures, torch: TorchStageTimes): void {
  console.log(`\n  PyTorch ${torch.versions.torch} (transformers ${torch.versions.transformers}, diffusers ${torch.versions.diffusers}), same weights, ${torch.threads} threads, same CPU:`);
  console.log(`    ${'stage'.padEnd(22)}${'onnxruntime'.padStart(13)}${'PyTorch'.padStart(13)}${'PyTorch/ours'.padStart(14)}`);
  const row = (label: string, ours: number, theirs: number | undefined) => {
    if (theirs === undefined) return;
    const ratio = theirs / ours;
    console.log(`    ${label.padEnd(22)}${ms(ours).padStart(13)}${ms(theirs).padStart(13)}${`${ratio.toFixed(2)}x`.padStart(14)}${ratio < 1 ? '  (slower)' : ''}`);
  };
  // The last edit's runs of the size-independent models are warm, as PyTorch's are after its warm-up.
  const warm = f.edits[f.edits.length - 1];
  row('vision', warm.modelMs.vision, torch.stages.vision);
  row(`prefill (${warm.promptTokens} tokens)`, warm.modelMs.prefill, torch.stages.prefill);
  row('decode, per token', warm.modelMs.decodeToken, torch.stages.decodeToken);
  row('edit head', warm.modelMs.editHead, torch.stages.editHead);
  for (const edit of f.edits) {
    const at = torch.sizes[String(edit.size)];
    if (!at) continue;
    row(`VAE encode ${edit.size} px`, edit.modelMs.vaeEncode, at.vaeEncode);
    row(`UNet step ${edit.size} px`, edit.modelMs.unetStep, at.unetStep);
    row(`VAE decode ${edit.size} px`, edit.modelMs.vaeDecode, at.vaeDecode);
  }
  if (torch.note) console.log(`    ${torch.note}`);
}
