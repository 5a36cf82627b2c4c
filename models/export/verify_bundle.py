"""Checks an exported bundle against PyTorch, through the project's own runtime.

For every model, seeded random inputs of non-trivial sizes (other sizes than the export traced, so the
dynamic axes are exercised; the decoder both as a prefill and as a decode step over that prefill's KV
cache) go through the float32 PyTorch wrappers of export_bundle.py. Inputs and outputs are written to
<bundle>/verify/ (float tensors as float32 .npy, int64 ones inline in cases.json); verify-bundle.ts
then runs each case through ModelSession (companion-server/engine/onnx-runtime.ts) and compares.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .export_bundle import MODEL_FILES, head_size, model_spec, vae_scale_factor, vocab_size
from .torch_models import MgieTorchModels

REPO = Path(__file__).resolve().parents[2]
VERIFY_DIR = "verify"
CASES_FILE = "cases.json"
PREFILL_LENGTH = 40


@dataclass
class Case:
    model: str
    name: str
    #: the inputs, or how to compute them once the model's weights are there (the decoder's, from the embeddings)
    inputs: tuple[torch.Tensor, ...] | Callable[[], tuple[torch.Tensor, ...]]


@torch.no_grad()
def verify_cases(models: MgieTorchModels, seed: int) -> list[Case]:
    """Every case, its random draws made here in a fixed order; the decoder's inputs are computed when the
    decoder's weights are there (its prompt is made of real token embeddings; the decode step continues the
    prefill's KV cache), so models may hold one model's weights at a time (random_models.py)."""
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
    vision = randn(1, 3, image_size, image_size)
    embed_ids = torch.randint(0, vocab_size(models), (1, 37), generator=generator)
    # real token embeddings, so the residual stream has the scale it has in use
    token_ids = torch.randint(0, vocab_size(models), (1, PREFILL_LENGTH + 1), generator=generator)
    prefill_present: list[tuple[torch.Tensor, ...]] = []

    def prefill() -> tuple[torch.Tensor, ...]:
        prompt = models.llm.get_input_embeddings()(token_ids)
        inputs = (prompt[:, :PREFILL_LENGTH], torch.ones(1, PREFILL_LENGTH, dtype=torch.int64),
                  torch.arange(PREFILL_LENGTH)[None], *empty_past)
        prefill_present.append(model_spec(models, "decoder").module(*inputs)[2:])
        return inputs

    def decode() -> tuple[torch.Tensor, ...]:
        prompt = models.llm.get_input_embeddings()(token_ids[:, PREFILL_LENGTH:])
        return (prompt, torch.ones(1, PREFILL_LENGTH + 1, dtype=torch.int64), torch.tensor([[PREFILL_LENGTH]]),
                *prefill_present.pop())

    return [
        Case("vision", "image", (vision,)),
        Case("embed", "tokens", (embed_ids,)),
        Case("decoder", "prefill", prefill),
        Case("decoder", "decode", decode),
        Case("editHead", "batch3", (randn(3, len(models.img_token_ids), config.hidden_size),)),
        Case("vaeEncoder", "image", (torch.rand(1, 3, height, width, generator=generator) * 2 - 1,)),
        # fractional timesteps, as linspace spacing gives them
        Case("unet", "batch3", (randn(3, 2 * channels, *latent), torch.tensor([998.25, 500.5, 1.0]),
                                randn(3, queries, dim))),
        Case("vaeDecoder", "latent", (randn(1, channels, *latent) / models.vae.config.scaling_factor,)),
    ]


def write_verify_cases(models: MgieTorchModels, bundle_dir: Path, precision: str | dict[str, str], seed: int = 0,
                       materialise: Callable[[str], contextlib.AbstractContextManager] | None = None) -> Path:
    """Writes <bundle>/verify/ (inputs, float32 PyTorch outputs, cases.json); returns the cases.json path.
    precision: the bundle's, or each model's (the manifest's export.models: "float16", "float32", "float32+int4");
    a float32 model with quantized weights is held to float32's tolerance, its PyTorch side running on the
    round-tripped weights. materialise(key): a context in which `models` holds bundle model `key`'s weights
    (default: they always do)."""
    precisions = precision if isinstance(precision, dict) else {key: precision for key in MODEL_FILES}
    tolerance = {key: "float16" if label.startswith("float16") else "int8-activations" if label.endswith("+int8-activations")
                 else "float32" for key, label in precisions.items()}
    materialise = materialise or (lambda key: contextlib.nullcontext())
    out_dir = bundle_dir / VERIFY_DIR
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    entries = []
    cases = verify_cases(models, seed)
    for key in dict.fromkeys(case.model for case in cases):
        with materialise(key), torch.no_grad():
            spec = model_spec(models, key)
            for case in (case for case in cases if case.model == key):
                inputs = case.inputs() if callable(case.inputs) else case.inputs
                outputs = spec.module(*inputs)
                outputs = outputs if isinstance(outputs, tuple) else (outputs,)
                prefix = f"{case.model}.{case.name}"
                entries.append({
                    "model": case.model, "file": MODEL_FILES[case.model], "case": case.name, "precision": tolerance[key],
                    "inputs": {name: save_tensor(tensor, out_dir, f"{prefix}.in.{name}.npy")
                               for name, tensor in zip(spec.input_names, inputs, strict=True)},
                    "outputs": {name: save_tensor(tensor, out_dir, f"{prefix}.out.{name}.npy")
                                for name, tensor in zip(spec.output_names, outputs, strict=True)},
                })
                del inputs, outputs
    cases_path = out_dir / CASES_FILE
    overall = set(tolerance.values())
    cases_path.write_text(json.dumps({"precision": overall.pop() if len(overall) == 1 else "mixed", "cases": entries}, indent=1) + "\n",
                          encoding="utf-8")
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
