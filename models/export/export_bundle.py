"""Writes a format-1 bundle (models/BUNDLE-FORMAT.md) from MgieTorchModels: seven ONNX files, the tokenizer
and the manifest, every manifest field taken from the modules' own configs.

Each model goes through a small wrapper module whose forward is exactly the bundle contract; the
wrappers are also what verify_bundle.py runs as the PyTorch side. Export uses the TorchScript-based
exporter (dynamo=False, opset 17) with named dynamic axes.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import onnx
import torch
from torch import nn
from transformers.cache_utils import DynamicCache

from .constants import EXTERNAL_DATA_THRESHOLD
from .torch_models import MgieTorchModels

log = logging.getLogger(__name__)

OPSET = 17
MANIFEST_FILE = "mgie-bundle.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
#: manifest key -> file name, in the order the runtime loads them
MODEL_FILES = {
    "vision": "vision.onnx", "embed": "embed.onnx", "decoder": "decoder.onnx", "editHead": "edit_head.onnx",
    "vaeEncoder": "vae_encoder.onnx", "unet": "unet.onnx", "vaeDecoder": "vae_decoder.onnx",
}


# --- the contract, one wrapper per model ---------------------------------------------------------------

class VisionFeatures(nn.Module):
    """pixel_values -> the penultimate CLIP layer without CLS, projected to the LLM width (LLaVA's select layer -2)."""

    def __init__(self, tower: nn.Module, projector: nn.Module):
        super().__init__()
        self.tower, self.projector = tower, projector

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden = self.tower(pixel_values=pixel_values, output_hidden_states=True).hidden_states[-2]
        return self.projector(hidden[:, 1:])


class TokenEmbedding(nn.Module):
    def __init__(self, llm: nn.Module):
        super().__init__()
        self.table = llm.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.table(input_ids)


class DecoderStep(nn.Module):
    """One LLaMA pass over new embeddings with an explicit KV cache: prefill (empty past) and decode alike."""

    def __init__(self, llm: nn.Module):
        super().__init__()
        self.llm = llm

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cache = DynamicCache(config=self.llm.config)
        for layer in range(len(past) // 2):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        out = self.llm.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                             past_key_values=cache, use_cache=True)
        # LlamaModel's last_hidden_state is the final RMSNorm output, i.e. lm_head's input
        hidden = out.last_hidden_state
        presents = [tensor for layer in out.past_key_values.layers for tensor in (layer.keys, layer.values)]
        return self.llm.lm_head(hidden), hidden, *presents


class EditHead(nn.Module):
    """The edit mapper with the [IMG] token embeddings baked in as a constant."""

    def __init__(self, models: MgieTorchModels):
        super().__init__()
        self.mapper = models.edit_head
        self.register_buffer("img_embeddings", models.img_embeddings()[None].clone())

    def forward(self, img_hidden: torch.Tensor) -> torch.Tensor:
        return self.mapper(img_hidden, self.img_embeddings)


class VaeEncoder(nn.Module):
    """image in [-1, 1] -> the latent distribution's mode (its mean), not multiplied by the scaling factor."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(image).latent_dist.mode()


class VaeDecoder(nn.Module):
    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latent).sample


class NoisePredictor(nn.Module):
    def __init__(self, unet: nn.Module):
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states).sample


@dataclass
class ModelSpec:
    """What torch.onnx.export needs for one bundle file."""

    file: str
    module: nn.Module
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)


def model_specs(models: MgieTorchModels) -> dict[str, ModelSpec]:
    """Manifest key -> spec, with the names and dynamic axes of bundle-format.md."""
    layers = models.llm.config.num_hidden_layers
    past = [f"past_key_values.{i}.{part}" for i in range(layers) for part in ("key", "value")]
    present = [f"present.{i}.{part}" for i in range(layers) for part in ("key", "value")]
    seq, total = {1: "sequence"}, {1: "total_sequence"}
    image_axes = {2: "height", 3: "width"}
    latent_axes = {2: "latent_height", 3: "latent_width"}
    unet_axes = {0: "batch", **latent_axes}
    return {
        "vision": ModelSpec("vision.onnx", VisionFeatures(models.vision_tower, models.projector), ["pixel_values"],
                            ["image_features"]),
        "embed": ModelSpec("embed.onnx", TokenEmbedding(models.llm), ["input_ids"], ["inputs_embeds"],
                           {"input_ids": seq, "inputs_embeds": seq}),
        "decoder": ModelSpec(
            "decoder.onnx", DecoderStep(models.llm), ["inputs_embeds", "attention_mask", "position_ids", *past],
            ["logits", "last_hidden_state", *present],
            {"inputs_embeds": seq, "attention_mask": total, "position_ids": seq, "logits": seq, "last_hidden_state": seq,
             **{name: {2: "past_sequence"} for name in past}, **{name: {2: "total_sequence"} for name in present}}),
        "editHead": ModelSpec("edit_head.onnx", EditHead(models), ["img_hidden"], ["prompt_embeds"],
                              {"img_hidden": {0: "batch"}, "prompt_embeds": {0: "batch"}}),
        "vaeEncoder": ModelSpec("vae_encoder.onnx", VaeEncoder(models.vae), ["image"], ["latent"],
                                {"image": image_axes, "latent": latent_axes}),
        "unet": ModelSpec("unet.onnx", NoisePredictor(models.unet), ["sample", "timestep", "encoder_hidden_states"],
                          ["noise_pred"], {"sample": unet_axes, "timestep": {0: "batch"},
                                           "encoder_hidden_states": {0: "batch"}, "noise_pred": unet_axes}),
        "vaeDecoder": ModelSpec("vae_decoder.onnx", VaeDecoder(models.vae), ["latent"], ["image"],
                                {"latent": latent_axes, "image": image_axes}),
    }


def example_inputs(key: str, models: MgieTorchModels, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """Tracing inputs. Dynamic sizes are all > 1 and distinct (a past AND new tokens, batch 2), so no size
    gets specialised to 0 or 1 and no two dynamic axes get tied together by the trace."""
    config = models.llm.config
    width = config.hidden_size
    side = models.settings.size_multiple
    latent_side = side // vae_scale_factor(models)
    latent_channels = models.vae.config.latent_channels
    if key == "vision":
        size = models.vision_tower.config.image_size
        return (torch.randn(1, 3, size, size, dtype=dtype),)
    if key == "embed":
        return (torch.randint(0, vocab_size(models), (1, 5)),)
    if key == "decoder":
        past_length, new = 3, 5
        kv_heads, head_dim = config.num_key_value_heads, head_size(models)
        past = [torch.randn(1, kv_heads, past_length, head_dim, dtype=dtype) for _ in range(2 * config.num_hidden_layers)]
        return (torch.randn(1, new, width, dtype=dtype), torch.ones(1, past_length + new, dtype=torch.int64),
                torch.arange(past_length, past_length + new)[None], *past)
    if key == "editHead":
        return (torch.randn(2, len(models.img_token_ids), width, dtype=dtype),)
    if key == "vaeEncoder":
        return (torch.rand(1, 3, 2 * side, side, dtype=dtype) * 2 - 1,)
    if key == "unet":
        queries, dim = models.edit_head.query.shape[1], models.edit_head.hid2feat.out_features
        # the timestep stays float32 whatever the precision: fractional timesteps do not survive float16
        return (torch.randn(2, 2 * latent_channels, 2 * latent_side, latent_side, dtype=dtype),
                torch.tensor([999.0, 500.5]), torch.randn(2, queries, dim, dtype=dtype))
    if key == "vaeDecoder":
        return (torch.randn(1, latent_channels, 2 * latent_side, latent_side, dtype=dtype),)
    raise ValueError(f"no example inputs for {key}")


# --- sizes read from the modules -------------------------------------------------------------------------

def vae_scale_factor(models: MgieTorchModels) -> int:
    return 2 ** (len(models.vae.config.block_out_channels) - 1)


def head_size(models: MgieTorchModels) -> int:
    config = models.llm.config
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def vocab_size(models: MgieTorchModels) -> int:
    """The LM head's rows: the vocabulary after MGIE resized it for its added tokens."""
    return models.llm.get_output_embeddings().out_features


def check_consistency(models: MgieTorchModels) -> None:
    """The modules must fit together; a mismatch here would otherwise surface as a runtime shape error."""
    width, latent_channels = models.llm.config.hidden_size, models.vae.config.latent_channels
    clip_size, unet = models.vision_tower.config.image_size, models.unet.config
    head_in, head_out = models.edit_head.llm2hid.in_features, models.edit_head.hid2feat.out_features
    problems = [
        (models.projector.out_features != width, f"the projector gives {models.projector.out_features}, the LLM takes {width}"),
        (clip_size != models.settings.image_size, f"CLIP's image size {clip_size} != settings.image_size"),
        (head_in != width, f"the edit head takes {head_in}, the LLM gives {width}"),
        (unet.in_channels != 2 * latent_channels, f"the UNet takes {unet.in_channels} channels, not 2 x {latent_channels}"),
        (unet.cross_attention_dim != head_out, f"UNet cross-attention {unet.cross_attention_dim} != edit head output {head_out}"),
        (models.settings.size_multiple % vae_scale_factor(models) != 0, "size_multiple is not a multiple of the VAE scale"),
        (max(models.img_token_ids) >= vocab_size(models), "an [IMG] token id is outside the LM vocabulary"),
    ]
    messages = [message for failed, message in problems if failed]
    if messages:
        raise ValueError("the models do not fit together: " + "; ".join(messages))


# --- export ----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def cast_floats(module: nn.Module, dtype: torch.dtype) -> Iterator[None]:
    """Temporarily casts the module's float parameters and buffers (the originals are kept, not rounded)."""
    tensors = chain(module.parameters(), module.buffers())
    originals = {tensor: tensor.data for tensor in tensors if tensor.is_floating_point()}
    try:
        for tensor, data in originals.items():
            tensor.data = data.to(dtype)
        yield
    finally:
        for tensor, data in originals.items():
            tensor.data = data


@contextlib.contextmanager
def without_mha_fastpath() -> Iterator[None]:
    """nn.Transformer's fused inference kernel (aten::_transformer_encoder_layer_fwd) has no ONNX export."""
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def export_model(key: str, spec: ModelSpec, models: MgieTorchModels, out_dir: Path, fp16: bool,
                 external_data_threshold: int) -> list[str]:
    """Exports one model; returns the files written (the .onnx and any external data file)."""
    dtype = torch.float16 if fp16 else torch.float32
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch, cast_floats(spec.module, dtype), torch.no_grad(), \
            without_mha_fastpath(), warnings.catch_warnings():
        # the tracer warns about every Python int it records and the exporter about patterns that can go
        # wrong (negative gather indices, unfolded slices); verify_bundle.py checks the results instead
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        traced = Path(scratch) / spec.file
        inputs = example_inputs(key, models, dtype)
        outputs = spec.module.eval()(*inputs)
        torch.onnx.export(spec.module, inputs, str(traced), dynamo=False, opset_version=OPSET,
                          input_names=spec.input_names, output_names=spec.output_names,
                          dynamic_axes=spec.dynamic_axes, do_constant_folding=True)
        # the exporter scatters the weights of a >2 GiB model over one file per tensor: reload and save as one
        proto = onnx.load(str(traced))
    declare_output_shapes(proto, spec, outputs if isinstance(outputs, tuple) else (outputs,))
    return save_onnx(proto, out_dir / spec.file, external_data_threshold)


def declare_output_shapes(proto: onnx.ModelProto, spec: ModelSpec, outputs: tuple[torch.Tensor, ...]) -> None:
    """The exporter leaves some fixed output sizes symbolic (the latent's channels, the edit head's 77
    queries); declaring them makes the runtime's load-time contract check cover those sizes too."""
    for value, tensor in zip(proto.graph.output, outputs, strict=True):
        dynamic = spec.dynamic_axes.get(value.name, {})
        for axis, (dim, size) in enumerate(zip(value.type.tensor_type.shape.dim, tensor.shape, strict=True)):
            if axis in dynamic:
                dim.dim_param = dynamic[axis]
            else:
                dim.dim_value = size


def save_onnx(proto: onnx.ModelProto, path: Path, external_data_threshold: int) -> list[str]:
    data_file = path.with_name(path.name + ".data")
    data_file.unlink(missing_ok=True)
    if weight_bytes(proto) > external_data_threshold:
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_file.name, size_threshold=1024)
        written = [path.name, data_file.name]
    else:
        onnx.save_model(proto, str(path))
        written = [path.name]
    onnx.checker.check_model(str(path))
    return written


def weight_bytes(proto: onnx.ModelProto) -> int:
    return sum(len(tensor.raw_data) for tensor in proto.graph.initializer)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(models: MgieTorchModels, sha256: dict[str, str], fp16: bool) -> dict:
    settings, llm, vae = models.settings, models.llm.config, models.vae.config
    return {
        "format": "mgie-onnx-bundle",
        "formatVersion": 1,
        "name": settings.name,
        "description": settings.description,
        "license": settings.license,
        "files": {**MODEL_FILES, "tokenizer": "tokenizer.json"},
        "sha256": sha256,
        "vision": {"imageSize": models.vision_tower.config.image_size, "numPatches": models.num_patches,
                   "mean": list(settings.mean), "std": list(settings.std)},
        "llm": {"hiddenSize": llm.hidden_size, "numLayers": llm.num_hidden_layers, "numKvHeads": llm.num_key_value_heads,
                "headDim": head_size(models), "vocabSize": vocab_size(models)},
        "tokens": settings.tokens,
        "prompt": {"template": settings.prompt_template},
        "generation": {"maxNewTokens": settings.max_new_tokens, "noRepeatNgramSize": settings.no_repeat_ngram_size},
        "editHead": {"numImgTokens": len(models.img_token_ids), "numQueries": models.edit_head.query.shape[1],
                     "dim": models.edit_head.hid2feat.out_features},
        "diffusion": {"latentChannels": vae.latent_channels, "vaeScaleFactor": vae_scale_factor(models),
                      "scalingFactor": vae.scaling_factor, "sizeMultiple": settings.size_multiple,
                      "scheduler": settings.scheduler, "defaults": settings.defaults},
        # optional, for provenance: how the ONNX files were produced
        "export": {"precision": "float16" if fp16 else "float32", "opset": OPSET, "torch": torch.__version__},
    }


def export_bundle(models: MgieTorchModels, out_dir: Path, fp16: bool = False,
                  external_data_threshold: int = EXTERNAL_DATA_THRESHOLD) -> dict:
    """Writes the bundle into out_dir (created if needed) and returns its manifest.

    fp16: weights and activations in float16 (module.half() traced), except where the modules themselves
    compute in float32 (LLaMA's RMSNorm variance, eager softmax and rotary angles; the UNet's sinusoidal
    timestep embedding, fed by a float32 timestep input). The manifest is written last, so an interrupted
    export does not look like a bundle.
    """
    check_consistency(models)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
    written: list[str] = []
    for key, spec in model_specs(models).items():
        started = time.perf_counter()
        files = export_model(key, spec, models, out_dir, fp16, external_data_threshold)
        size = sum((out_dir / file).stat().st_size for file in files)
        log.info("  %-12s %-28s %10.1f MB %7.1f s", key, " + ".join(files), size / 1e6, time.perf_counter() - started)
        written += files
    for file in TOKENIZER_FILES:
        shutil.copyfile(models.settings.tokenizer_dir / file, out_dir / file)
        written.append(file)
    manifest = build_manifest(models, {file: sha256_of(out_dir / file) for file in written}, fp16)
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
