// A one-node ONNX model (y = x · W, float32) to find out whether a provider starts and runs a
// kernel here, without touching a bundle. MatMul runs on every provider we support.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Starts the stderr section of one provider in the probe child's output. */
export const PROBE_MARKER = '@@mgie-probe ';

export function buildProbeModel(): Uint8Array {
  const size = 4;
  const tensorType = (dims: number[]) => ({
    tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((dimValue) => ({ dimValue })) } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'mgie-provider-probe',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'probe',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'matmul' }],
      initializer: [{ name: 'w', dataType: onnx.TensorProto.DataType.FLOAT, dims: [size, size], floatData: Array.from({ length: size * size }, (_, i) => (i % (size + 1) === 0 ? 1 : 0)) }],
      input: [{ name: 'x', type: tensorType([1, size]) }],
      output: [{ name: 'y', type: tensorType([1, size]) }],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
