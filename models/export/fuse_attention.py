"""Replaces the attention that torch.onnx writes for diffusers' `Attention` (UNet self/cross attention, the VAE's
mid-block attention) by one com.microsoft `MultiHeadAttention` node per block.

Why: the TorchScript exporter spells scaled-dot-product attention out as MatMul, Softmax, MatMul, so ONNX Runtime
materialises the whole score matrix. In SD 1.5's UNet at 512 px the highest-resolution self-attention has 4096
tokens: 3 (guidance batch) x 8 heads x 4096 x 4096 floats = 1.6 GB of scores, and as much again for the softmax,
which made a real-width edit peak at 1.76 x the bundle's bytes. ONNX Runtime's CPU kernel for MultiHeadAttention
runs flash attention in float32 (no score matrix; MLAS, tiled for the L2 cache) when it has no mask, bias or
past/present, which is what these blocks are; the CUDA, WebGPU and DirectML providers implement the operator too.

What is matched, per block prefix P (".../attn1/"): the three projections P+"to_q/MatMul", P+"to_k/MatMul",
P+"to_v/MatMul" (with their bias Add where there is one) and P+"to_out.0/MatMul", around a Softmax with the default
scale 1/sqrt(head size) (checked from the graph's own constant). The projections' outputs [B, S, H*D] are the
operator's query, key and value as they are; its output [B, S, H*D] feeds to_out where the exporter's Reshape did. The nodes
that computed the attention are then unused and removed with everything only they used.
Only float32 models are rewritten: the CPU provider has the operator in float32 only, and float16 bundles must still
run there.

    python -m models.export.fuse_attention BUNDLE     rewrites an exported bundle in place (graphs only: the
                                                      weights' files are not touched), updating its sha256
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .ms_contrib import MS_DOMAIN, ensure_ms_opset

#: bundle models that hold diffusers attention blocks
MODELS_WITH_ATTENTION = ("unet", "vaeEncoder", "vaeDecoder")


def _constant_value(graph: onnx.GraphProto, name: str, producers: dict) -> np.ndarray | None:
    node = producers.get(name)
    if node is not None and node.op_type == "Constant":
        return numpy_helper.to_array(node.attribute[0].t)
    for init in graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def fuse_attention(model: onnx.ModelProto) -> int:
    """Rewrites `model` in place; returns how many attention blocks became MultiHeadAttention nodes."""
    graph = model.graph
    by_name = {node.name: node for node in graph.node}
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    fused = 0
    for softmax in [node for node in graph.node if node.op_type == "Softmax"]:
        prefix = softmax.name.rsplit("/", 1)[0] + "/"
        q, k, v, out = (by_name.get(prefix + part) for part in ("to_q/MatMul", "to_k/MatMul", "to_v/MatMul", "to_out.0/MatMul"))
        if None in (q, k, v, out):
            continue
        query, key, value = (_projection_output(node, consumers) for node in (q, k, v))
        heads = _heads(graph, query, consumers, producers)
        if heads is None or not _default_scale(graph, prefix, producers):
            continue
        output = prefix + "MultiHeadAttention_output_0"
        graph.node.insert(list(graph.node).index(out), helper.make_node(
            "MultiHeadAttention", [query, key, value], [output], name=prefix + "MultiHeadAttention",
            domain=MS_DOMAIN, num_heads=heads))
        out.input[0] = output
        fused += 1
    if fused:
        _remove_unused(graph)
        ensure_ms_opset(model)
    return fused


def _heads(graph: onnx.GraphProto, query: str, consumers: dict, producers: dict) -> int | None:
    """The head count from the Reshape of the query to [B, -1, H, D]: the third entry of its shape, a constant, or
    with dynamic axes a Concat whose third input is one."""
    for reshape in consumers[query]:
        if reshape.op_type != "Reshape":
            continue
        shape = _constant_value(graph, reshape.input[1], producers)
        if shape is not None:
            return int(shape[2]) if shape.shape == (4,) else None
        concat = producers.get(reshape.input[1])
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 4:
            return None
        value = _constant_value(graph, concat.input[2], producers)
        return int(value.reshape(-1)[0]) if value is not None and value.size == 1 else None
    return None


def _projection_output(matmul: onnx.NodeProto, consumers: dict) -> str:
    """The projection's result: the MatMul's output, or the bias Add after it (the VAE's projections have biases)."""
    readers = consumers[matmul.output[0]]
    if len(readers) == 1 and readers[0].op_type == "Add" and readers[0].name == matmul.name.rsplit("/", 1)[0] + "/Add":
        return readers[0].output[0]
    return matmul.output[0]


def _default_scale(graph: onnx.GraphProto, prefix: str, producers: dict) -> bool:
    """diffusers passes scale = 1/sqrt(D); the exporter writes Div(Constant 1.0, Sqrt(D)) (then splits its square
    root between q and k). Anything else (another scale, or none found) keeps the original nodes."""
    divisions = [node for node in graph.node if node.name.startswith(prefix) and "/" not in node.name[len(prefix):]
                 and node.op_type == "Div" and getattr(producers.get(node.input[1]), "op_type", None) == "Sqrt"]
    if len(divisions) != 1:
        return False
    numerator = _constant_value(graph, divisions[0].input[0], producers)
    return numerator is not None and numerator.size == 1 and float(numerator.reshape(-1)[0]) == 1.0


def _remove_unused(graph: onnx.GraphProto) -> None:
    """Drops nodes whose outputs nothing reads (repeatedly), and initializers nothing reads."""
    needed = {value.name for value in graph.output}
    kept: list[onnx.NodeProto] = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
            for attribute in node.attribute:  # subgraphs (If/Loop) read outer names too
                for sub in [attribute.g, *attribute.graphs]:
                    needed.update(name for n in sub.node for name in n.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    unused = [init for init in graph.initializer if init.name not in needed]
    for init in unused:
        graph.initializer.remove(init)


def fuse_bundle(bundle: Path) -> dict[str, int]:
    """Rewrites the float32 attention models of an exported bundle in place; returns the blocks fused per model."""
    manifest_path = bundle / "mgie-bundle.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    precisions = manifest.get("export", {}).get("models", {})
    counts: dict[str, int] = {}
    for key in MODELS_WITH_ATTENTION:
        if precisions.get(key, manifest.get("export", {}).get("precision")) != "float32":
            continue
        file = bundle / manifest["files"][key]
        model = onnx.load(str(file), load_external_data=False)
        counts[key] = fuse_attention(model)
        if counts[key]:
            # the graph only: its initializers keep their external-data locations and offsets
            tmp = file.with_suffix(".onnx.tmp")
            tmp.write_bytes(model.SerializeToString())
            tmp.replace(file)
            if file.name in manifest.get("sha256", {}):
                manifest["sha256"][file.name] = hashlib.sha256(file.read_bytes()).hexdigest()
    manifest.setdefault("export", {})["fusedAttention"] = counts
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m models.export.fuse_attention BUNDLE_DIR", file=sys.stderr)
        sys.exit(2)
    print(fuse_bundle(Path(sys.argv[1])))
