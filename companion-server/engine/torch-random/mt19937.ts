// The Mersenne Twister that torch's CPU generator runs (aten/src/ATen/core/MT19937RNGEngine.h): the
// standard MT19937 (Matsumoto & Nishimura, mt19937ar.c), seeded with init_genrand.
const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  private next = N;

  /** `seed32`: 0..2^32-1. torch's mt19937(seed) keeps only `seed & 0xffffffff` of its 64-bit seed. */
  constructor(seed32: number) {
    const state = this.state;
    state[0] = seed32;
    for (let i = 1; i < N; i++) {
      const previous = state[i - 1];
      // 1812433253 * (s ^ (s >> 30)) + i, modulo 2^32
      state[i] = Math.imul(1812433253, previous ^ (previous >>> 30)) + i;
    }
  }

  /** The next 32-bit output (torch's CPUGeneratorImpl::random()). */
  nextUint32(): number {
    if (this.next >= N) this.twist();
    let y = this.state[this.next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const state = this.state;
    let i = 0;
    // The three index ranges of mt19937ar.c's genrand_int32, so that no index needs a modulo.
    for (; i < N - M; i++) state[i] = mix(state[i + M], state[i], state[i + 1]);
    for (; i < N - 1; i++) state[i] = mix(state[i + M - N], state[i], state[i + 1]);
    state[N - 1] = mix(state[M - 1], state[N - 1], state[0]);
    this.next = 0;
  }
}

function mix(far: number, current: number, following: number): number {
  const y = (current & UPPER_MASK) | (following & LOWER_MASK);
  return far ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
}
