"""decoder.onnx for an LLM too large to hold: traced with 2 layers, assembled to N, its weights written layer by layer.

A full-depth LLaMA-7B is 26 GB in float32 and 13 GB in float16; the TorchScript exporter needs the whole model in
memory, and more again for its constant-folded copies and the serialised proto. Instead:

1. The template: the same LlamaForCausalLM with TEMPLATE_LAYERS (2) layers, the real width, real tables, is exported
   the ordinary way (export_bundle.trace_to_onnx). Layer 0 differs from the others in the trace (the exporter's
   common-subexpression pass puts the rotary cos/sin reshapes shared by all layers into layer 0), so layer 1 is
   the pattern every later layer repeats.
2. Its initializers are mapped to the parameters they hold, by the node that reads them (/model/layers.1/mlp/
   up_proj/MatMul reads layers.1's mlp.up_proj.weight, transposed) and checked equal to them, byte for byte.
3. Layers 2..N-1 are copies of layer 1's nodes with `layers.1` renamed, reading past_key_values.i.* and writing
   present.i.*, each taking the previous layer's output; values layer 1 reads from outside itself (the mask,
   cos/sin, constants) are shared, since every layer reads the same ones. The final norm reads the last layer.
4. The weights are written straight into decoder.onnx.data: for each layer, its parameters are generated (or
   read), converted to the model's float type or quantized (MatMulNBits), appended, and freed. The ONNX proto
   holds only references, so the largest thing in memory is the 2-layer template, then one layer.

The result is the graph the exporter would give for N layers, up to the names of its nodes' anonymous
constants: test/models/python/check_streamed_decoder.py compares it with a whole export, and --verify runs it
against PyTorch (one layer in memory at a time, random_models.streamed_layers).
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .export_bundle import ExternalDataWriter, decoder_io_names, model_spec, peak_rss_gb, trace_to_onnx, uses_external_data
from .matmul_nbits import LlmWeights, ensure_ms_opset, node_prefix, quantize_weight, quantized_node
from .torch_models import MgieTorchModels

log = logging.getLogger(__name__)

#: Layers traced: layer 0 carries the shared rotary reshapes, layer 1 is the pattern of all the others.
TEMPLATE_LAYERS = 2
_LAYER_SCOPE = re.compile(r"^/model/layers\.(\d+)/")


class LayerSource:
    """What the streamed export reads weights from (random_models.RandomLlm is one)."""

    config: object

    def layer_state(self, index: int) -> dict[str, torch.Tensor]: ...
    def build(self, num_layers: int | None = None, embed_only: bool = False) -> torch.nn.Module: ...


@dataclass(frozen=True)
class LayerWeight:
    """An initializer that holds a layer parameter: layers.<layer>.<param>, transposed or not."""

    layer: int
    param: str
    transposed: bool


def layer_of(node_name: str) -> int | None:
    match = _LAYER_SCOPE.match(node_name)
    return int(match.group(1)) if match else None


def map_layer_weights(graph: onnx.GraphProto, llm: torch.nn.Module, dtype: torch.dtype) -> dict[str, LayerWeight]:
    """Initializer name -> the layer parameter it holds, for every initializer read by a decoder layer's nodes that
    has the shape of a parameter of the module the node belongs to; each is checked equal to that parameter."""
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    mapping: dict[str, LayerWeight] = {}
    for tensor in graph.initializer:
        layers = {layer_of(node.name) for node in users.get(tensor.name, [])}
        layers.discard(None)
        if not layers:
            continue
        if len(layers) > 1:
            raise ValueError(f"{tensor.name} is read by layers {sorted(layers)}: the exporter merged equal weights of "
                             "different layers, so they cannot be told apart (give the layers different weights)")
        layer = layers.pop()
        node = users[tensor.name][0]
        # /model/layers.1/self_attn/q_proj/MatMul -> the layer's submodule self_attn.q_proj
        rest = node.name[len(f"/model/layers.{layer}/"):]
        scope = rest.rsplit("/", 1)[0].replace("/", ".") if "/" in rest else ""
        try:
            module = llm.model.layers[layer].get_submodule(scope)
        except AttributeError:
            continue  # a scope that is not a module (an operation's own): no parameters there
        prefix = f"{scope}." if scope else ""
        value = numpy_helper.to_array(tensor)
        found = None
        for name, parameter in module.named_parameters(recurse=False):
            expected = parameter.detach().to(dtype)
            for transposed in (False, True) if expected.dim() == 2 else (False,):
                candidate = expected.T if transposed else expected
                if tuple(candidate.shape) == value.shape and np.array_equal(candidate.contiguous().numpy(), value):
                    found = LayerWeight(layer, prefix + name, transposed)
        if found is None:
            if any(tuple(p.shape) in (value.shape, value.shape[::-1]) for p in module.parameters(recurse=False)):
                raise ValueError(f"{tensor.name} (read by {node.name}) has the shape of a parameter of {scope or 'the layer'} "
                                 "but equals none of them: the exporter transformed a weight in a way this module does not know")
            continue  # a constant of the layer's computation, not a weight: shared as it is
        mapping[tensor.name] = found
    return mapping


def layer_output(graph: onnx.GraphProto, layer: int) -> str:
    """The residual stream leaving the template's last layer: the one value of it read outside the layers (by
    the final norm). present.<layer>.* are graph outputs, read by no node."""
    produced = {output for node in graph.node if layer_of(node.name) == layer for output in node.output}
    read_outside = {name for node in graph.node if layer_of(node.name) is None for name in node.input if name in produced}
    if len(read_outside) != 1:
        raise ValueError(f"cannot tell layer {layer}'s output: it gives {sorted(read_outside) or 'nothing'} to the nodes after it")
    return read_outside.pop()


def previous_output(graph: onnx.GraphProto, out_last: str, layer: int) -> str:
    """The residual stream entering `layer`: the previous layer's value of the same name (the exporter names values
    after their scope), which `layer` must read. Other values of the previous layer that `layer` reads are
    computations the exporter's common-subexpression pass shared between layers (cos/sin reshapes): kept shared."""
    name = out_last.replace(f"/model/layers.{layer}/", f"/model/layers.{layer - 1}/")
    produced = {output for node in graph.node if layer_of(node.name) == layer - 1 for output in node.output}
    read = {input_name for node in graph.node if layer_of(node.name) == layer for input_name in node.input}
    if name == out_last or name not in produced or name not in read:
        raise ValueError(f"cannot tell layer {layer}'s input: {name} is not a value of layer {layer - 1} that layer {layer} reads")
    return name


