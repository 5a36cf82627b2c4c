// The one module that imports onnxruntime-node. Everything else sees ModelSession and the Tensor type.
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import * as ort from 'onnxruntime-node';
import { MgieError } from './errors.ts';
import { foldKeyTransposes } from './fold-key-transposes.ts';
import { diagnoseProviderFailure } from './providers/diagnose-provider-failure.ts';

export type Tensor = ort.Tensor;
export type ElementType = ort.Tensor.Type;

export const onnxRuntimeVersion: string = ort.env.versions.node ?? 'unknown';

// onnxruntime's own log goes straight to stderr, in its words ("[E:onnxruntime:...]"); every failure
// also comes back as an exception, which we turn into one sentence. MGIE_DEBUG shows the log again.
ort.env.logLevel = process.env.MGIE_DEBUG ? 'warning' : 'fatal';

/** The providers this onnxruntime-node build knows; `bundled: false` ones need extra libraries (CUDA). */
export function listBuildProviders(): Array<{ name: string; bundled: boolean }> {
  return ort.listSupportedBackends().map(({ name, bundled }) => ({ name, bundled }));
}

/** Where onnxruntime-node keeps its native libraries for this platform (the CUDA provider goes there). */
export function onnxRuntimeBinaryDir(): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return path.join(path.dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch);
}

/** Starts `provider` on a small model and runs it once; throws onnxruntime's error if it cannot. */
export async function runProbeModelAsync(model: Uint8Array, provider: string): Promise<void> {
  const session = await ort.InferenceSession.create(model, { executionProviders: [provider], logSeverityLevel: 2 });
  try {
    const input = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]);
    const { y } = await session.run({ x: input });
    if ((y.data as Float32Array)[3] !== 4) throw new Error(`the ${provider} provider computed a wrong result`);
  } finally {
    await session.release();
  }
}

export interface ExecutionOptions {
  /** 'cpu' (default), 'auto', or a provider onnxruntime-node was built with: 'cuda', 'webgpu', 'coreml', 'dml'. */
  executionProvider?: string;
  /** GPU index for cuda/dml. */
  deviceId?: number;
  /** Threads inside one operator; default: onnxruntime's choice (all physical cores). */
  intraOpNumThreads?: number;
  /** Threads across operators; only used by the parallel executor. */
  interOpNumThreads?: number;
}

export interface ValueSpec {
  name: string;
  type: ElementType;
  /** Fixed sizes as numbers, dynamic ones as their symbolic names (or -1). */
  shape: ReadonlyArray<number | string>;
}

export function float32Tensor(data: Float32Array, dims: readonly number[]): Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(values: ArrayLike<number> | BigInt64Array, dims: readonly number[]): Tensor {
  const data = values instanceof BigInt64Array ? values : BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return new ort.Tensor('int64', data, dims);
}

/** An empty float tensor, e.g. the [1, Hkv, 0, Dh] past of the first decoder pass. */
export function emptyTensor(type: ElementType, dims: readonly number[]): Tensor {
  if (type === 'float16') return new ort.Tensor('float16', new Uint16Array(0), dims);
  return new ort.Tensor('float32', new Float32Array(0), dims);
}

/** The values of a float tensor as float32, converting float16 outputs. No copy for float32. */
export function float32Data(tensor: Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const half = tensor.data as Uint16Array;
    return Float32Array.from(new Float16Array(half.buffer, half.byteOffset, half.length));
  }
  throw new Error(`expected a float tensor, got ${tensor.type}`);
}

function toType(tensor: Tensor, type: ElementType): Tensor {
  if (tensor.type === type) return tensor;
  if (tensor.type === 'float32' && type === 'float16') {
    const half = Float16Array.from(tensor.data as Float32Array);
    return new ort.Tensor('float16', new Uint16Array(half.buffer), tensor.dims);
  }
  if (tensor.type === 'float16' && type === 'float32') return float32Tensor(float32Data(tensor), tensor.dims);
  throw new Error(`cannot convert a ${tensor.type} tensor to ${type}`);
}

/** Graphs up to this size are rewritten in memory; a larger file holds its weights inline (a small model's). */
const MAX_REWRITTEN_GRAPH_BYTES = 512 * 2 ** 20;

/** A loaded model: created once per bundle, reused for every edit. */
export class ModelSession {
  /** Milliseconds spent inside session.run, for the benchmark's overhead figure. */
  runMilliseconds = 0;
  runCount = 0;

  private constructor(
    readonly label: string,
    private readonly session: ort.InferenceSession,
    readonly inputs: ReadonlyMap<string, ValueSpec>,
    readonly outputs: ReadonlyMap<string, ValueSpec>,
    /** q k^T products rewritten to read the keys in place (fold-key-transposes.ts); 0 when not asked or none. */
    readonly foldedKeyTransposes: number,
  ) {}

