// The onnxruntime-node wrapper on its own, with the provider probe's one-node model (y = x · I):
// sessions, feeds checked against the model, float16 <-> float32 conversions, and one clear error per
// failure. Also runs the probe in this process (the CLI runs it in a child, where coverage is not seen).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Float16Array } from '@petamoriken/float16';
import * as ort from 'onnxruntime-node';
import {
  emptyTensor,
  float32Data,
  float32Tensor,
  int64Tensor,
  listBuildProviders,
  ModelSession,
  onnxRuntimeBinaryDir,
  onnxRuntimeVersion,
  runProbeModelAsync,
} from '../../companion-server/engine/onnx-runtime.ts';
import { buildProbeModel, PROBE_MARKER } from '../../companion-server/engine/providers/private/build-probe-model.ts';

async function probeModelFileAsync(t: TestContext, bytes: Uint8Array = buildProbeModel()): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-ort-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'probe.onnx');
  await writeFile(file, bytes);
  return file;
}

function float16Tensor(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('float16', new Uint16Array(Float16Array.from(values).buffer), dims);
}

test('the probe model is one float32 MatMul by the 4x4 identity: x in, the same values out as y', async (t) => {
  const session = await ModelSession.createAsync('probe', await probeModelFileAsync(t));
  t.after(() => session.releaseAsync());
  assert.deepEqual([...session.inputs.values()], [{ name: 'x', type: 'float32', shape: [1, 4] }]);
  assert.deepEqual([...session.outputs.values()], [{ name: 'y', type: 'float32', shape: [1, 4] }]);
  const { y } = await session.runAsync({ x: float32Tensor(Float32Array.from([3, -1, 0.5, 7]), [1, 4]) });
  assert.deepEqual(y.dims, [1, 4]);
  assert.deepEqual([...float32Data(y)], [3, -1, 0.5, 7]);
  assert.equal(PROBE_MARKER, '@@mgie-probe ');
});

test('runProbeModelAsync: the CPU provider starts and computes; a provider this build lacks is an error', async () => {
  await runProbeModelAsync(buildProbeModel(), 'cpu');
  await assert.rejects(runProbeModelAsync(buildProbeModel(), 'no-such-provider'));
});

test('runProbeModelAsync: a provider that computes a wrong result is reported as such', async () => {
  // The same graph with W = 0 computes zeros, which is what a broken provider looks like.
  const zeros = buildProbeModel();
  const { onnx } = (await import('onnx-proto')).default;
  const model = onnx.ModelProto.decode(zeros);
  model.graph!.initializer![0].floatData = new Array(16).fill(0);
  await assert.rejects(runProbeModelAsync(onnx.ModelProto.encode(model).finish(), 'cpu'), /^Error: the cpu provider computed a wrong result$/);
});

test('runAsync: feeds must name exactly the model inputs; the error lists what is missing, unknown and expected', async (t) => {
  const session = await ModelSession.createAsync('probe.onnx', await probeModelFileAsync(t));
  t.after(() => session.releaseAsync());
  const x = float32Tensor(new Float32Array(4), [1, 4]);
  const expectRuntimeError = (message: string) => (error: any) => error.code === 'MGIE_ERR_RUNTIME' && error.message === message;
  await assert.rejects(session.runAsync({}), expectRuntimeError('probe.onnx: inputs do not match the model (missing: x; unknown: none; expected: x).'));
  await assert.rejects(session.runAsync({ x, z: x, w: x }), expectRuntimeError('probe.onnx: inputs do not match the model (missing: none; unknown: z, w; expected: x).'));
  await assert.rejects(session.runAsync({ z: x }), expectRuntimeError('probe.onnx: inputs do not match the model (missing: x; unknown: z; expected: x).'));
});

test('runAsync: a float16 feed is converted to the float32 the model declares; other types are refused', async (t) => {
  const session = await ModelSession.createAsync('probe', await probeModelFileAsync(t));
  t.after(() => session.releaseAsync());
  const { y } = await session.runAsync({ x: float16Tensor([1.5, -2, 0.25, 1024], [1, 4]) });
  assert.equal(y.type, 'float32');
  assert.deepEqual([...float32Data(y)], [1.5, -2, 0.25, 1024]);
  await assert.rejects(session.runAsync({ x: int64Tensor([1, 2, 3, 4], [1, 4]) }), /^Error: cannot convert a int64 tensor to float32$/);
});

