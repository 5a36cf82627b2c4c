import { randomInt } from 'node:crypto';

const MAX_SEED = 0xffffffff;
const TWO_POW_MINUS_32 = 2 ** -32;
const TWO_PI = 2 * Math.PI;

/**
 * Seeded generator for the tiny test models' weights (models/onnx-builder): xoshiro128** (Blackman &
 * Vigna) with its 128-bit state expanded from the 32-bit seed by splitmix32.
 *
 * Edits do not draw from it: their latents and ancestral noise come from TorchGenerator
 * (torch-random/torch-generator.ts), so that a seed means what it means to torch.
 */
export class SeededRandom {
  // State words kept as int32 (`| 0`) so V8 keeps them unboxed.
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`seed must be a whole number from 0 to ${MAX_SEED}, got ${seed}.`);
    }
    // splitmix32 (golden-ratio increment, then an avalanche mix) decorrelates nearby seeds.
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) | 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // xoshiro must not start from the all-zero state.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number {
    return this.nextInt32() >>> 0;
  }

  /** A uniformly distributed number in [0, 1), with 32 bits of resolution. */
  nextFloat(): number {
    return (this.nextInt32() >>> 0) * TWO_POW_MINUS_32;
  }

  /**
   * Fills `out` with standard normal values (Box–Muller, one pair per two uniforms; an odd last value uses
   * the cosine half only) and returns it. Consumes 2 * ceil(out.length / 2) uniforms, so the stream
   * position depends only on the lengths requested.
   */
  fillNormal(out: Float32Array): Float32Array {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      // (k + 0.5) / 2^32 lies in (0, 1), so the log is finite (tails reach about 6.7 sigma).
      const u1 = ((this.nextInt32() >>> 0) + 0.5) * TWO_POW_MINUS_32;
      const u2 = (this.nextInt32() >>> 0) * TWO_POW_MINUS_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = TWO_PI * u2;
      out[i] = r * Math.cos(theta);
      if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
    }
    return out;
  }

  /** `size` fresh standard normal values. */
  randn(size: number): Float32Array {
    return this.fillNormal(new Float32Array(size));
  }

  /** One xoshiro128** output, as a signed 32-bit integer. */
  private nextInt32(): number {
    const s1 = this.s1;
    const product = Math.imul(s1, 5);
    const result = Math.imul((product << 7) | (product >>> 25), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }
}

/** A fresh seed from the OS's cryptographic source, for edits that do not name one. */
export function drawSeed(): number {
  return randomInt(0, MAX_SEED + 1);
}