  /** `rewrites.foldKeyTransposes`: for the decoder, on the CPU provider only (see fold-key-transposes.ts). */
  static async createAsync(label: string, modelPath: string, options: ExecutionOptions = {}, rewrites: { foldKeyTransposes?: boolean } = {}): Promise<ModelSession> {
    const sessionConfig: Record<string, unknown> = { intra_op: { allow_spinning: '0' } };
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [providerConfig(options)],
      graphOptimizationLevel: 'all',
      // The arena keeps activation buffers between runs (without it diffusion ran ~1.5x slower);
      // memory patterns are off because they are planned and kept per input shape, and the
      // decoder's shapes change at every token (measured: +150 MB peak on the benchmark bundle).
      enableCpuMemArena: true,
      enableMemPattern: false,
      // The pipeline runs seven sessions one after another: spinning worker threads of the last
      // session would steal the cores from the next one (measured: VAE runs up to 2x slower).
      extra: { session: sessionConfig },
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.interOpNumThreads ? { interOpNumThreads: options.interOpNumThreads } : {}),
    };
    let rewritten: Uint8Array | null = null;
    let folded = 0;
    if (rewrites.foldKeyTransposes && (options.executionProvider ?? 'cpu') === 'cpu') {
      ({ rewritten, folded } = await foldKeyTransposesOfFileAsync(modelPath));
      // a model read from memory finds its external data files relative to this folder
      if (rewritten) sessionConfig.model_external_initializers_file_folder_path = path.dirname(modelPath);
    }
    let session: ort.InferenceSession;
    try {
      session = rewritten ? await ort.InferenceSession.create(rewritten, sessionOptions) : await ort.InferenceSession.create(modelPath, sessionOptions);
    } catch (cause) {
      const provider = options.executionProvider ?? 'cpu';
      // The CPU provider loads every valid ONNX file, so a failure there is the file's; on a GPU
      // provider the same file may fail for the provider's reasons (an operator, memory, a driver).
      if (provider !== 'cpu') {
        throw new MgieError('MGIE_ERR_PROVIDER_UNAVAILABLE', `${label}: the ${provider} provider could not load it: ${diagnoseProviderFailure(provider, { message: firstLine(cause) })}`, { cause });
      }
      throw new MgieError('MGIE_ERR_BUNDLE_MODEL_IO', `${label}: onnxruntime could not load the model (${firstLine(cause)}). The file is damaged or not from the exporter: re-export the bundle.`, { cause });
    }
    return new ModelSession(label, session, specsOf(session.inputMetadata), specsOf(session.outputMetadata), folded);
  }

  /**
   * Runs the model. Float feeds are converted to the type the model declares (float16 models take
   * float32 from the pipeline); outputs come back in the model's own types (see float32Data).
   */
  async runAsync(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const missing = [...this.inputs.keys()].filter((name) => !(name in feeds));
    const unknown = Object.keys(feeds).filter((name) => !this.inputs.has(name));
    if (missing.length > 0 || unknown.length > 0) {
      throw new MgieError(
        'MGIE_ERR_RUNTIME',
        `${this.label}: inputs do not match the model (missing: ${missing.join(', ') || 'none'}; unknown: ${unknown.join(', ') || 'none'}; expected: ${[...this.inputs.keys()].join(', ')}).`,
      );
    }
    const typedFeeds: Record<string, Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) typedFeeds[name] = toType(tensor, this.inputs.get(name)!.type);
    const started = performance.now();
    try {
      return (await this.session.run(typedFeeds)) as Record<string, Tensor>;
    } catch (cause) {
      throw new MgieError('MGIE_ERR_RUNTIME', `${this.label}: the model failed to run (${firstLine(cause)}).`, { cause });
    } finally {
      this.runMilliseconds += performance.now() - started;
      this.runCount += 1;
    }
  }

  async releaseAsync(): Promise<void> {
    await this.session.release();
  }
}

/** The rewritten graph, or null to load the file as it is (nothing to fold, too large, or unreadable: onnxruntime then says why). */
async function foldKeyTransposesOfFileAsync(modelPath: string): Promise<{ rewritten: Uint8Array | null; folded: number }> {
  try {
    if ((await stat(modelPath)).size > MAX_REWRITTEN_GRAPH_BYTES) return { rewritten: null, folded: 0 };
    const { bytes, folded } = foldKeyTransposes(await readFile(modelPath));
    return { rewritten: folded > 0 ? bytes : null, folded };
  } catch {
    return { rewritten: null, folded: 0 };
  }
}

function providerConfig(options: ExecutionOptions): ort.InferenceSession.ExecutionProviderConfig {
  const name = options.executionProvider ?? 'cpu';
  if (options.deviceId !== undefined && (name === 'cuda' || name === 'dml')) {
    return { name, deviceId: options.deviceId } as ort.InferenceSession.ExecutionProviderConfig;
  }
  return name as ort.InferenceSession.ExecutionProviderConfig;
}

function specsOf(metadata: readonly ort.InferenceSession.ValueMetadata[]): Map<string, ValueSpec> {
  const specs = new Map<string, ValueSpec>();
  for (const value of metadata) {
    if (!value.isTensor) continue;
    specs.set(value.name, { name: value.name, type: value.type, shape: value.shape });
  }
  return specs;
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}
