// The decoder's q k^T rewritten at load time on the CPU provider (fold-key-transposes.ts): one FusedMatMul per
// layer instead of a Transpose that copied the key cache at every token, the same numbers out, and the
// rewritten graph still finds weights kept in an external data file, as real bundles keep them.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import onnxProto from 'onnx-proto';
import { loadBundleAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { foldKeyTransposes } from '../../companion-server/engine/fold-key-transposes.ts';
import { float32Data, float32Tensor, int64Tensor, ModelSession, type Tensor } from '../../companion-server/engine/onnx-runtime.ts';
import { TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const { onnx } = onnxProto;
const { numLayers, numKvHeads, headDim, hiddenSize } = TINY_BUNDLE_CONFIG.llm;

function swapTransposes(model: onnxProto.onnx.IModelProto): number {
  return (model.graph?.node ?? []).filter((n) => n.opType === 'Transpose' && n.attribute?.find((a) => a.name === 'perm')?.ints?.map(Number).join() === '0,1,3,2').length;
}

async function decoderBytesAsync(): Promise<Uint8Array> {
  return readFile(path.join(await tinyBundleDirAsync(), 'decoder.onnx'));
}

async function tempDirAsync(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-fold-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A prefill of 5 positions, then one decode step on its cache: logits and caches of both. */
async function prefillThenDecodeAsync(session: ModelSession): Promise<Float32Array[]> {
  const embeds = (n: number, salt: number) => float32Tensor(Float32Array.from({ length: n * hiddenSize }, (_, i) => Math.sin(i * 0.37 + salt)), [1, n, hiddenSize]);
  const pastOf = (outputs: Record<string, Tensor> | null) =>
    Object.fromEntries(
      Array.from({ length: numLayers }, (_, i) => ['key', 'value'].map((part) => [`past_key_values.${i}.${part}`, outputs ? outputs[`present.${i}.${part}`] : float32Tensor(new Float32Array(0), [1, numKvHeads, 0, headDim])])).flat(),
    );
  const first = await session.runAsync({
    inputs_embeds: embeds(5, 0),
    attention_mask: int64Tensor([1, 1, 1, 1, 1], [1, 5]),
    position_ids: int64Tensor([0, 1, 2, 3, 4], [1, 5]),
    ...pastOf(null),
  });
  const second = await session.runAsync({ inputs_embeds: embeds(1, 9), attention_mask: int64Tensor([1, 1, 1, 1, 1, 1], [1, 6]), position_ids: int64Tensor([5], [1, 1]), ...pastOf(first) });
  return [first.logits, second.logits, second['present.0.key'], second[`present.${numLayers - 1}.value`]].map((tensor) => float32Data(tensor));
}

function assertClose(actual: Float32Array[], expected: Float32Array[]): void {
  for (const [k, values] of expected.entries()) {
    assert.equal(actual[k].length, values.length);
    let worst = 0;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(actual[k][i] - values[i]));
    assert.ok(worst <= 1e-5, `output ${k} differs by ${worst}`);
  }
}

test('every layer of the tiny decoder gets its q k^T as one FusedMatMul with transB, and no key Transpose is left', async () => {
  const bytes = await decoderBytesAsync();
  assert.equal(swapTransposes(onnx.ModelProto.decode(bytes)), numLayers, 'the generator writes the Transpose as torch.onnx does');
  const { bytes: rewritten, folded } = foldKeyTransposes(bytes);
  const model = onnx.ModelProto.decode(rewritten);
  assert.equal(folded, numLayers);
  assert.equal(swapTransposes(model), 0);
  const fused = model.graph!.node!.filter((n) => n.opType === 'FusedMatMul');
  assert.equal(fused.length, numLayers);
  for (const node of fused) {
    assert.equal(node.domain, 'com.microsoft');
    assert.equal(Number(node.attribute!.find((a) => a.name === 'transB')!.i), 1);
    assert.equal(node.attribute!.find((a) => a.name === 'alpha')!.f, 1);
  }
  assert.ok(model.opsetImport!.some((o) => o.domain === 'com.microsoft'));
  // a second pass finds nothing and returns the bytes untouched
  const again = foldKeyTransposes(rewritten);
  assert.equal(again.folded, 0);
  assert.equal(again.bytes, rewritten);
});

test('the bundle loader folds the decoder on the CPU provider, and the folded decoder computes what the file computes', async (t) => {
  const dir = await tinyBundleDirAsync();
  const bundle = await loadBundleAsync(dir);
  t.after(() => bundle.releaseAsync());
  assert.equal(bundle.sessions.decoder.foldedKeyTransposes, numLayers);
  assert.equal(bundle.sessions.unet.foldedKeyTransposes, 0, 'only the decoder is rewritten');
  const plain = await ModelSession.createAsync('decoder.onnx', path.join(dir, 'decoder.onnx'));
  t.after(() => plain.releaseAsync());
  assert.equal(plain.foldedKeyTransposes, 0);
  assertClose(await prefillThenDecodeAsync(bundle.sessions.decoder), await prefillThenDecodeAsync(plain));
});

test('a folded decoder whose weights live in an external data file still finds them (relative to its folder)', async (t) => {
  const model = onnx.ModelProto.decode(await decoderBytesAsync());
  const dir = await tempDirAsync(t);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph!.initializer!) {
    const raw = tensor.rawData;
    if (!raw || raw.length < 64) continue;
    tensor.externalData = [
      { key: 'location', value: 'decoder.onnx.data' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    tensor.rawData = new Uint8Array(0);
    chunks.push(raw);
    offset += raw.length;
  }
  assert.ok(offset > 0);
  await writeFile(path.join(dir, 'decoder.onnx.data'), Buffer.concat(chunks));
  await writeFile(path.join(dir, 'decoder.onnx'), onnx.ModelProto.encode(model).finish());

  const folded = await ModelSession.createAsync('decoder.onnx', path.join(dir, 'decoder.onnx'), {}, { foldKeyTransposes: true });
  t.after(() => folded.releaseAsync());
  assert.equal(folded.foldedKeyTransposes, numLayers);
  const plain = await ModelSession.createAsync('decoder.onnx', path.join(await tinyBundleDirAsync(), 'decoder.onnx'));
  t.after(() => plain.releaseAsync());
  assertClose(await prefillThenDecodeAsync(folded), await prefillThenDecodeAsync(plain));
});

test('a Transpose that feeds more than the product, or is a graph output, or swaps other axes, stays', () => {
  const node = (opType: string, input: string[], output: string[], perm?: number[]): onnxProto.onnx.INodeProto => ({
    opType,
    input,
    output,
    ...(perm ? { attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: perm }] } : {}),
  });
  const info = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
  const modelOf = (nodes: onnxProto.onnx.INodeProto[], outputs: string[]) =>
    onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'g', node: nodes, input: [info('q'), info('k')], output: outputs.map(info) } }).finish();
  const shared = modelOf([node('Transpose', ['k'], ['kT'], [0, 1, 3, 2]), node('MatMul', ['q', 'kT'], ['s']), node('Relu', ['kT'], ['r'])], ['s', 'r']);
  const exposed = modelOf([node('Transpose', ['k'], ['kT'], [0, 1, 3, 2]), node('MatMul', ['q', 'kT'], ['s'])], ['s', 'kT']);
  const otherAxes = modelOf([node('Transpose', ['k'], ['kT'], [0, 2, 1, 3]), node('MatMul', ['q', 'kT'], ['s'])], ['s']);
  const plain = modelOf([node('Transpose', ['k'], ['kT'], [0, 1, 3, 2]), node('MatMul', ['q', 'kT'], ['s'])], ['s']);
  assert.equal(foldKeyTransposes(shared).folded, 0);
  assert.equal(foldKeyTransposes(exposed).folded, 0);
  assert.equal(foldKeyTransposes(otherAxes).folded, 0);
  assert.equal(foldKeyTransposes(plain).folded, 1);
});
