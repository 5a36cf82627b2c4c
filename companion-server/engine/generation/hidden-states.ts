/**
 * The decoder's last hidden state (final-norm output) for every position it ran on, kept as the
 * per-run blocks the decoder returned: the prompt block, then one row per generated token.
 */
export class HiddenStates {
  private readonly blocks: Float32Array[] = [];
  private readonly starts: number[] = [];
  length = 0;

  constructor(readonly hiddenSize: number) {}

  append(block: Float32Array): void {
    if (block.length % this.hiddenSize !== 0) throw new Error(`hidden state block of ${block.length} values is not a multiple of ${this.hiddenSize}`);
    this.blocks.push(block);
    this.starts.push(this.length);
    this.length += block.length / this.hiddenSize;
  }

  /** Rows [start, start+count) copied into one [count * hiddenSize] array. */
  rows(start: number, count: number): Float32Array {
    if (start < 0 || start + count > this.length) throw new RangeError(`rows ${start}..${start + count} outside 0..${this.length}`);
    const out = new Float32Array(count * this.hiddenSize);
    for (let row = 0; row < count; row++) {
      const index = start + row;
      let b = this.starts.length - 1;
      while (this.starts[b] > index) b--;
      const offset = (index - this.starts[b]) * this.hiddenSize;
      out.set(this.blocks[b].subarray(offset, offset + this.hiddenSize), row * this.hiddenSize);
    }
    return out;
  }
}
