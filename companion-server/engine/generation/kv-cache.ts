import { emptyTensor, type ElementType, type Tensor } from '../onnx-runtime.ts';

/**
 * The decoder's key/value cache: starts as empty [1, Hkv, 0, Dh] tensors and takes each run's
 * `present.{i}.*` outputs as the next run's `past_key_values.{i}.*` inputs, without copying.
 */
export class KvCache {
  private past: Record<string, Tensor> = {};
  length = 0;

  constructor(private readonly numLayers: number, numKvHeads: number, headDim: number, type: ElementType) {
    for (let i = 0; i < numLayers; i++) {
      for (const part of ['key', 'value']) this.past[`past_key_values.${i}.${part}`] = emptyTensor(type, [1, numKvHeads, 0, headDim]);
    }
  }

  feeds(): Record<string, Tensor> {
    return this.past;
  }

  update(outputs: Record<string, Tensor>): void {
    const next: Record<string, Tensor> = {};
    for (let i = 0; i < this.numLayers; i++) {
      for (const part of ['key', 'value']) next[`past_key_values.${i}.${part}`] = outputs[`present.${i}.${part}`];
    }
    this.past = next;
    this.length = next['past_key_values.0.key'].dims[2];
  }
}
