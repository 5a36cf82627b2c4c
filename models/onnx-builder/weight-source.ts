import { SeededRandom } from '../../companion-server/engine/random.ts';

/** Deterministic random weights: the same seed and the same sequence of requests give the same model. */
export class WeightSource {
  private readonly random: SeededRandom;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }

  normal(size: number, std: number): Float32Array {
    const values = this.random.randn(size);
    for (let i = 0; i < size; i++) values[i] *= std;
    return values;
  }

  uniform(size: number, low: number, high: number): Float32Array {
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = low + (high - low) * this.random.nextFloat();
    return values;
  }
}
