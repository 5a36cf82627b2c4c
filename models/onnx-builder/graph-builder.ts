// A small ONNX graph builder over onnx-proto's generated protobuf classes. The tiny and benchmark
// bundles are written with it, so that the runtime meets real ONNX files without Python in the loop.
import { Float16Array } from '@petamoriken/float16';
import onnxProto from 'onnx-proto';
import type { BlockwiseQuantized } from './quantize-blockwise.ts';

const { onnx } = onnxProto;

export type ElementType = 'float32' | 'float16' | 'int64' | 'bool' | 'uint8';
/** A dimension is a fixed size or a symbolic name (dynamic axis). */
export type Dim = number | string;
export type AttributeValue = number | string | number[] | { floats: number[] } | { ints: number[] } | { float: number };

const dataTypeOf: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

// The CPU provider has float32 kernels for everything we use; opset 17 still takes ReduceMean axes
// as an attribute and already has LayerNormalization.
export const OPSET_VERSION = 17;

/** onnxruntime's contrib operators (MatMulNBits); version 1 is the only one. */
export const MICROSOFT_DOMAIN = 'com.microsoft';

const EXTERNAL_DATA_MIN_BYTES = 1024;
const EXTERNAL_DATA_ALIGNMENT = 4096;

export interface GraphBuilderOptions {
  /**
   * Declare float inputs/outputs as float16 and store weights as float16, casting to float32 inside.
   * This is the shape of a half-precision export whose IO types were not kept, which the runtime must handle.
   */
  float16?: boolean;
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly domains = new Set<string>();
  readonly float16: boolean;

  constructor(readonly name: string, options: GraphBuilderOptions = {}) {
    this.float16 = options.float16 ?? false;
  }

