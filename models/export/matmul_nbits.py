"""Turns the LLM decoder's weight MatMuls into com.microsoft MatMulNBits nodes (block_quantize.py packs the weights).

Which MatMuls: those whose B is a weight initializer of a decoder layer's projection (q/k/v/o, gate/up/down):
99.6 % of a decoder layer's parameters and all of its matrix products, the "4 bits" of a 4-bit 7B. The
embedding table stays a float Gather in embed.onnx (MatMulNBits is a product, not a lookup; the table is
2 % of the model). lm_head is quantized too unless asked not to (`quantize_lm_head`), see
models/README.md "Quantized LLM weights" for the fidelity it costs.

The TorchScript exporter writes a Linear without bias as MatMul(x, W^T) with W^T [K, N] constant-folded into an
initializer, so B^T is the torch weight [N, K] that MatMulNBits packs row by row.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from .block_quantize import QuantizedWeight, check_format, dequantize, quantize_blockwise
from .ms_contrib import MS_DOMAIN, ensure_ms_opset

#: The decoder layers' projections, as the exporter names their MatMul nodes (/model/layers.7/mlp/up_proj/MatMul).
LAYER_MATMUL = re.compile(r"^/model/layers\.\d+/(self_attn/(q|k|v|o)_proj|mlp/(gate|up|down)_proj)/MatMul$")
LM_HEAD_MATMUL = "/lm_head/MatMul"
#: The same projections' weights, named relative to their decoder layer (LlamaDecoderLayer.state_dict()).
LAYER_PARAM = re.compile(r"^(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$")
#: ONNX Runtime's accuracy_level (MatMulNBits' attribute): 0 ("unset"), A is neither quantized nor downcast and
#: the CPU kernel (CompFp32) dequantizes the weights to float32 for every product; 4, the CPU kernel quantizes A to
#: int8 per block and multiplies in integers (CompInt8), much faster for one token at a time on CPUs, a second
#: source of error (measured in export/VERIFICATION.md). GPU providers ignore it.
ACCURACY_LEVELS = (0, 4)


@dataclass(frozen=True)
class LlmWeights:
    """--llm-weights and its quantization settings, as recorded in the manifest."""

    format: str = "fp32"  # fp32 | fp16 | int8 | int4
    block_size: int = 32
    scheme: str = "asymmetric"
    quantize_lm_head: bool = True
    accuracy_level: int = 0

    FORMATS = ("fp32", "fp16", "int8", "int4")

    def __post_init__(self) -> None:
        if self.format not in self.FORMATS:
            raise ValueError(f"--llm-weights {self.format}: one of {', '.join(self.FORMATS)}")
        if self.accuracy_level not in ACCURACY_LEVELS:
            raise ValueError(f"--accuracy-level {self.accuracy_level}: one of {', '.join(map(str, ACCURACY_LEVELS))}")
        if self.quantized:
            check_format(self.bits, self.block_size, self.scheme)

    @property
    def quantized(self) -> bool:
        return self.format in ("int8", "int4")

    @property
    def bits(self) -> int:
        return {"int8": 8, "int4": 4}.get(self.format, 0)

    def quantizes(self, node_name: str) -> bool:
        """Whether the MatMul of this name gets MatMulNBits."""
        return self.quantized and (bool(LAYER_MATMUL.match(node_name)) or (self.quantize_lm_head and node_name == LM_HEAD_MATMUL))

    def quantizes_param(self, name: str) -> bool:
        """Whether a layer parameter (self_attn.q_proj.weight, ...) or lm_head.weight is quantized."""
        return self.quantized and (bool(LAYER_PARAM.match(name)) or (self.quantize_lm_head and name == "lm_head.weight"))

    def round_trip(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        """The weight as MatMulNBits computes with it (dequantize(quantize(weight))), if `name` is quantized: the
        PyTorch side of --verify, so a quantized decoder is held to float32 tolerance, not to its quantization error."""
        if not self.quantizes_param(name):
            return weight
        packed = quantize_blockwise(weight.detach().to(torch.float32).numpy(), self.bits, self.block_size, self.scheme)
        return torch.from_numpy(dequantize(packed))

    def manifest_entry(self) -> dict:
        entry: dict = {"format": self.format}
        if self.quantized:
            entry.update({"op": "MatMulNBits", "domain": MS_DOMAIN, "bits": self.bits, "blockSize": self.block_size,
                          "scheme": self.scheme, "accuracyLevel": self.accuracy_level,
                          "quantized": "decoder layer projections" + (" and lm_head" if self.quantize_lm_head else ""),
                          "activations": "float32"})
        return entry


def quantized_node(node: onnx.NodeProto, quantized: QuantizedWeight, prefix: str,
                   accuracy_level: int = 0) -> tuple[onnx.NodeProto, dict[str, np.ndarray]]:
    """The MatMulNBits node replacing `node` (MatMul(A, B) with B the weight), and its initializers by name."""
    names = {"B": f"{prefix}.qweight", "scales": f"{prefix}.scales"}
    arrays = {names["B"]: quantized.packed, names["scales"]: quantized.scales}
    inputs = [node.input[0], names["B"], names["scales"]]
    if quantized.zero_points is not None:
        names["zero_points"] = f"{prefix}.zero_points"
        arrays[names["zero_points"]] = quantized.zero_points
        inputs.append(names["zero_points"])
    replacement = helper.make_node("MatMulNBits", inputs, list(node.output), name=node.name + "NBits", domain=MS_DOMAIN,
                                   K=quantized.k, N=quantized.n, bits=quantized.bits, block_size=quantized.block_size,
                                   accuracy_level=accuracy_level)
    return replacement, arrays


def quantize_weight(transposed: np.ndarray, weights: LlmWeights) -> QuantizedWeight:
    """B [K, N] of a MatMul (float) -> MatMulNBits' packed [N, K] weight."""
    return quantize_blockwise(np.ascontiguousarray(transposed.T, dtype=np.float32), weights.bits, weights.block_size, weights.scheme)


def quantize_model(proto: onnx.ModelProto, weights: LlmWeights,
                   progress: Callable[[str], None] | None = None) -> int:
    """Replaces, in place, every MatMul that `weights.quantizes` with MatMulNBits; returns how many.
    For models held in memory (a few layers); the streamed export quantizes as it writes (streamed_decoder.py)."""
    graph = proto.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    users = _users(graph)
    count = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "MatMul" or not weights.quantizes(node.name) or node.input[1] not in initializers:
            continue
        weight_name = node.input[1]
        if users[weight_name] != 1:
            raise ValueError(f"{weight_name} feeds {users[weight_name]} nodes; a weight shared by several MatMuls is not quantized")
        tensor = initializers.pop(weight_name)
        quantized = quantize_weight(numpy_helper.to_array(tensor), weights)
        replacement, arrays = quantized_node(node, quantized, node_prefix(node.name), weights.accuracy_level)
        graph.node.remove(node)
        graph.node.insert(index, replacement)
        graph.initializer.remove(tensor)
        graph.initializer.extend(numpy_helper.from_array(array, name) for name, array in arrays.items())
        count += 1
        if progress:
            progress(node.name)
    ensure_ms_opset(proto)
    return count


def node_prefix(node_name: str) -> str:
    """/model/layers.3/self_attn/q_proj/MatMul -> model.layers.3.self_attn.q_proj (the torch module's name)."""
    return node_name.strip("/").rsplit("/", 1)[0].replace("/", ".")


def _users(graph: onnx.GraphProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            counts[name] = counts.get(name, 0) + 1
    return counts


def matmul_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    return (node for node in graph.node if node.op_type in ("MatMul", "MatMulNBits"))