test('runAsync: a run onnxruntime refuses becomes MGIE_ERR_RUNTIME naming the model; runs are counted and timed', async (t) => {
  const session = await ModelSession.createAsync('probe.onnx', await probeModelFileAsync(t));
  t.after(() => session.releaseAsync());
  assert.equal(session.runCount, 0);
  assert.equal(session.runMilliseconds, 0);
  await assert.rejects(session.runAsync({ x: float32Tensor(new Float32Array(3), [1, 3]) }), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_RUNTIME');
    assert.match(error.message, /^probe\.onnx: the model failed to run \([^\n]+\)\.$/);
    assert.ok(error.cause instanceof Error);
    return true;
  });
  await session.runAsync({ x: float32Tensor(new Float32Array(4), [1, 4]) });
  assert.equal(session.runCount, 2, 'a failed run counts too');
  assert.ok(session.runMilliseconds > 0);
});

test('createAsync: a damaged file on the CPU is a bundle problem; on another provider, a provider problem', async (t) => {
  const damaged = await probeModelFileAsync(t, new TextEncoder().encode('not an onnx model\nsecond line'));
  await assert.rejects(ModelSession.createAsync('unet.onnx', damaged), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BUNDLE_MODEL_IO');
    assert.match(error.message, /^unet\.onnx: onnxruntime could not load the model \([^\n]+\)\. The file is damaged or not from the exporter: re-export the bundle\.$/);
    assert.ok(error.cause);
    return true;
  });
  await assert.rejects(ModelSession.createAsync('unet.onnx', damaged, { executionProvider: 'cpu' }), (error: any) => error.code === 'MGIE_ERR_BUNDLE_MODEL_IO');
  await assert.rejects(ModelSession.createAsync('unet.onnx', await probeModelFileAsync(t), { executionProvider: 'no-such-provider', deviceId: 0 }), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_PROVIDER_UNAVAILABLE');
    assert.match(error.message, /^unet\.onnx: the no-such-provider provider could not load it: /);
    assert.doesNotMatch(error.message, /re-export/);
    return true;
  });
});

test('createAsync: thread counts are accepted options', async (t) => {
  const session = await ModelSession.createAsync('probe', await probeModelFileAsync(t), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  t.after(() => session.releaseAsync());
  const { y } = await session.runAsync({ x: float32Tensor(Float32Array.from([1, 2, 3, 4]), [1, 4]) });
  assert.deepEqual([...float32Data(y)], [1, 2, 3, 4]);
});

test('float32Data: float32 as is (no copy), float16 converted, anything else refused', () => {
  const data = Float32Array.from([1, 2]);
  assert.equal(float32Data(float32Tensor(data, [2])), data);
  const converted = float32Data(float16Tensor([0.5, -3, 65504], [3]));
  assert.ok(converted instanceof Float32Array);
  assert.deepEqual([...converted], [0.5, -3, 65504]);
  assert.throws(() => float32Data(int64Tensor([1], [1])), /^Error: expected a float tensor, got int64$/);
});

test('emptyTensor is a zero-length tensor of the asked type; int64Tensor takes numbers or BigInt64Array', () => {
  const half = emptyTensor('float16', [1, 4, 0, 16]);
  assert.equal(half.type, 'float16');
  assert.deepEqual(half.dims, [1, 4, 0, 16]);
  assert.equal(half.size, 0);
  const single = emptyTensor('float32', [1, 4, 0, 16]);
  assert.equal(single.type, 'float32');
  assert.ok(single.data instanceof Float32Array);
  assert.equal(single.size, 0);

  const ids = int64Tensor([1, 2, 30000], [1, 3]);
  assert.equal(ids.type, 'int64');
  assert.deepEqual([...(ids.data as BigInt64Array)], [1n, 2n, 30000n]);
  const given = BigInt64Array.from([5n]);
  assert.equal(int64Tensor(given, [1]).data, given);
});

test('the build lists the CPU provider, bundled; its native folder exists; onnxruntime logs only fatal errors unless MGIE_DEBUG', () => {
  assert.ok(listBuildProviders().some((p) => p.name === 'cpu' && p.bundled === true));
  for (const p of listBuildProviders()) assert.deepEqual(Object.keys(p), ['name', 'bundled']);
  const dir = onnxRuntimeBinaryDir();
  assert.ok(dir.endsWith(path.join('bin', 'napi-v6', process.platform, process.arch)), dir);
  assert.ok(existsSync(dir), dir);
  assert.equal(onnxRuntimeVersion, ort.env.versions.node);
  assert.equal(ort.env.logLevel, process.env.MGIE_DEBUG ? 'warning' : 'fatal');
});
