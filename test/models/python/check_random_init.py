"""--random-init (models/export/random_models.py): at the real size, the skeletons have MGIE 7B's parameter counts
(models/README.md) and LLaMA's vocabulary with the [IMG] tokens at 32003..32010; at a small size, the weights are
seeded per part (the same whatever else is built, and layer i the same at any depth), materialised only inside
materialised() and dropped after; a small random export records its LLM weight format and provenance in the
manifest, and --reuse-parts-from links every model but the decoder from an identical export.
Run by test/models/exporter-python.test.ts where torch is installed (writes LLaMA's tokenizer with Node)."""
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from models.export.export_bundle import OPSET, export_bundle
from models.export.matmul_nbits import LlmWeights
from models.export.random_models import RandomInit
from models.export.reuse_parts import reuse_parts_from

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).parent))
from small_geometry import SMALL  # noqa: E402

logging.basicConfig(level=logging.WARNING)
checks = 0


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


with tempfile.TemporaryDirectory() as scratch:
    scratch = Path(scratch)
    tokenizer = scratch / "llama-tokenizer"
    subprocess.run(["npx", "tsx", "models/export/write-llama-tokenizer.ts", str(tokenizer)], cwd=REPO, check=True, capture_output=True)

    # 1. the real size, on the meta device: nothing is allocated
    real = RandomInit(tokenizer, seed=0)
    m = real.models
    decoder = sum(p.numel() for name, p in m.llm.named_parameters() if name != "model.embed_tokens.weight")
    assert (count(m.vision_tower), count(m.projector), decoder, m.llm.model.embed_tokens.weight.numel()) == \
           (303_179_776, 4_198_400, 6_607_388_672, 131_117_056), (count(m.vision_tower), decoder)
    assert (count(m.unet), count(m.vae), count(m.edit_head)) == (859_532_484, 83_653_863, 31_958_784)
    assert m.llm.config.vocab_size == 32011 and m.img_token_ids == list(range(32003, 32011)), m.img_token_ids
    assert (m.llm.config.num_hidden_layers, m.llm.config.hidden_size, m.llm.config.intermediate_size,
            m.llm.config.num_attention_heads, m.unet.config.in_channels, m.vision_tower.config.image_size) == (32, 4096, 11008, 32, 8, 224)
    assert all(p.is_meta for p in [*m.llm.parameters(), *m.unet.parameters(), *m.vision_tower.parameters()])
    assert RandomInit(tokenizer, seed=0, llm_layers=2).models.llm.config.num_hidden_layers == 2
    checks += 5

    # 2. seeding per part, at a small size
    tiny_tokenizer = REPO / ".bundles" / "mgie-tiny"
    two, four, other = (RandomInit(tiny_tokenizer, seed=s, llm_layers=n, geometry=SMALL) for s, n in ((5, 2), (5, 4), (6, 4)))
    for key in ("0", "1"):
        a, b, c = two.llm.layer_state(int(key)), four.llm.layer_state(int(key)), other.llm.layer_state(int(key))
        assert all(torch.equal(a[n], b[n]) for n in a) and not torch.equal(a["self_attn.q_proj.weight"], c["self_attn.q_proj.weight"])
    assert torch.equal(two.llm.lm_head_weight(), four.llm.lm_head_weight())
    assert not torch.equal(four.llm.layer_state(2)["mlp.up_proj.weight"], four.llm.layer_state(3)["mlp.up_proj.weight"])
    with four.materialised("unet") as models:
        unet_weights = {n: p.clone() for n, p in models.unet.named_parameters()}
    with four.materialised("vision"):
        pass  # building another part first must not change the UNet's weights
    with four.materialised("unet") as models:
        assert all(torch.equal(p, unet_weights[n]) for n, p in models.unet.named_parameters())
    assert all(p.is_meta for p in four.models.unet.parameters()), "the UNet's weights outlived materialised()"
    with four.materialised("decoder") as models:
        built = models.llm
        assert torch.equal(built.model.layers[3].mlp.down_proj.weight, four.llm.layer_state(3)["mlp.down_proj.weight"])
    assert four.models.llm.model.layers[0].self_attn.q_proj.weight.is_meta
    checks += 6

    # 3. a small export: manifest fields, then a second one reusing every model but the decoder
    def export(out: Path, weights: LlmWeights, reuse=None) -> dict:
        return export_bundle(four.models, out, llm_weights=weights, materialise=four.materialised, reuse=reuse,
                             provenance={"randomInit": {"seed": 5, "llmLayers": 4}})
    first = export(scratch / "fp32", LlmWeights("fp32"))
    assert first["llm"]["weights"] == {"format": "fp32"} and first["export"]["randomInit"]["llmLayers"] == 4
    reuse = reuse_parts_from(scratch / "fp32", 5, OPSET, four.config.vocab_size, four.models.settings.tokens)
    second = export(scratch / "int4", LlmWeights("int4", block_size=16, scheme="symmetric", accuracy_level=4), reuse)
    weights = second["llm"]["weights"]
    assert (weights["format"], weights["bits"], weights["blockSize"], weights["scheme"], weights["op"], weights["domain"],
            weights["accuracyLevel"]) == ("int4", 4, 16, "symmetric", "MatMulNBits", "com.microsoft", 4), weights
    assert second["export"]["models"]["decoder"] == "float32+int4+int8-activations" and second["export"]["precision"] == "float32"
    for key in ("vision", "embed", "editHead", "unet", "vaeEncoder", "vaeDecoder"):
        file = second["files"][key]
        assert os.path.samefile(scratch / "fp32" / file, scratch / "int4" / file), f"{file} was not linked"
        assert second["sha256"][file] == first["sha256"][file]
    assert not os.path.samefile(scratch / "fp32" / "decoder.onnx", scratch / "int4" / "decoder.onnx")
    nbits = [node for node in __import__("onnx").load(str(scratch / "int4" / "decoder.onnx"), load_external_data=False).graph.node
             if node.op_type == "MatMulNBits"]
    assert len(nbits) == 4 * 7 + 1, len(nbits)  # 4 layers x (q, k, v, o, gate, up, down) + lm_head
    assert all(next(a.i for a in node.attribute if a.name == "accuracy_level") == 4 for node in nbits)
    # another seed: nothing is linked
    refused = reuse_parts_from(scratch / "fp32", 6, OPSET, four.config.vocab_size, four.models.settings.tokens)
    assert refused("unet", "float32", scratch) is None
    checks += 7
print("checks passed:", checks)