  /** A fresh value name starting with `hint`. */
  uniqueName(hint: string): string {
    let name = hint;
    for (let i = 1; this.usedNames.has(name); i++) name = `${hint}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  /**
   * Declares a graph input; returns the float32 (or int64/bool) value to compute with.
   * `keepFloat32` keeps a float input float32 in a float16 graph (the UNet's fractional timestep).
   */
  input(name: string, type: ElementType, shape: Dim[], options: { keepFloat32?: boolean } = {}): string {
    this.usedNames.add(name);
    const external = type === 'float32' && this.float16 && !options.keepFloat32 ? 'float16' : type;
    this.inputs.push(valueInfo(name, external, shape));
    return external === type ? name : this.node('Cast', [name], { to: dataTypeOf.float32 }, `${name}_f32`)[0];
  }

  /** Declares `value` as the graph output `name`. */
  output(value: string, name: string, type: ElementType, shape: Dim[]): void {
    const external = type === 'float32' && this.float16 ? 'float16' : type;
    this.usedNames.add(name);
    if (external !== type) this.nodes.push({ opType: 'Cast', input: [value], output: [name], attribute: [attribute('to', dataTypeOf.float16)], name: this.uniqueName(`cast_${name}`) });
    else this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: this.uniqueName(`out_${name}`) });
    this.outputs.push(valueInfo(name, external, shape));
  }

  /** A float weight; stored as float16 (then cast) in a float16 graph. */
  weight(hint: string, data: Float32Array, dims: number[]): string {
    if (!this.float16) return this.tensor(hint, 'float32', data, dims);
    const half = this.tensor(`${hint}_fp16`, 'float16', data, dims);
    return this.node('Cast', [half], { to: dataTypeOf.float32 }, hint)[0];
  }

  /** A constant tensor of the given element type. */
  tensor(hint: string, type: ElementType, data: ArrayLike<number>, dims: number[]): string {
    const name = this.uniqueName(hint);
    this.initializers.push({ name, dataType: dataTypeOf[type], dims, rawData: rawBytes(type, data) });
    return name;
  }

  int64s(hint: string, values: number[]): string {
    return this.tensor(hint, 'int64', values, [values.length]);
  }

  scalar(hint: string, value: number): string {
    return this.tensor(hint, 'float32', [value], []);
  }

  /** Adds one node (of the default ONNX domain unless `domain` is given); returns its output names. */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, hint = opType.toLowerCase(), numOutputs = 1, domain?: string): string[] {
    const output = Array.from({ length: numOutputs }, (_, i) => this.uniqueName(numOutputs === 1 ? hint : `${hint}_${i}`));
    if (domain) this.domains.add(domain);
    this.nodes.push({
      opType,
      ...(domain ? { domain } : {}),
      input: inputs,
      output,
      name: this.uniqueName(`n_${hint}`),
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return output;
  }

  /** Shorthand for a single-output node. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, hint?: string): string {
    return this.node(opType, inputs, attributes, hint)[0];
  }

  /**
   * x W with W block-quantized (quantize-blockwise.ts): one MatMulNBits node whose packed weight,
   * scales and zero points are initializers. `accuracyLevel` 4 lets the CPU provider quantize x to
   * int8 per block and use integer dot products; 0 computes in float32.
   */
  matMulNBits(x: string, weight: BlockwiseQuantized, hint: string, accuracyLevel = 0): string {
    const { n, k, kBlocks, bits, blockSize } = weight;
    const packed = this.tensor(`${hint}.qweight`, 'uint8', weight.packed, [n, kBlocks, (blockSize * bits) / 8]);
    const scales = this.tensor(`${hint}.scales`, 'float32', weight.scales, [n, kBlocks]);
    const zeroPoints = this.tensor(`${hint}.qzeros`, 'uint8', weight.zeroPoints, [n, weight.zeroPoints.length / n]);
    const attributes = { K: k, N: n, bits, block_size: blockSize, accuracy_level: accuracyLevel };
    return this.node('MatMulNBits', [x, packed, scales, zeroPoints], attributes, hint, 1, MICROSOFT_DOMAIN)[0];
  }

  toModelBytes(): Uint8Array {
    return this.encode(this.initializers);
  }

  /**
   * The model with its weights in an ONNX external-data file next to it (`<modelFile>.data`), as
   * exports of large models are: onnxruntime then maps the weights from the file instead of holding
   * them twice (once in the parsed protobuf, once as tensors).
   */
  toModelWithExternalData(modelFile: string): { model: Uint8Array; dataFile: string; data: Uint8Array } {
    const dataFile = `${modelFile}.data`;
    const chunks: Uint8Array[] = [];
    let offset = 0;
    const initializers = this.initializers.map((tensor) => {
      const raw = tensor.rawData!;
      if (raw.byteLength < EXTERNAL_DATA_MIN_BYTES) return tensor;
      // Page-aligned offsets let onnxruntime map each tensor straight from the file.
      const padding = (EXTERNAL_DATA_ALIGNMENT - (offset % EXTERNAL_DATA_ALIGNMENT)) % EXTERNAL_DATA_ALIGNMENT;
      if (padding > 0) chunks.push(new Uint8Array(padding));
      offset += padding;
      chunks.push(raw);
      const entry = { ...tensor, rawData: null, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [
        { key: 'location', value: dataFile },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.byteLength) },
      ] };
      offset += raw.byteLength;
      return entry;
    });
    const data = new Uint8Array(offset);
    let position = 0;
    for (const chunk of chunks) {
      data.set(chunk, position);
      position += chunk.byteLength;
    }
    return { model: this.encode(initializers), dataFile, data };
  }

  private encode(initializers: onnxProto.onnx.ITensorProto[]): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'mgie-for-figma/models',
      opsetImport: [{ domain: '', version: OPSET_VERSION }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      graph: { name: this.name, node: this.nodes, initializer: initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** Number of stored weight values (a packed 4-bit byte counts once), for reporting bundle sizes. */
  get parameterCount(): number {
    return this.initializers.reduce((sum, t) => sum + (t.dims ?? []).reduce<number>((p, d) => p * Number(d), 1), 0);
  }

  /** Bytes of all weights as stored. */
  get weightBytes(): number {
    return this.initializers.reduce((sum, t) => sum + (t.rawData?.byteLength ?? 0), 0);
  }
}

function valueInfo(name: string, type: ElementType, shape: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: dataTypeOf[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.INTS, ints: value.ints };
}

function rawBytes(type: ElementType, data: ArrayLike<number>): Uint8Array {
  switch (type) {
    case 'float32': return bytesOf(Float32Array.from(data));
    case 'float16': return bytesOf(new Uint16Array(Float16Array.from(data).buffer));
    case 'int64': return bytesOf(BigInt64Array.from(Array.from(data, (v) => BigInt(v))));
    case 'bool': return Uint8Array.from(data, (v) => (v ? 1 : 0));
    case 'uint8': return data instanceof Uint8Array ? data : Uint8Array.from(data);
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
