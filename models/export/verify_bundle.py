"""Checks an exported bundle against PyTorch, through the project's own runtime.

For every model, seeded random inputs of non-trivial sizes (other sizes than the export traced, so the
dynamic axes are exercised; the decoder both as a prefill and as a decode step over that prefill's KV
cache) go through the float32 PyTorch wrappers of export_bundle.py. Inputs and outputs are written to
<bundle>/verify/ (float tensors as float32 .npy, int64 ones inline in cases.json); verify-bundle.ts
then runs each case through ModelSession (companion-server/engine/onnx-runtime.ts) and compares.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .export_bundle import MODEL_FILES, head_size, model_specs, vae_scale_factor, vocab_size
from .torch_models import MgieTorchModels

REPO = Path(__file__).resolve().parents[2]
VERIFY_DIR = "verify"
CASES_FILE = "cases.json"
PREFILL_LENGTH = 40


@dataclass
class Case:
    model: str
    name: str
    inputs: tuple[torch.Tensor, ...]


@torch.no_grad()
def verify_cases(models: MgieTorchModels, seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    config = models.llm.config
    side = models.settings.size_multiple
    height, width = side, 2 * side
    latent = (height // vae_scale_factor(models), width // vae_scale_factor(models))
    channels = models.vae.config.latent_channels
    queries, dim = models.edit_head.query.shape[1], models.edit_head.hid2feat.out_features
    image_size = models.vision_tower.config.image_size
    empty_past = tuple(torch.zeros(1, config.num_key_value_heads, 0, head_size(models))
                       for _ in range(2 * config.num_hidden_layers))
    # real token embeddings, so the residual stream has the scale it has in use
    token_ids = torch.randint(0, vocab_size(models), (1, PREFILL_LENGTH + 1), generator=generator)
    prompt = models.llm.get_input_embeddings()(token_ids)
    prefill = (prompt[:, :PREFILL_LENGTH], torch.ones(1, PREFILL_LENGTH, dtype=torch.int64),
               torch.arange(PREFILL_LENGTH)[None], *empty_past)
    prefill_present = model_specs(models)["decoder"].module(*prefill)[2:]
    decode = (prompt[:, PREFILL_LENGTH:], torch.ones(1, PREFILL_LENGTH + 1, dtype=torch.int64),
              torch.tensor([[PREFILL_LENGTH]]), *prefill_present)
    return [
        Case("vision", "image", (randn(1, 3, image_size, image_size),)),
        Case("embed", "tokens", (torch.randint(0, vocab_size(models), (1, 37), generator=generator),)),
        Case("decoder", "prefill", prefill),
        Case("decoder", "decode", decode),
        Case("editHead", "batch3", (randn(3, len(models.img_token_ids), config.hidden_size),)),
        Case("vaeEncoder", "image", (torch.rand(1, 3, height, width, generator=generator) * 2 - 1,)),
        # fractional timesteps, as linspace spacing gives them
        Case("unet", "batch3", (randn(3, 2 * channels, *latent), torch.tensor([998.25, 500.5, 1.0]),
                                randn(3, queries, dim))),
        Case("vaeDecoder", "latent", (randn(1, channels, *latent) / models.vae.config.scaling_factor,)),
    ]


def write_verify_cases(models: MgieTorchModels, bundle_dir: Path, precision: str, seed: int = 0) -> Path:
    """Writes <bundle>/verify/ (inputs, float32 PyTorch outputs, cases.json); returns the cases.json path."""
    out_dir = bundle_dir / VERIFY_DIR
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    specs = model_specs(models)
    entries = []
    for case in verify_cases(models, seed):
        spec = specs[case.model]
        with torch.no_grad():
            outputs = spec.module(*case.inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        prefix = f"{case.model}.{case.name}"
        entries.append({
            "model": case.model, "file": MODEL_FILES[case.model], "case": case.name,
            "inputs": {name: save_tensor(tensor, out_dir, f"{prefix}.in.{name}.npy")
                       for name, tensor in zip(spec.input_names, case.inputs, strict=True)},
            "outputs": {name: save_tensor(tensor, out_dir, f"{prefix}.out.{name}.npy")
                        for name, tensor in zip(spec.output_names, outputs, strict=True)},
        })
    cases_path = out_dir / CASES_FILE
    cases_path.write_text(json.dumps({"precision": precision, "cases": entries}, indent=1) + "\n", encoding="utf-8")
    return cases_path


def save_tensor(tensor: torch.Tensor, out_dir: Path, file: str) -> dict:
    """Float tensors as float32 .npy (what the TypeScript side reads); int64 ones inline."""
    if tensor.dtype == torch.int64:
        return {"int64": tensor.flatten().tolist(), "shape": list(tensor.shape)}
    np.save(out_dir / file, tensor.detach().to(torch.float32).numpy())
    return {"npy": file}


def check_with_runtime(bundle_dir: Path) -> int:
    """Runs verify-bundle.ts (the project's ModelSession over onnxruntime-node); returns its exit status."""
    command = ["npx", "tsx", "models/export/verify-bundle.ts", str(bundle_dir.resolve())]
    return subprocess.run(command, cwd=REPO).returncode
