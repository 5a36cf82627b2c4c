// Small numeric helpers shared by the model tests.
import assert from 'node:assert/strict';

export function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
export const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
export const allFinite = (a: Float32Array): boolean => a.every(Number.isFinite);
