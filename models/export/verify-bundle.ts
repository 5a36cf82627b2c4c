// Runs the cases verify_bundle.py wrote (<bundle>/verify/cases.json) through the runtime's own
// ModelSession and compares every output with PyTorch's. Prints one row per output; exits 1 when any
// error is above its threshold.
// Usage: npx tsx models/export/verify-bundle.ts BUNDLE_DIR
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readFloat32NpyAsync } from '../../companion-server/cli/read-npy-async.ts';
import { float32Data, float32Tensor, int64Tensor, ModelSession, type Tensor } from '../../companion-server/engine/onnx-runtime.ts';

type TensorRef = { npy: string } | { int64: number[]; shape: number[] };
type Precision = 'float32' | 'float16' | 'int8-activations';
interface VerifyCase {
  model: string;
  file: string;
  case: string;
  /** This model's tolerance, where the bundle mixes precisions (a float16 bundle with a float32 quantized decoder). */
  precision?: Precision;
  inputs: Record<string, TensorRef>;
  outputs: Record<string, TensorRef>;
}
interface CasesFile {
  precision: Precision | 'mixed';
  cases: VerifyCase[];
}

// Largest allowed max|onnx - torch| / max|torch| of one output (relative to its scale, because
// elementwise relative error is meaningless where outputs cross zero).
// float32: the same float32 graph on other kernels (ORT's MLAS vs PyTorch's oneDNN/MKL) differs only in
// summation order, ~1e-7 per op; after tens of chained matmuls/convs and normalisations that stays
// below ~1e-5 of the output scale (tiny bundle: <= 1e-6). 1e-4 leaves room for the 32-layer 7B model
// while any export mistake (wrong layer, mask, cache position, missing scaling) gives errors >= 1e-2.
// float16: the bundle computes in float16 but is compared with float32 PyTorch, so the error is float16
// rounding (2^-11 ~ 5e-4 per op) accumulated through the network: ~1e-3 to 1e-2. 3e-2 still catches the
// structural mistakes, which are of the order of the output itself.
// int8-activations: a quantized decoder with accuracy_level 4, whose CPU kernel rounds each block of 32
// inputs to 8 bits before every product (what llama.cpp does for its 4-bit formats): 6.2e-2 on the tiny
// models' logits, so 1e-1, which still catches a structural mistake (an error of the output's own order).
const MAX_RELATIVE_ERROR = { float32: 1e-4, float16: 3e-2, 'int8-activations': 1e-1 } as const;

async function tensorOf(ref: TensorRef, dir: string): Promise<Tensor> {
  if ('int64' in ref) return int64Tensor(ref.int64, ref.shape);
  const { data, shape } = await readFloat32NpyAsync(path.join(dir, ref.npy));
  return float32Tensor(data, shape);
}

interface Row {
  label: string;
  limit: number;
  output: string;
  shape: string;
  maxAbs: number;
  relative: number;
  ok: boolean;
}

function compare(actual: Float32Array, expected: Float32Array): { maxAbs: number; relative: number } {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    // NaN must fail: Math.max would propagate it, a plain > comparison would skip it
    const diff = Math.abs(actual[i] - expected[i]);
    maxAbs = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(maxAbs, diff);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return { maxAbs, relative: maxAbs / Math.max(scale, Number.MIN_VALUE) };
}

async function runCase(bundleDir: string, verifyDir: string, session: ModelSession, item: VerifyCase, limit: number): Promise<Row[]> {
  const feeds: Record<string, Tensor> = {};
  for (const [name, ref] of Object.entries(item.inputs)) feeds[name] = await tensorOf(ref, verifyDir);
  const results = await session.runAsync(feeds);
  const rows: Row[] = [];
  for (const [name, ref] of Object.entries(item.outputs)) {
    const expected = await tensorOf(ref, verifyDir);
    const actual = results[name];
    const label = `${item.file} ${item.case}`;
    if (!actual || actual.dims.join() !== expected.dims.join()) {
      const got = actual ? `[${actual.dims.join(', ')}]` : 'nothing';
      throw new Error(`${path.join(bundleDir, item.file)} (${item.case}): output "${name}" is ${got}, PyTorch gave [${expected.dims.join(', ')}]`);
    }
    const { maxAbs, relative } = compare(float32Data(actual), expected.data as Float32Array);
    rows.push({ label, limit, output: name, shape: `[${expected.dims.join(',')}]`, maxAbs, relative, ok: relative <= limit });
  }
  return rows;
}

function printTable(rows: Row[], precision: string): void {
  const width = (values: string[]) => Math.max(...values.map((v) => v.length));
  const [w1, w2, w3] = [width(rows.map((r) => r.label)), width(rows.map((r) => r.output)), width(rows.map((r) => r.shape))];
  console.log(`${'model case'.padEnd(w1)}  ${'output'.padEnd(w2)}  ${'shape'.padEnd(w3)}  ${'max abs'.padStart(9)}  ${'max rel'.padStart(9)}`);
  for (const r of rows) {
    const flag = r.ok ? '' : `  FAIL (> ${r.limit})`;
    console.log(`${r.label.padEnd(w1)}  ${r.output.padEnd(w2)}  ${r.shape.padEnd(w3)}  ${r.maxAbs.toExponential(2).padStart(9)}  ${r.relative.toExponential(2).padStart(9)}${flag}`);
  }
  const limits = [...new Set(rows.map((r) => r.limit))].join(' or ');
  console.log(`precision ${precision}: max rel = max|onnx - torch| / max|torch|, threshold ${limits}`);
}

async function main(): Promise<number> {
  const bundleDir = process.argv[2];
  if (!bundleDir) {
    console.error('Usage: npx tsx models/export/verify-bundle.ts BUNDLE_DIR  (after python -m models.export --verify wrote BUNDLE_DIR/verify)');
    return 2;
  }
  const verifyDir = path.join(bundleDir, 'verify');
  const { precision, cases } = JSON.parse(await readFile(path.join(verifyDir, 'cases.json'), 'utf8')) as CasesFile;
  const sessions = new Map<string, ModelSession>();
  const rows: Row[] = [];
  try {
    for (const [index, item] of cases.entries()) {
      const limit = MAX_RELATIVE_ERROR[item.precision ?? (precision === 'mixed' ? 'float32' : precision)];
      if (!sessions.has(item.file)) sessions.set(item.file, await ModelSession.createAsync(item.file, path.join(bundleDir, item.file)));
      rows.push(...(await runCase(bundleDir, verifyDir, sessions.get(item.file)!, item, limit)));
      // A real-size bundle's models do not all fit in memory at once: release each after its last case.
      if (!cases.slice(index + 1).some((next) => next.file === item.file)) {
        await sessions.get(item.file)!.releaseAsync();
        sessions.delete(item.file);
      }
    }
  } finally {
    await Promise.all([...sessions.values()].map((s) => s.releaseAsync()));
  }
  printTable(rows, precision);
  const failed = rows.filter((r) => !r.ok);
  if (failed.length > 0) {
    console.error(`FAILED: ${failed.length} output(s) differ from PyTorch by more than their threshold of their scale: ${failed.map((r) => `${r.label} ${r.output} (${r.relative.toExponential(2)} > ${r.limit})`).join('; ')}`);
    return 1;
  }
  console.log(`OK: ${rows.length} outputs of ${cases.length} cases match PyTorch`);
  return 0;
}

process.exitCode = await main();
