"""Block-wise 4- and 8-bit weight quantization in the layout of ONNX Runtime's com.microsoft MatMulNBits.

MatMulNBits (onnxruntime docs/ContribOperators.md; shapes as contrib_ops/cpu/quantization/matmul_nbits_helper.h
checks them) computes Y = A @ dequantize(B)^T for a weight of N output and K input features, where
  - B is uint8 [N, k_blocks, blob_size], k_blocks = ceil(K / block_size), blob_size = block_size * bits / 8:
    each output row is cut into blocks of block_size consecutive input features and each block is bit-packed,
    for 4 bits the even element in the low nibble and the odd one in the high nibble of each byte;
  - scales are [N, k_blocks] in A's float type;
  - zero_points (optional) are uint8 [N, ceil(k_blocks * bits / 8)], packed like B; without them the zero point
    is 2^(bits - 1) (8 for 4 bits, 128 for 8 bits);
  - dequantize(q) = (q - zero_point) * scale, per block.
The weight is a torch Linear weight, [N, K] = [out_features, in_features]: its rows are already B's rows.

This module is numpy only and independent of ONNX Runtime's own quantizer (written from the contract above);
`dequantize` decodes the packed bytes back, and is the reference the runtime's output is checked against
(test/models/python/check_block_quantize.py runs MatMulNBits in onnxruntime-node against it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import SCHEMES as _SCHEMES

#: Schemes: "asymmetric" maps each block's [min(x, 0), max(x, 0)] onto 0..2^bits-1 with a zero point per block;
#: "symmetric" stores no zero points (the operator's default 2^(bits-1)) and maps the block's largest-magnitude
#: value exactly onto -2^(bits-1), so its scale carries that value's sign (as llama.cpp's Q4_0 does): the
#: extreme weight, the one that matters most, is then represented without error, and the level a positive-only
#: scale would waste is used.
SCHEMES = _SCHEMES
BITS = (4, 8)


@dataclass(frozen=True)
class QuantizedWeight:
    """MatMulNBits' B, scales and (asymmetric) zero_points for a [N, K] weight."""

    packed: np.ndarray  # uint8 [N, k_blocks, block_size * bits / 8]
    scales: np.ndarray  # float32 [N, k_blocks]
    zero_points: np.ndarray | None  # uint8 [N, ceil(k_blocks * bits / 8)], or None (symmetric)
    bits: int
    block_size: int
    n: int
    k: int

    @property
    def k_blocks(self) -> int:
        return self.packed.shape[1]

    @property
    def nbytes(self) -> int:
        return self.packed.nbytes + self.scales.nbytes + (0 if self.zero_points is None else self.zero_points.nbytes)


def check_format(bits: int, block_size: int, scheme: str) -> None:
    """The combinations the operator accepts (block size: a power of two, at least 16) and this module writes."""
    if bits not in BITS:
        raise ValueError(f"bits {bits}: only {' and '.join(map(str, BITS))} are written")
    if block_size < 16 or block_size & (block_size - 1):
        raise ValueError(f"block size {block_size}: MatMulNBits takes a power of two, at least 16")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r}: one of {', '.join(SCHEMES)}")


def quantize_blockwise(weight: np.ndarray, bits: int, block_size: int, scheme: str = "asymmetric") -> QuantizedWeight:
    """weight [N, K] (float) -> QuantizedWeight. K is zero-padded to whole blocks (the padding is never read back:
    MatMulNBits' K attribute stops the dot products at K). Rounding is to nearest, ties to even (np.rint)."""
    check_format(bits, block_size, scheme)
    n, k = weight.shape
    k_blocks = -(-k // block_size)
    if k % block_size == 0 and weight.dtype == np.float32 and weight.flags.c_contiguous:
        blocks = weight.reshape(n, k_blocks, block_size)  # a view: a 7B layer's matrices are not copied
    else:
        padded = np.zeros((n, k_blocks * block_size), dtype=np.float32)
        padded[:, :k] = weight
        blocks = padded.reshape(n, k_blocks, block_size)
    top = (1 << bits) - 1
    if scheme == "asymmetric":
        # the range always includes 0, so that zero weights (and the padding) dequantize to exactly 0
        low = np.minimum(blocks.min(axis=2), 0.0)
        high = np.maximum(blocks.max(axis=2), 0.0)
        scales = (high - low) / top
        scales[scales == 0] = 1.0  # an all-zero block: any scale gives q = zero point
        zero = np.clip(np.rint(-low / scales), 0, top)
    else:
        index = np.abs(blocks).argmax(axis=2)[..., None]
        extreme = np.take_along_axis(blocks, index, axis=2)[..., 0]
        scales = extreme / -(1 << (bits - 1))
        scales[scales == 0] = 1.0
        zero = np.full(scales.shape, 1 << (bits - 1), dtype=np.float32)
    scales = scales.astype(np.float32)
    # in place after the first division: these arrays are as large as the weight
    levels = blocks / scales[..., None]
    np.rint(levels, out=levels)
    levels += zero[..., None]
    np.clip(levels, 0, top, out=levels)
    q = levels.astype(np.uint8)
    del levels
    packed = pack_bits(q.reshape(n, -1), bits).reshape(n, k_blocks, block_size * bits // 8)
    zero_points = pack_bits(zero.astype(np.uint8), bits) if scheme == "asymmetric" else None
    return QuantizedWeight(packed, scales, zero_points, bits, block_size, n, k)


def pack_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """[N, M] values < 2^bits -> [N, ceil(M * bits / 8)] bytes, element 2i in the low nibble for 4 bits."""
    if bits == 8:
        return values.astype(np.uint8, copy=False)
    n, m = values.shape
    if m % 2:
        values = np.concatenate([values, np.zeros((n, 1), dtype=values.dtype)], axis=1)
    return (values[:, 0::2] | (values[:, 1::2] << 4)).astype(np.uint8)


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """The inverse of pack_bits: [N, bytes] -> [N, count]."""
    if bits == 8:
        return packed[:, :count]
    out = np.empty((packed.shape[0], packed.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = packed & 0x0F
    out[:, 1::2] = packed >> 4
    return out[:, :count]


def dequantize(weight: QuantizedWeight) -> np.ndarray:
    """[N, K] float32 from the packed bytes, as MatMulNBits defines it: (q - zero_point) * scale per block."""
    n, k_blocks, bs = weight.n, weight.k_blocks, weight.block_size
    q = unpack_bits(weight.packed.reshape(n, -1), weight.bits, k_blocks * bs).reshape(n, k_blocks, bs)
    if weight.zero_points is None:
        zero = np.full((n, k_blocks), 1 << (weight.bits - 1), dtype=np.float32)
    else:
        zero = unpack_bits(weight.zero_points, weight.bits, k_blocks).astype(np.float32)
    values = (q.astype(np.float32) - zero[..., None]) * weight.scales[..., None]
    return values.reshape(n, -1)[:, :weight.k]
