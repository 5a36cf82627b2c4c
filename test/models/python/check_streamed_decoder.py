"""The streamed decoder export (models/export/streamed_decoder.py) against a whole export, at a small width:
a 4-layer LLaMA traced with 2 layers, assembled to 4 and its weights written layer by layer must be the graph the
exporter gives for 4 layers (every node, by name, reading the same values: weights compared by content, anonymous
constants by value), in float32, float16 and int4; and, run by onnxruntime-node (verify-bundle.ts), the float32 and
int4 decoders must match PyTorch as --verify holds them, int4 against PyTorch on the round-tripped weights.
Run by test/models/exporter-python.test.ts where torch is installed."""
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from models.export.export_bundle import MODEL_FILES, export_model, model_spec
from models.export.matmul_nbits import LlmWeights, quantize_model
from models.export.random_models import RandomInit
from models.export.streamed_decoder import export_streamed_decoder
from models.export.verify_bundle import write_verify_cases

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).parent))
from small_geometry import SMALL  # noqa: E402

TOKENIZER = REPO / ".bundles" / "mgie-tiny"
logging.basicConfig(level=logging.WARNING)
checks = 0


def canonical(model: onnx.ModelProto, folder: Path) -> dict[str, tuple]:
    """Node name -> (op, attributes, inputs), each input named by what it is: a graph input, a node's output (by node
    name and index), a constant's value, or an initializer's bytes; so that anonymous names do not matter."""
    graph = model.graph
    producer = {out: (node.name, i) for node in graph.node for i, out in enumerate(node.output)}
    constants = {node.output[0]: numpy_helper.to_array(node.attribute[0].t).tobytes() for node in graph.node
                 if node.op_type == "Constant" and node.attribute[0].type == onnx.AttributeProto.TENSOR}
    initializers = {}
    for tensor in graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in tensor.external_data}
            with (folder / info["location"]).open("rb") as stream:
                stream.seek(int(info["offset"]))
                initializers[tensor.name] = stream.read(int(info["length"]))
        else:
            initializers[tensor.name] = numpy_helper.to_array(tensor).tobytes()
    graph_inputs = {value.name for value in graph.input}

    def what(name: str):
        if name in graph_inputs:
            return ("input", name)
        if name in constants:
            return ("constant", constants[name])
        if name in initializers:
            return ("initializer", initializers[name])
        if name in producer:
            node, index = producer[name]
            return ("constant", constants[name]) if name in constants else ("node", node, index)
        return ("?", name)

    return {node.name: (node.op_type, tuple(sorted((a.name, str(onnx.helper.get_attribute_value(a))) for a in node.attribute)),
                        tuple(what(name) for name in node.input))
            for node in graph.node if node.op_type != "Constant"}


def same_graph(streamed: dict, whole: dict, label: str) -> None:
    assert streamed.keys() == whole.keys(), f"{label}: nodes differ: {sorted(streamed.keys() ^ whole.keys())[:6]}"
    different = [name for name in whole if streamed[name] != whole[name]]
    assert not different, f"{label}: {len(different)} nodes read other values, e.g. {different[:3]}"


with tempfile.TemporaryDirectory() as scratch:
    out = Path(scratch)
    init = RandomInit(TOKENIZER, seed=3, geometry=SMALL)
    models = init.models
    for label, dtype, weights in (("float32", torch.float32, LlmWeights("fp32")), ("float16", torch.float16, LlmWeights("fp16")),
                                  ("int4", torch.float32, LlmWeights("int4", block_size=16))):
        streamed_dir, whole_dir = out / f"streamed-{label}", out / f"whole-{label}"
        streamed_dir.mkdir()
        whole_dir.mkdir()
        export_streamed_decoder(models, streamed_dir, dtype, weights, 0, source=init.llm)
        with init.materialised("decoder") as whole_models:
            transform = (lambda proto: quantize_model(proto, weights)) if weights.quantized else None
            export_model("decoder", model_spec(whole_models, "decoder"), whole_models, whole_dir, dtype, 0, transform)
        streamed = onnx.load(str(streamed_dir / "decoder.onnx"), load_external_data=False)
        whole = onnx.load(str(whole_dir / "decoder.onnx"), load_external_data=False)
        same_graph(canonical(streamed, streamed_dir), canonical(whole, whole_dir), label)
        assert [v.name for v in streamed.graph.input] == [v.name for v in whole.graph.input]
        assert [v.name for v in streamed.graph.output] == [v.name for v in whole.graph.output]
        checks += 3
        if label != "float16":
            # the runtime, against PyTorch (int4: on the round-tripped weights), as --verify runs it
            transform = weights.round_trip if weights.quantized else None
            write_verify_cases(models, streamed_dir, {key: "float32" for key in MODEL_FILES}, seed=1,
                               materialise=lambda key: init.materialised(key, stream_llm=True, llm_transform=transform))
            cases = json.loads((streamed_dir / "verify" / "cases.json").read_text())
            cases["cases"] = [case for case in cases["cases"] if case["model"] == "decoder"]
            (streamed_dir / "verify" / "cases.json").write_text(json.dumps(cases))
            done = subprocess.run(["npx", "tsx", "models/export/verify-bundle.ts", str(streamed_dir)], cwd=REPO,
                                  capture_output=True, text=True)
            print(done.stdout)
            assert done.returncode == 0, done.stderr
            checks += 1
    # the comparison can fail: layers 2 and 3 given each other's weights
    class Swapped:
        def __init__(self, source):
            self.source, self.config = source, source.config

        def layer_state(self, index):
            return self.source.layer_state({2: 3, 3: 2}.get(index, index))

        def build(self, *args, **kwargs):
            return self.source.build(*args, **kwargs)

    swapped_dir = out / "swapped"
    swapped_dir.mkdir()
    export_streamed_decoder(models, swapped_dir, torch.float32, LlmWeights("fp32"), 0, source=Swapped(init.llm))
    try:
        same_graph(canonical(onnx.load(str(swapped_dir / "decoder.onnx"), load_external_data=False), swapped_dir),
                   canonical(onnx.load(str(out / "whole-float32" / "decoder.onnx"), load_external_data=False), out / "whole-float32"), "swapped")
        raise SystemExit("layers with swapped weights compared equal")
    except AssertionError as error:
        print("swapped layers caught:", error)
        checks += 1
print("checks passed:", checks)
