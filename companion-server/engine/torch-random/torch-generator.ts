// torch's CPU generator and its torch.randn for float32, bit for bit: `new TorchGenerator(seed).randn(n)`
// equals `torch.randn(n, generator=torch.Generator().manual_seed(seed))`, and successive calls follow
// the same generator's successive calls. This is the generator diffusers draws from when it is handed a
// CPU torch.Generator: the initial latents and each Euler Ancestral step's noise.
//
// What torch does (aten/src/ATen/native/cpu/DistributionTemplates.h, normal_kernel):
// - float32, at least 16 values, contiguous: normal_fill. One 24-bit uniform per value, in order
//   ((mt & 0xffffff) / 2^24, core/TransformationHelper.h uniform_real), then Box-Muller on each block of
//   16: values j and j + 8 come from u1 = 1 - data[j] and u2 = data[j + 8] (cos and sin). If the size is
//   not a multiple of 16, the last 16 values are drawn again from 16 fresh uniforms and recomputed. On
//   x86-64 (AVX2, and AVX-512, where normal_stub falls back to the AVX2 kernel, DistributionKernels.cpp)
//   log, sin and cos are avx_mathfun.h's float32 approximations: avx-mathfun.ts.
// - fewer than 16 values: one at a time, at::normal_distribution<double> (core/DistributionsHelper.h):
//   Box-Muller in double from two 53-bit uniforms (random64: two outputs, high word first), returning
//   r * cos and caching r * sin in the generator for the next scalar draw; the cache survives vector
//   calls, and manual_seed clears it. The double is then rounded to float32.
//
// Not reproduced: torch's other CPU kernels (ARM and the no-AVX2 default use the C library's logf, cosf
// and sinf; their last bits differ by platform) and the CUDA generator (Philox), which draws other
// numbers altogether.
import { log256, sincos256 } from './avx-mathfun.ts';
import { Mt19937 } from './mt19937.ts';

const fr = Math.fround;
const TWO_POW_MINUS_24 = 2 ** -24;
const TWO_POW_MINUS_53 = 2 ** -53;
const TWO_PI_F32 = fr(2 * Math.PI);
const MAX_SEED = 2n ** 64n - 1n;

export class TorchGenerator {
  private readonly engine: Mt19937;
  /** The scalar path's second Box-Muller value (CPUGeneratorImpl's next_double_normal_sample). */
  private cachedNormal: number | undefined;
  /** The 8 lanes of normal_fill_16_AVX2's vectors. */
  private readonly lanes = { u1: new Float32Array(8), theta: new Float32Array(8), log: new Float32Array(8), sin: new Float32Array(8), cos: new Float32Array(8) };

  /** `seed`: 0..2^64-1, as torch.Generator().manual_seed takes it; mt19937 uses its low 32 bits. */
  constructor(seed: number | bigint) {
    const valid = typeof seed === 'bigint' ? seed >= 0n && seed <= MAX_SEED : Number.isSafeInteger(seed) && seed >= 0;
    if (!valid) throw new RangeError(`seed must be a whole number from 0 to 2^64-1, got ${seed}.`);
    this.engine = new Mt19937(Number(BigInt(seed) & 0xffffffffn));
  }

  /** The next 32-bit output of the engine (torch's generator.random()). */
  nextUint32(): number {
    return this.engine.nextUint32();
  }

  /** `size` standard normal float32 values: torch.randn(size, generator=this). */
  randn(size: number): Float32Array {
    return this.fillNormal(new Float32Array(size));
  }

  /** Fills `out` as torch.randn(out.length, generator=this) would, and returns it. */
  fillNormal(out: Float32Array): Float32Array {
    const n = out.length;
    if (n < 16) {
      for (let i = 0; i < n; i++) out[i] = this.nextNormalDouble() + 0; // x * std + mean, std 1, mean 0 (turns -0 into +0)
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = this.nextUniform24();
    for (let i = 0; i + 16 <= n; i += 16) this.normalFill16(out, i);
    if (n % 16 !== 0) {
      for (let i = n - 16; i < n; i++) out[i] = this.nextUniform24();
      this.normalFill16(out, n - 16);
    }
    return out;
  }

  /** uniform_real_distribution<float>(0, 1): the low 24 bits of one output. */
  private nextUniform24(): number {
    return (this.engine.nextUint32() & 0xffffff) * TWO_POW_MINUS_24;
  }

  /** uniform_real_distribution<double>(0, 1): the low 53 bits of random64 (two outputs, high first). */
  private nextUniform53(): number {
    const high = this.engine.nextUint32() & 0x1fffff;
    const low = this.engine.nextUint32();
    return (high * 2 ** 32 + low) * TWO_POW_MINUS_53;
  }

  /** normal_distribution<double>: Box-Muller, theta from the first uniform and the radius from the second. */
  private nextNormalDouble(): number {
    const cached = this.cachedNormal;
    if (cached !== undefined) {
      this.cachedNormal = undefined;
      return cached;
    }
    const u1 = this.nextUniform53();
    const u2 = this.nextUniform53();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** normal_fill_16_AVX2: the 16 uniforms at `offset` become 16 normals, lane j giving values j and j + 8. */
  private normalFill16(data: Float32Array, offset: number): void {
    const { u1, theta, log, sin, cos } = this.lanes;
    for (let j = 0; j < 8; j++) {
      u1[j] = 1 - data[offset + j]; // [0, 1) -> (0, 1] for the log (exact)
      theta[j] = TWO_PI_F32 * data[offset + 8 + j];
    }
    log256(u1, log);
    sincos256(theta, sin, cos);
    for (let j = 0; j < 8; j++) {
      const radius = fr(Math.sqrt(fr(-2 * log[j])));
      // n * std + mean (one FMA in the kernel) is n + 0 for std 1 and mean 0
      data[offset + j] = fr(radius * cos[j]) + 0;
      data[offset + 8 + j] = fr(radius * sin[j]) + 0;
    }
  }
}
