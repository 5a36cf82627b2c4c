"""fuse_attention.py: a float32 export turns every diffusers attention block of the UNet and the VAE into one
com.microsoft MultiHeadAttention node (no Softmax left there), and onnxruntime-node still matches PyTorch on every
model (verify-bundle.ts, float32 tolerance); a float16 export keeps the plain graph (the CPU provider has the
operator in float32 only); an attention with another scale than 1/sqrt(D) is left alone; fuse_bundle on a bundle
already fused changes nothing.
Run by test/models/exporter-python.test.ts where torch is installed."""
import collections
import json
import logging
import tempfile
from pathlib import Path

import onnx
import torch
from diffusers.models.attention_processor import Attention

from models.export.export_bundle import export_bundle
from models.export.fuse_attention import fuse_attention, fuse_bundle
from models.export.tiny_models import build_tiny_models
from models.export.verify_bundle import check_with_runtime, write_verify_cases

REPO = Path(__file__).resolve().parents[3]
logging.basicConfig(level=logging.WARNING)
checks = 0


def ops(path: Path) -> collections.Counter:
    return collections.Counter(node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node)


models = build_tiny_models(REPO / ".bundles" / "mgie-tiny")
blocks = {"unet": sum(isinstance(m, Attention) for m in models.unet.modules()),
          "vae": sum(isinstance(m, Attention) for m in models.vae.modules())}
with tempfile.TemporaryDirectory() as scratch:
    scratch = Path(scratch)
    manifest = export_bundle(models, scratch / "fp32")
    unet, encoder, decoder = (ops(scratch / "fp32" / manifest["files"][key]) for key in ("unet", "vaeEncoder", "vaeDecoder"))
    assert unet["MultiHeadAttention"] == blocks["unet"] > 0 and unet["Softmax"] == 0, (unet, blocks)
    assert encoder["MultiHeadAttention"] == 1 and decoder["MultiHeadAttention"] == 1 and blocks["vae"] == 2, (encoder, decoder)
    assert encoder["Softmax"] == decoder["Softmax"] == 0
    checks += 3
    write_verify_cases(models, scratch / "fp32", "float32", seed=3)
    assert check_with_runtime(scratch / "fp32") == 0, "the fused models differ from PyTorch through onnxruntime-node"
    checks += 1

    before = {file: (scratch / "fp32" / file).read_bytes() for file in ("unet.onnx", "vae_decoder.onnx")}
    assert fuse_bundle(scratch / "fp32") == {"unet": 0, "vaeEncoder": 0, "vaeDecoder": 0}
    assert all((scratch / "fp32" / file).read_bytes() == data for file, data in before.items())
    assert json.loads((scratch / "fp32" / "mgie-bundle.json").read_text())["export"]["fusedAttention"]["unet"] == 0
    checks += 1

    fp16 = export_bundle(models, scratch / "fp16", fp16=True)
    unet16 = ops(scratch / "fp16" / fp16["files"]["unet"])
    assert unet16["MultiHeadAttention"] == 0 and unet16["Softmax"] == blocks["unet"], unet16
    checks += 1

    # scale 1 (scale_qk=False): not the operator's default, so the block stays as it was
    for scale_qk, expected in ((True, 1), (False, 0)):
        attention = Attention(query_dim=16, heads=2, dim_head=8, scale_qk=scale_qk).eval()
        path = scratch / f"attention-{scale_qk}.onnx"
        with torch.no_grad():
            torch.onnx.export(attention, (torch.randn(1, 6, 16),), str(path), dynamo=False, opset_version=17)
        proto = onnx.load(str(path))
        assert fuse_attention(proto) == expected, (scale_qk, expected)
        checks += 1
print("checks passed:", checks)
