import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { float32Data, float32Tensor, ModelSession } from '../../companion-server/engine/onnx-runtime.ts';
import { GraphBuilder } from '../../models/onnx-builder/graph-builder.ts';
import { linear } from '../../models/onnx-builder/layers.ts';
import { WeightSource } from '../../models/onnx-builder/weight-source.ts';

function twoLayerModel(): GraphBuilder {
  const g = new GraphBuilder('mlp');
  const layers = { g, w: new WeightSource(7) };
  const x = g.input('x', 'float32', ['batch', 64]);
  const hidden = linear(layers, x, 64, 128, 'fc1');
  g.output(linear(layers, hidden, 128, 8, 'fc2'), 'y', 'float32', ['batch', 8]);
  return g;
}

test('a model with external data loads from its folder and computes what the inline model does', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-external-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const g = twoLayerModel();
  await writeFile(path.join(dir, 'inline.onnx'), g.toModelBytes());
  const { model, dataFile, data } = g.toModelWithExternalData('external.onnx');
  assert.equal(dataFile, 'external.onnx.data');
  assert.ok(model.byteLength < 2048, 'weights are out of the protobuf');
  await writeFile(path.join(dir, 'external.onnx'), model);
  await writeFile(path.join(dir, dataFile), data);

  const x = float32Tensor(Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i)), [2, 64]);
  const inline = await ModelSession.createAsync('inline.onnx', path.join(dir, 'inline.onnx'));
  const external = await ModelSession.createAsync('external.onnx', path.join(dir, 'external.onnx'));
  assert.deepEqual(float32Data((await external.runAsync({ x })).y), float32Data((await inline.runAsync({ x })).y));
  await Promise.all([inline.releaseAsync(), external.releaseAsync()]);
});

test('a missing external-data file is a load error naming the model', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-external-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'unet.onnx'), twoLayerModel().toModelWithExternalData('unet.onnx').model);
  await assert.rejects(ModelSession.createAsync('unet.onnx', path.join(dir, 'unet.onnx')), (error: any) => error.code === 'MGIE_ERR_BUNDLE_MODEL_IO' && /^unet\.onnx: onnxruntime could not load/.test(error.message));
});
