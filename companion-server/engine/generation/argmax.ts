/** Index of the largest value in data[offset, offset+length); the first one on ties, as torch.argmax. */
export function argmax(data: Float32Array, offset = 0, length = data.length - offset): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = data[offset + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
