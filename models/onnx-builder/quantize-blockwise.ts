// Block-wise weight quantization in the layout of onnxruntime's MatMulNBits (com.microsoft domain,
// docs/ContribOperators.md): the weight of y = x W, W [K, N], is cut into blocks of `blockSize`
// consecutive values along K for each output n; each block keeps a float scale and a `bits`-bit zero
// point, and dequantizes as (q - zeroPoint) * scale.
//
//   packed      uint8 [N, kBlocks, blockSize * bits / 8]: the block's values in K order, bit-packed
//               little end first (4 bits: value 2j in the low nibble of byte j, value 2j+1 in the high one)
//   scales      float [N, kBlocks]
//   zeroPoints  uint8 [N, ceil(kBlocks * bits / 8)]: packed along the blocks the same way
//
// kBlocks = ceil(K / blockSize); the tail of the last block is padding that quantizes to exactly 0.

export type QuantizedBits = 4 | 8;

export interface BlockwiseQuantized {
  bits: QuantizedBits;
  blockSize: number;
  /** Input features (rows of W). */
  k: number;
  /** Output features (columns of W). */
  n: number;
  kBlocks: number;
  packed: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/** The scheme written to the manifest (`llm.weights.scheme`): a zero point per block, so a block's range need not be centred. */
export const QUANTIZATION_SCHEME = 'asymmetric';

export function checkBlockSize(blockSize: number): void {
  // MatMulNBits accepts powers of two from 16 (ContribOperators.md, block_size).
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`quantization block size ${blockSize} must be a power of two, at least 16`);
  }
}

/**
 * Quantizes W [K, N] (row-major, the graph builder's linear layout) per block of K values.
 * Each block's range is widened to include 0, so that zero weights (and the padding) stay exactly zero: scale = (max - min) / (2^bits - 1),
 * zeroPoint = round(-min / scale), q = clamp(round(w / scale) + zeroPoint).
 */
export function quantizeBlockwise(weight: Float32Array, k: number, n: number, bits: QuantizedBits, blockSize: number): BlockwiseQuantized {
  checkBlockSize(blockSize);
  if (weight.length !== k * n) throw new Error(`quantize: ${weight.length} weights, expected ${k} x ${n}`);
  const kBlocks = Math.ceil(k / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const zeroPointBytes = Math.ceil((kBlocks * bits) / 8);
  const maxQ = (1 << bits) - 1;
  const packed = new Uint8Array(n * kBlocks * blobSize);
  const scales = new Float32Array(n * kBlocks);
  const zeroPoints = new Uint8Array(n * zeroPointBytes);
  const q = new Uint8Array(blockSize);
  for (let col = 0; col < n; col++) {
    for (let block = 0; block < kBlocks; block++) {
      const start = block * blockSize;
      const end = Math.min(k, start + blockSize);
      let min = 0;
      let max = 0;
      for (let row = start; row < end; row++) {
        const v = weight[row * n + col];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      // Scales are stored as float32: compute with the stored value so that quantization and
      // dequantization agree.
      const scale = Math.fround(max > min ? (max - min) / maxQ : 1);
      const zeroPoint = Math.min(maxQ, Math.max(0, Math.round(-min / scale)));
      for (let i = 0; i < blockSize; i++) {
        const row = start + i;
        q[i] = row < end ? Math.min(maxQ, Math.max(0, Math.round(weight[row * n + col] / scale) + zeroPoint)) : zeroPoint;
      }
      scales[col * kBlocks + block] = scale;
      packBits(q, bits, packed, (col * kBlocks + block) * blobSize);
      setPackedValue(zeroPoints, col * zeroPointBytes, block, zeroPoint, bits);
    }
  }
  return { bits, blockSize, k, n, kBlocks, packed, scales, zeroPoints };
}

function packBits(values: Uint8Array, bits: QuantizedBits, out: Uint8Array, offset: number): void {
  if (bits === 8) {
    out.set(values, offset);
    return;
  }
  for (let j = 0; j < values.length / 2; j++) out[offset + j] = values[2 * j] | (values[2 * j + 1] << 4);
}

function setPackedValue(out: Uint8Array, rowOffset: number, index: number, value: number, bits: QuantizedBits): void {
  if (bits === 8) {
    out[rowOffset + index] = value;
    return;
  }
  const byte = rowOffset + (index >> 1);
  out[byte] = index % 2 === 0 ? (out[byte] & 0xf0) | value : (out[byte] & 0x0f) | (value << 4);
}
