// log256_ps and sincos256_ps of aten/src/ATen/native/cpu/avx_mathfun.h (Cephes' logf and sinf/cosf as
// Pommier and Garberoglio vectorised them) over 8 lanes, in float32 exactly as torch's x86-64 wheel
// computes them: every operation is rounded to float32, and where GCC contracted a multiply and an
// add into one FMA (read from the wheel's normal_fill_16_AVX2: every Horner step, the e * log(2) terms,
// the range reduction, and the second multiply of each polynomial's tail) it is rounded once, by fmaf.

const fr = Math.fround;

const SQRTHF = fr(0.707106781186547524);
const LOG_P0 = fr(7.0376836292e-2);
const LOG_P1 = fr(-1.151461031e-1);
const LOG_P2 = fr(1.167699874e-1);
const LOG_P3 = fr(-1.2420140846e-1);
const LOG_P4 = fr(1.4249322787e-1);
const LOG_P5 = fr(-1.6668057665e-1);
const LOG_P6 = fr(2.0000714765e-1);
const LOG_P7 = fr(-2.4999993993e-1);
const LOG_P8 = fr(3.3333331174e-1);
const LOG_Q1 = fr(-2.1219444e-4);
const LOG_Q2 = fr(0.693359375);
const MIN_NORM_POS = 2 ** -126;

const MINUS_DP1 = fr(-0.78515625);
const MINUS_DP2 = fr(-2.4187564849853515625e-4);
const MINUS_DP3 = fr(-3.77489497744594108e-8);
const SINCOF_P0 = fr(-1.9515295891e-4);
const SINCOF_P1 = fr(8.3321608736e-3);
const SINCOF_P2 = fr(-1.6666654611e-1);
const COSCOF_P0 = fr(2.443315711809948e-5);
const COSCOF_P1 = fr(-1.388731625493765e-3);
const COSCOF_P2 = fr(4.166664568298827e-2);
const FOPI = fr(1.27323954473516); // 4 / pi

// The float's bits, for the exponent and mantissa split of log.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** log256_ps: out[k] = log(x[k]) for 8 positive float32 lanes (arrays, so no lane value is boxed). */
export function log256(input: Float32Array, out: Float32Array): void {
  for (let k = 0; k < 8; k++) {
    f32[0] = Math.max(input[k], MIN_NORM_POS); // cut off denormals
    const bits = u32[0];
    u32[0] = (bits & 0x807fffff) | 0x3f000000; // keep the mantissa, as a number in [0.5, 1)
    let x = f32[0];
    let e = (bits >>> 23) - 0x7f + 1;
    // if x < SQRTHF: e -= 1, x = x + x - 1; else x = x - 1 (all exact)
    const below = x < SQRTHF;
    const tmp = below ? x : 0;
    x = fr(x - 1);
    if (below) e -= 1;
    x = fr(x + tmp);
    const z = fr(x * x);
    let y = fmaf(LOG_P0, x, LOG_P1);
    y = fmaf(y, x, LOG_P2);
    y = fmaf(y, x, LOG_P3);
    y = fmaf(y, x, LOG_P4);
    y = fmaf(y, x, LOG_P5);
    y = fmaf(y, x, LOG_P6);
    y = fmaf(y, x, LOG_P7);
    y = fmaf(y, x, LOG_P8);
    const eQ1 = fr(e * LOG_Q1);
    y = fr(x * y);
    y = fmaf(y, z, eQ1); // y * z + e * q1: the product y * z is the one fused
    y = fmaf(-z, 0.5, y); // y - z * 0.5
    x = fr(x + y);
    out[k] = fmaf(e, LOG_Q2, x);
  }
}

/** sincos256_ps: sin[k] and cos[k] of 8 float32 lanes. */
export function sincos256(input: Float32Array, sin: Float32Array, cos: Float32Array): void {
  for (let k = 0; k < 8; k++) {
    const value = input[k];
    const negative = value < 0 || (value === 0 && 1 / value < 0); // the sign bit, -0 included
    let x = Math.abs(value);
    // j = (int(x * 4 / pi) + 1) & ~1: the octant, rounded up to even
    const j = ((fr(x * FOPI) | 0) + 1) & ~1;
    // x - j * pi / 4 in three parts ("extended precision modular arithmetic"), each step one FMA
    x = fmaf(j, MINUS_DP1, x);
    x = fmaf(j, MINUS_DP2, x);
    x = fmaf(j, MINUS_DP3, x);
    const sinNegative = negative !== ((j & 4) !== 0);
    const cosNegative = (~(j - 2) & 4) !== 0;
    const cosPolynomialForSin = (j & 2) !== 0;

    const z = fr(x * x);
    const halfZ = fr(z * 0.5);
    // cos polynomial: 1 - z / 2 + z^2 * P(z), its last multiply fused with the subtraction of z / 2
    let c = fmaf(COSCOF_P0, z, COSCOF_P1);
    c = fmaf(c, z, COSCOF_P2);
    c = fr(z * c);
    c = fmaf(z, c, -halfZ);
    c = fr(c + 1);
    // sin polynomial: x + x * z * P(z)
    let s = fmaf(SINCOF_P0, z, SINCOF_P1);
    s = fmaf(s, z, SINCOF_P2);
    s = fr(z * s);
    s = fmaf(s, x, x);
    // Select per octant with and/andnot masks (the unselected part is +0), then subtract and add as the
    // kernel does, so the signs of zeros come out the same.
    const sinFromSin = cosPolynomialForSin ? 0 : s;
    const sinFromCos = cosPolynomialForSin ? c : 0;
    const sinValue = fr(sinFromSin + sinFromCos);
    const cosValue = fr(fr(s - sinFromSin) + fr(c - sinFromCos));
    sin[k] = sinNegative ? -sinValue : sinValue;
    cos[k] = cosNegative ? -cosValue : cosValue;
  }
}

/**
 * A float32 fused multiply-add: a * b + c rounded once, as x86's vfmadd*ps computes it. torch's x86-64
 * wheel contracts avx_mathfun.h's multiply-then-add pairs into FMAs (GCC's -ffp-contract=fast with
 * -mfma), so reproducing its normals bit for bit needs the single rounding.
 *
 * a, b and c must be float32 values. The product of two float32s is exact in a double; the sum with c
 * is then rounded to a double and to float32, which rounds twice only when that double lies exactly
 * halfway between two float32s: the exact sum's remainder (TwoSum) then says which way to go.
 */
export function fmaf(a: number, b: number, c: number): number {
  const sum = a * b + c;
  const rounded = fr(sum);
  // Double rounding can only go wrong when `sum` lies exactly halfway between two float32s; the float32
  // on its other side, rounded + 2 * (sum - rounded), is then exact. Anywhere else single and double
  // rounding agree (also when `sum` is itself a float32).
  const other = 2 * sum - rounded;
  if (other === rounded || fr(other) !== other) return rounded;
  return breakTie(a * b, c, sum, rounded, other);
}

/** At a tie, the remainder of the exact sum (TwoSum) says on which side the exact value lies. Kept out of
 * fmaf so that fmaf stays small enough for V8 to inline at every call. */
function breakTie(product: number, c: number, sum: number, rounded: number, other: number): number {
  const virtualC = sum - product;
  const remainder = product - (sum - virtualC) + (c - virtualC);
  if (remainder === 0) return rounded; // an exact tie: ties-to-even, as fround did
  return remainder > 0 ? Math.max(rounded, other) : Math.min(rounded, other);
}