def assemble(template: onnx.ModelProto, num_layers: int) -> onnx.ModelProto:
    """The template (TEMPLATE_LAYERS layers) with layers TEMPLATE_LAYERS..num_layers-1 added as renamed copies of
    its last layer. Initializers are shared by name: the copies' weights are renamed by `rename_layer_weights`."""
    source = TEMPLATE_LAYERS - 1
    graph = template.graph
    if any(attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for node in graph.node for attribute in node.attribute):
        raise ValueError("the decoder's graph has subgraphs (If/Loop): layer copying does not handle them")
    out_last = layer_output(graph, source)
    out_before = previous_output(graph, out_last, source)
    scope = f"/model/layers.{source}/"
    layer_nodes = [node for node in graph.node if layer_of(node.name) == source]
    produced = {output for node in layer_nodes for output in node.output}
    last_index = max(i for i, node in enumerate(graph.node) if layer_of(node.name) == source)

    def renamer(layer: int) -> Callable[[str], str]:
        def rename(name: str) -> str:
            if name in produced:
                if scope in name:
                    return name.replace(scope, f"/model/layers.{layer}/")
                for kind in ("key", "value"):
                    if name == f"present.{source}.{kind}":
                        return f"present.{layer}.{kind}"
                return f"{name}.layers.{layer}"
            for kind in ("key", "value"):
                if name == f"past_key_values.{source}.{kind}":
                    return f"past_key_values.{layer}.{kind}"
            if name == out_before:
                return out_of[layer - 1]
            return name  # the mask, cos/sin, constants and weights (renamed later): the same for every layer
        return rename

    out_of = {source: out_last}
    copies: list[onnx.NodeProto] = []
    for layer in range(TEMPLATE_LAYERS, num_layers):
        rename = renamer(layer)
        for node in layer_nodes:
            clone = copy.deepcopy(node)
            clone.name = node.name.replace(scope, f"/model/layers.{layer}/")
            clone.input[:] = [rename(name) for name in node.input]
            clone.output[:] = [rename(name) for name in node.output]
            copies.append(clone)
        out_of[layer] = rename(out_last)

    assembled = onnx.ModelProto()
    assembled.ir_version, assembled.producer_name, assembled.producer_version = (
        template.ir_version, template.producer_name, template.producer_version)
    assembled.opset_import.extend(template.opset_import)
    new_graph = assembled.graph
    new_graph.name = graph.name
    new_graph.initializer.extend(graph.initializer)
    nodes = list(graph.node[:last_index + 1]) + copies + list(graph.node[last_index + 1:])
    final = out_of[num_layers - 1]
    for node in nodes[last_index + 1 + len(copies):]:
        node.input[:] = [final if name == out_last else name for name in node.input]
    new_graph.node.extend(nodes)
    # inputs and outputs in the contract's order, the added layers' typed like the template's last layer
    past, present = decoder_io_names(num_layers)
    inputs = {value.name: value for value in graph.input}
    outputs = {value.name: value for value in graph.output}
    for names, known, prefix in ((past, inputs, "past_key_values"), (present, outputs, "present")):
        for name in names:
            if name not in known:
                layer, kind = name.split(".")[1:]
                value = copy.deepcopy(known[f"{prefix}.{source}.{kind}"])
                value.name = name
                known[name] = value
    new_graph.input.extend([inputs[name] for name in ("inputs_embeds", "attention_mask", "position_ids")] + [inputs[n] for n in past])
    new_graph.output.extend([outputs["logits"], outputs["last_hidden_state"]] + [outputs[n] for n in present])
    new_graph.value_info.extend(value for value in graph.value_info)
    return assembled


