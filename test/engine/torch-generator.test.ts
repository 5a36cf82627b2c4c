// torch's CPU generator, bit for bit: goldens from the torch wheel (test/fixtures/compute-torch-randn-golden.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fmaf } from '../../companion-server/engine/torch-random/avx-mathfun.ts';
import { TorchGenerator } from '../../companion-server/engine/torch-random/torch-generator.ts';

interface Digest {
  count: number;
  sha256: string;
  first: number[];
  last: number[];
}
interface Golden {
  torch: string;
  sizes: Record<string, number[][]>;
  large: (Digest & { seed: string; shape: number[] })[];
  sequence: { seed: string; sizes: number[]; draws: number[][] };
  pipeline: { seed: string; shape: number[]; steps: number; draws: (number[] | Digest)[] }[];
}
const golden = JSON.parse(readFileSync(new URL('../fixtures/torch-randn-golden.json', import.meta.url), 'utf8')) as Golden;

const bitsOf = (values: Float32Array): number[] => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function assertBits(actual: Float32Array, expected: number[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const got = bitsOf(actual);
  for (let i = 0; i < expected.length; i++) {
    if (got[i] !== expected[i]) {
      const want = new Float32Array(new Uint32Array([expected[i]]).buffer)[0];
      assert.fail(`${label}[${i}]: got ${actual[i]} (0x${got[i].toString(16)}), torch has ${want} (0x${expected[i].toString(16)})`);
    }
  }
}

function assertDigest(actual: Float32Array, expected: Digest, label: string): void {
  assert.equal(actual.length, expected.count, `${label}: length`);
  assertBits(actual.subarray(0, expected.first.length), expected.first, `${label} (first values)`);
  assertBits(actual.subarray(actual.length - expected.last.length), expected.last, `${label} (last values)`);
  const bytes = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength); // little-endian on every platform Node runs on here
  assert.equal(createHash('sha256').update(bytes).digest('hex'), expected.sha256, `${label}: sha256 of all ${expected.count} values`);
}

test(`randn(n) for n = 1..40 equals torch ${golden.torch}'s, bit for bit, for seeds up to 2^64-1 (scalar path below 16, vector path and its tail from 16)`, () => {
  for (const [seed, draws] of Object.entries(golden.sizes)) {
    draws.forEach((expected, i) => assertBits(new TorchGenerator(BigInt(seed)).randn(i + 1), expected, `seed ${seed} randn(${i + 1})`));
  }
});

test('latent-sized draws (512 and 1024 px, non-square) and an odd size equal torch\'s, bit for bit', () => {
  for (const c of golden.large) assertDigest(new TorchGenerator(BigInt(c.seed)).randn(count(c.shape)), c, `seed ${c.seed} randn(${c.shape.join('x')})`);
});

test('calls of mixed sizes on one generator follow torch: the scalar path\'s cached value outlives vector calls', () => {
  const { seed, sizes, draws } = golden.sequence;
  const generator = new TorchGenerator(BigInt(seed));
  sizes.forEach((n, i) => assertBits(generator.randn(n), draws[i], `seed ${seed}, call ${i + 1}: randn(${n})`));
});

test('fillNormal writes the same values as randn into the buffer given, and returns it', () => {
  const { seed, sizes, draws } = golden.sequence;
  const generator = new TorchGenerator(BigInt(seed));
  sizes.forEach((n, i) => {
    const out = new Float32Array(n);
    assert.equal(generator.fillNormal(out), out);
    assertBits(out, draws[i], `fillNormal call ${i + 1}`);
  });
});

test('an edit\'s draws in diffusers\' order: initial latents, then one draw of their shape per Euler Ancestral step', () => {
  for (const p of golden.pipeline) {
    const generator = new TorchGenerator(BigInt(p.seed));
    p.draws.forEach((expected, i) => {
      const label = `seed ${p.seed} ${p.shape.join('x')} draw ${i} (${i === 0 ? 'initial latents' : `step ${i}`})`;
      const values = generator.randn(count(p.shape));
      if (Array.isArray(expected)) assertBits(values, expected, label);
      else assertDigest(values, expected, label);
    });
  }
});

test('a 64-bit seed means its low 32 bits (torch seeds mt19937 with seed & 0xffffffff)', () => {
  assert.deepEqual(new TorchGenerator(2n ** 40n + 13331n).randn(40), new TorchGenerator(13331).randn(40));
  assert.deepEqual(new TorchGenerator(2n ** 64n - 1n).randn(17), new TorchGenerator(0xffffffff).randn(17));
});

test('number and bigint seeds agree; seeds outside 0..2^64-1 or not whole throw a RangeError', () => {
  assert.deepEqual(new TorchGenerator(13331).randn(20), new TorchGenerator(13331n).randn(20));
  for (const seed of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, -1n, 2n ** 64n]) {
    assert.throws(() => new TorchGenerator(seed), RangeError, `seed ${seed}`);
  }
  assert.equal(new TorchGenerator(0).randn(0).length, 0);
});

test('mt19937 seeded as torch seeds it: the first outputs for seed 5489 are the reference implementation\'s', () => {
  // Matsumoto & Nishimura's mt19937ar.c with init_genrand(5489): the C++ standard's default_seed check
  // (the 10000th output is 4123659995).
  const generator = new TorchGenerator(5489);
  const first = [generator.nextUint32(), generator.nextUint32(), generator.nextUint32()];
  assert.deepEqual(first, [3499211612, 581869302, 3890346734]);
  for (let i = 4; i < 10000; i++) generator.nextUint32();
  assert.equal(generator.nextUint32(), 4123659995);
});

test('fmaf rounds a * b + c once, where rounding to a double and then to float32 would not', () => {
  // a * b = -(2^-23 - 2^-61): a * b + c = 2 + 2^-23 + 2^-61, just above the midpoint between 2 and 2 + 2^-22.
  // As a double it is the midpoint itself, which float32 rounding then sends to the even 2.
  const a = Math.fround(-(2 ** -23) * (1 + 2 ** -19));
  const b = Math.fround(1 - 2 ** -19);
  const c = Math.fround(2 + 2 ** -22);
  assert.equal(Math.fround(a * b + c), 2);
  assert.equal(fmaf(a, b, c), 2 + 2 ** -22);
  assert.equal(fmaf(-a, b, 2), 2); // the mirror case: 2 - 2^-23 + 2^-61 is below halfway, so 2
  assert.equal(fmaf(1.5, 2, 0.25), 3.25);
});

test('drawing 4x128x128 normals (a 1024-px latent) takes milliseconds', () => {
  const generator = new TorchGenerator(13331);
  generator.randn(4 * 128 * 128); // warm-up
  const started = performance.now();
  const values = generator.randn(4 * 128 * 128);
  const elapsed = performance.now() - started;
  assert.equal(values.length, 65536);
  assert.ok(elapsed < 250, `4x128x128 normals took ${elapsed.toFixed(1)} ms`);
});