def export_streamed_decoder(models: MgieTorchModels, out_dir: Path, dtype: torch.dtype, llm_weights: LlmWeights,
                            external_data_threshold: int, *, source: LayerSource) -> list[str]:
    """Writes out_dir/decoder.onnx + decoder.onnx.data for models.llm.config's number of layers (see the module
    docstring); `source` gives each layer's float32 weights. Returns the files written."""
    num_layers = models.llm.config.num_hidden_layers
    spec_file = "decoder.onnx"
    started = time.perf_counter()
    template_llm = source.build(num_layers=min(TEMPLATE_LAYERS, num_layers))
    template_models = dataclasses.replace(models, llm=template_llm)
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        proto = trace_to_onnx("decoder", model_spec(template_models, "decoder"), template_models, dtype, Path(scratch), load_weights=True)
    mapping = map_layer_weights(proto.graph, template_llm, dtype)
    del template_llm, template_models
    log.info("  decoder: %d-layer template traced, %d layer weights mapped (%.1f s, peak RSS %.1f GB)",
             min(TEMPLATE_LAYERS, num_layers), len(mapping), time.perf_counter() - started, peak_rss_gb())
    if num_layers < TEMPLATE_LAYERS:
        assembled = proto
    else:
        assembled = assemble(proto, num_layers)
    roles = rename_layer_weights(assembled.graph, mapping, num_layers)
    write_weights(assembled, roles, source, dtype, llm_weights, out_dir / (spec_file + ".data"))
    path = out_dir / spec_file
    onnx.save_model(assembled, str(path))
    onnx.checker.check_model(str(path))
    log.info("  decoder: %d layers written in %.1f s, peak RSS %.1f GB", num_layers, time.perf_counter() - started, peak_rss_gb())
    return [spec_file, spec_file + ".data"]


def rename_layer_weights(graph: onnx.GraphProto, mapping: dict[str, LayerWeight], num_layers: int) -> dict[str, LayerWeight]:
    """Gives every layer weight its own initializer, named after the parameter (model.layers.7.mlp.up_proj.weight,
    with `.T` when stored transposed), and points each node at its own layer's. Returns name -> LayerWeight for
    all N layers; the template's data of these initializers is dropped (write_weights generates it)."""
    template = {tensor.name: tensor for tensor in graph.initializer}
    roles: dict[str, LayerWeight] = {}
    renamed: dict[tuple[int, str], str] = {}
    for node in graph.node:
        layer = layer_of(node.name)
        if layer is None:
            continue
        for i, name in enumerate(node.input):
            weight = mapping.get(name)
            if weight is None:
                continue
            target = dataclasses.replace(weight, layer=layer)
            new_name = f"model.layers.{layer}.{weight.param}" + (".T" if weight.transposed else "")
            renamed[(layer, name)] = new_name
            roles[new_name] = target
            node.input[i] = new_name
    kept = [tensor for tensor in graph.initializer if tensor.name not in mapping]
    added = []
    for name, weight in roles.items():
        original = template[next(key for key, value in mapping.items() if value.param == weight.param)]
        tensor = onnx.TensorProto()
        tensor.name, tensor.data_type = name, original.data_type
        tensor.dims.extend(original.dims)
        added.append(tensor)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    return roles


def external_tensor(writer: ExternalDataWriter, name: str, array: np.ndarray) -> onnx.TensorProto:
    """A new initializer holding `array`, written by `writer`."""
    tensor = onnx.TensorProto()
    tensor.name = name
    tensor.data_type = onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]
    tensor.dims.extend(array.shape)
    writer.add(tensor, np.ascontiguousarray(array))
    return tensor


def write_weights(model: onnx.ModelProto, roles: dict[str, LayerWeight], source: LayerSource, dtype: torch.dtype,
                  llm_weights: LlmWeights, data_file: Path) -> None:
    """Streams every initializer into data_file: the layer weights generated one layer at a time (cast to `dtype`,
    or quantized where their MatMul is), then the template's others (norm, lm_head, constants)."""
    graph = model.graph
    tensors = {tensor.name: tensor for tensor in graph.initializer}
    readers = {name: node for node in graph.node for name in node.input if name in roles}
    by_layer: dict[int, list[str]] = {}
    for name, weight in roles.items():
        by_layer.setdefault(weight.layer, []).append(name)
    replaced: dict[str, onnx.NodeProto] = {}
    with ExternalDataWriter(data_file) as writer:
        for layer in sorted(by_layer):
            started = time.perf_counter()
            state = source.layer_state(layer)
            for name in by_layer[layer]:
                weight, node = roles[name], readers[name]
                parameter = state[weight.param]
                if node.op_type == "MatMul" and weight.transposed and llm_weights.quantizes(node.name):
                    quantized = quantize_weight(parameter.T.numpy(), llm_weights)
                    replacement, arrays = quantized_node(node, quantized, name.removesuffix(".weight.T"), llm_weights.accuracy_level)
                    graph.initializer.extend(external_tensor(writer, key, array) for key, array in arrays.items())
                    replaced[node.name] = replacement
                    graph.initializer.remove(tensors[name])
                else:
                    array = (parameter.T if weight.transposed else parameter).to(dtype).contiguous().numpy()
                    writer.add(tensors[name], array)
                    del array
            del state
            log.info("    layer %d written (%.1f s, peak RSS %.1f GB)", layer, time.perf_counter() - started, peak_rss_gb())
        # the rest: the final norm, lm_head (quantized too where asked) and the template's constants
        for tensor in list(graph.initializer):
            if tensor.name in roles or uses_external_data(tensor) or tensor.name in replaced:
                continue
            node = next((n for n in graph.node if tensor.name in n.input and n.op_type == "MatMul"), None)
            if node is not None and node.input[1] == tensor.name and llm_weights.quantizes(node.name):
                quantized = quantize_weight(numpy_helper.to_array(tensor), llm_weights)
                replacement, arrays = quantized_node(node, quantized, node_prefix(node.name), llm_weights.accuracy_level)
                graph.initializer.extend(external_tensor(writer, key, array) for key, array in arrays.items())
                replaced[node.name] = replacement
                graph.initializer.remove(tensor)
            elif len(tensor.raw_data) >= 1024:
                writer.add(tensor, tensor.raw_data)
    if replaced:
        nodes = [replaced.get(node.name, node) for node in graph.node]
        del graph.node[:]
        graph.node.extend(nodes)
        ensure_ms_opset(model)
