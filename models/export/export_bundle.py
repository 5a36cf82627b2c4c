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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from transformers.cache_utils import DynamicCache

from .constants import EXTERNAL_DATA_THRESHOLD
from .fuse_attention import MODELS_WITH_ATTENTION, fuse_attention
from .matmul_nbits import LlmWeights, quantize_model
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
    return {key: model_spec(models, key) for key in MODEL_FILES}


def decoder_io_names(num_layers: int) -> tuple[list[str], list[str]]:
    """The decoder's past_key_values.{i}.key/value inputs and present.{i}.key/value outputs."""
    past = [f"past_key_values.{i}.{part}" for i in range(num_layers) for part in ("key", "value")]
    present = [f"present.{i}.{part}" for i in range(num_layers) for part in ("key", "value")]
    return past, present


def model_spec(models: MgieTorchModels, key: str) -> ModelSpec:
    """The spec of one bundle model; only that model's modules are touched (the others may be skeletons)."""
    past, present = decoder_io_names(models.llm.config.num_hidden_layers)
    seq, total = {1: "sequence"}, {1: "total_sequence"}
    image_axes = {2: "height", 3: "width"}
    latent_axes = {2: "latent_height", 3: "latent_width"}
    unet_axes = {0: "batch", **latent_axes}
    specs = {
        "vision": lambda: ModelSpec("vision.onnx", VisionFeatures(models.vision_tower, models.projector), ["pixel_values"],
                                    ["image_features"]),
        "embed": lambda: ModelSpec("embed.onnx", TokenEmbedding(models.llm), ["input_ids"], ["inputs_embeds"],
                                   {"input_ids": seq, "inputs_embeds": seq}),
        "decoder": lambda: ModelSpec(
            "decoder.onnx", DecoderStep(models.llm), ["inputs_embeds", "attention_mask", "position_ids", *past],
            ["logits", "last_hidden_state", *present],
            {"inputs_embeds": seq, "attention_mask": total, "position_ids": seq, "logits": seq, "last_hidden_state": seq,
             **{name: {2: "past_sequence"} for name in past}, **{name: {2: "total_sequence"} for name in present}}),
        "editHead": lambda: ModelSpec("edit_head.onnx", EditHead(models), ["img_hidden"], ["prompt_embeds"],
                                      {"img_hidden": {0: "batch"}, "prompt_embeds": {0: "batch"}}),
        "vaeEncoder": lambda: ModelSpec("vae_encoder.onnx", VaeEncoder(models.vae), ["image"], ["latent"],
                                        {"image": image_axes, "latent": latent_axes}),
        "unet": lambda: ModelSpec("unet.onnx", NoisePredictor(models.unet), ["sample", "timestep", "encoder_hidden_states"],
                                  ["noise_pred"], {"sample": unet_axes, "timestep": {0: "batch"},
                                                   "encoder_hidden_states": {0: "batch"}, "noise_pred": unet_axes}),
        "vaeDecoder": lambda: ModelSpec("vae_decoder.onnx", VaeDecoder(models.vae), ["latent"], ["image"],
                                        {"latent": latent_axes, "image": image_axes}),
    }
    return specs[key]()


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


def export_model(key: str, spec: ModelSpec, models: MgieTorchModels, out_dir: Path, dtype: torch.dtype,
                 external_data_threshold: int, transform: Callable[[onnx.ModelProto], None] | None = None) -> list[str]:
    """Exports one model in `dtype`; returns the files written (the .onnx and any external data file).
    `transform` edits the ONNX model before it is saved (the decoder's quantization), its weights loaded."""
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        # the exporter scatters the weights of a >2 GiB model over one file per tensor: read the graph alone and
        # let save_onnx stream the weights into one file, so they are never all held in Python as well
        proto = trace_to_onnx(key, spec, models, dtype, Path(scratch), load_weights=transform is not None)
        if transform is not None:
            transform(proto)
        if key in MODELS_WITH_ATTENTION and dtype == torch.float32:
            log.info("  %-12s %d attention blocks as MultiHeadAttention (fuse_attention.py)", key, fuse_attention(proto))
        return save_onnx(proto, out_dir / spec.file, external_data_threshold, base_dir=Path(scratch))


def trace_to_onnx(key: str, spec: ModelSpec, models: MgieTorchModels, dtype: torch.dtype, scratch: Path,
                  load_weights: bool) -> onnx.ModelProto:
    """torch.onnx.export (TorchScript, opset 17) of spec.module in `dtype` into scratch/, read back with the output
    sizes declared; without load_weights, weights the exporter put in external files stay there (in scratch)."""
    with cast_floats(spec.module, dtype), torch.no_grad(), without_mha_fastpath(), warnings.catch_warnings():
        # the tracer warns about every Python int it records and the exporter about patterns that can go
        # wrong (negative gather indices, unfolded slices); verify_bundle.py checks the results instead
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        traced = scratch / spec.file
        inputs = example_inputs(key, models, dtype)
        outputs = spec.module.eval()(*inputs)
        torch.onnx.export(spec.module, inputs, str(traced), dynamo=False, opset_version=OPSET,
                          input_names=spec.input_names, output_names=spec.output_names,
                          dynamic_axes=spec.dynamic_axes, do_constant_folding=True)
    proto = onnx.load(str(traced), load_external_data=load_weights)
    declare_output_shapes(proto, spec, outputs if isinstance(outputs, tuple) else (outputs,))
    return proto


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


def save_onnx(proto: onnx.ModelProto, path: Path, external_data_threshold: int, base_dir: Path | None = None) -> list[str]:
    """Saves the model, with every tensor of 1 KiB or more in one <file>.data when its weights are over the
    threshold (or already external, in base_dir: the exporter's scratch files, copied over without loading)."""
    data_file = path.with_name(path.name + ".data")
    data_file.unlink(missing_ok=True)
    external = any(uses_external_data(tensor) for tensor in proto.graph.initializer)
    if external or weight_bytes(proto) > external_data_threshold:
        with ExternalDataWriter(data_file) as writer:
            for tensor in proto.graph.initializer:
                if uses_external_data(tensor):
                    writer.copy_from(tensor, base_dir)
                elif len(tensor.raw_data) >= 1024:
                    writer.add(tensor, tensor.raw_data)
        onnx.save_model(proto, str(path))
        written = [path.name, data_file.name]
    else:
        onnx.save_model(proto, str(path))
        written = [path.name]
    onnx.checker.check_model(str(path))
    return written


def uses_external_data(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == onnx.TensorProto.EXTERNAL


class ExternalDataWriter:
    """Appends tensors to one external data file and points their TensorProtos at it (ONNX external data:
    location, offset, length). Tensors of 1 MiB or more start at multiples of 64 KiB, the others of 4 KiB, so
    ONNX Runtime can memory-map them on any platform (Windows maps at 64 KiB granularity)."""

    def __init__(self, path: Path):
        self.path = path
        self.stream = path.open("wb")
        self.offset = 0

    def __enter__(self) -> ExternalDataWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()

    def _align(self, size: int) -> None:
        alignment = 65536 if size >= 1 << 20 else 4096
        padding = -self.offset % alignment
        if padding:
            self.stream.write(b"\0" * padding)
            self.offset += padding

    def add(self, tensor: onnx.TensorProto, data: bytes | memoryview | np.ndarray) -> None:
        """Writes `data` (the tensor's raw little-endian bytes, or a C-contiguous array of them) and makes `tensor`
        refer to it."""
        size = memoryview(data).nbytes
        self._align(size)
        self.stream.write(data)
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        for key, value in (("location", self.path.name), ("offset", str(self.offset)), ("length", str(size))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.offset += size

    def copy_from(self, tensor: onnx.TensorProto, base_dir: Path | None) -> None:
        """Moves a tensor already in an external file (relative to base_dir) into this one, in chunks."""
        info = {entry.key: entry.value for entry in tensor.external_data}
        source = (base_dir or Path(".")) / info["location"]
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else source.stat().st_size - offset
        self._align(length)
        with source.open("rb") as stream:
            stream.seek(offset)
            remaining = length
            while remaining:
                chunk = stream.read(min(remaining, 1 << 24))
                if not chunk:
                    raise OSError(f"{source}: ends before the {length} bytes of {tensor.name}")
                self.stream.write(chunk)
                remaining -= len(chunk)
        del tensor.external_data[:]
        for key, value in (("location", self.path.name), ("offset", str(self.offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.offset += length


def weight_bytes(proto: onnx.ModelProto) -> int:
    """The initializers' bytes, in the proto or in external files."""
    total = 0
    for tensor in proto.graph.initializer:
        if uses_external_data(tensor):
            total += int({entry.key: entry.value for entry in tensor.external_data}.get("length", 0))
        else:
            total += len(tensor.raw_data)
    return total


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(models: MgieTorchModels, sha256: dict[str, str], precisions: dict[str, str],
                   llm_weights: LlmWeights, provenance: dict | None = None) -> dict:
    settings, llm, vae = models.settings, models.llm.config, models.vae.config
    # export.precision is the float type computed in (bundle-format.md); a quantized LLM says so in llm.weights
    kinds = {label.split("+")[0] for label in precisions.values()}
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
                "headDim": head_size(models), "vocabSize": vocab_size(models),
                # optional (the runtime ignores it): how decoder.onnx stores its weights, MatMulNBits' settings if quantized
                "weights": llm_weights.manifest_entry()},
        "tokens": settings.tokens,
        "prompt": {"template": settings.prompt_template},
        "generation": {"maxNewTokens": settings.max_new_tokens, "noRepeatNgramSize": settings.no_repeat_ngram_size},
        "editHead": {"numImgTokens": len(models.img_token_ids), "numQueries": models.edit_head.query.shape[1],
                     "dim": models.edit_head.hid2feat.out_features},
        "diffusion": {"latentChannels": vae.latent_channels, "vaeScaleFactor": vae_scale_factor(models),
                      "scalingFactor": vae.scaling_factor, "sizeMultiple": settings.size_multiple,
                      "scheduler": settings.scheduler, "defaults": settings.defaults},
        # optional, for provenance: how the ONNX files were produced
        "export": {"precision": kinds.pop() if len(kinds) == 1 else "mixed", "models": precisions, "opset": OPSET,
                   "torch": torch.__version__, **(provenance or {})},
    }


def model_dtypes(fp16: bool, llm_weights: LlmWeights) -> dict[str, torch.dtype]:
    """The float type each model is exported in. The decoder's follows --llm-weights: float16 weights compute in
    float16; quantized ones in float32 (ONNX Runtime's CPU MatMulNBits computes in float32 whatever A's type, and
    float32 scales keep the 4-bit steps exact); embed.onnx, a lookup, follows --fp16 like the other models."""
    dtypes = {key: torch.float16 if fp16 else torch.float32 for key in MODEL_FILES}
    dtypes["decoder"] = torch.float16 if llm_weights.format == "fp16" else torch.float32
    return dtypes


def precision_label(key: str, dtype: torch.dtype, llm_weights: LlmWeights) -> str:
    label = "float16" if dtype == torch.float16 else "float32"
    if key != "decoder" or not llm_weights.quantized:
        return label
    # accuracy level 4: the CPU kernel also rounds the activations to int8 (matmul_nbits.ACCURACY_LEVELS)
    return f"{label}+{llm_weights.format}" + ("+int8-activations" if llm_weights.accuracy_level == 4 else "")


#: A replacement for export_model for the decoder (streamed_decoder.export_streamed_decoder's signature)
DecoderExporter = Callable[[MgieTorchModels, Path, torch.dtype, LlmWeights, int], list[str]]


def export_bundle(models: MgieTorchModels, out_dir: Path, fp16: bool = False,
                  external_data_threshold: int = EXTERNAL_DATA_THRESHOLD, *, llm_weights: LlmWeights | None = None,
                  materialise: Callable[[str], contextlib.AbstractContextManager] | None = None,
                  decoder_exporter: DecoderExporter | None = None, provenance: dict | None = None,
                  reuse: Callable[[str, str, Path], tuple[list[str], dict[str, str]] | None] | None = None) -> dict:
    """Writes the bundle into out_dir (created if needed) and returns its manifest.

    fp16: weights and activations in float16 (module.half() traced), except where the modules themselves
    compute in float32 (LLaMA's RMSNorm variance, eager softmax and rotary angles; the UNet's sinusoidal
    timestep embedding, fed by a float32 timestep input). llm_weights: the decoder's weights (default: float16 with
    fp16, else float32); int8/int4 replace its projections' MatMuls by MatMulNBits (matmul_nbits.py).
    materialise(key): a context in which `models` holds the weights of bundle model `key` (random_models.py builds
    one model's weights at a time); decoder_exporter: writes decoder.onnx instead of export_model (the streamed,
    layer-by-layer export); reuse(key, precision, out_dir): the files (and their sha256) of a model it linked from
    an identical export (reuse_parts.py), or None. The manifest is written last, so an interrupted export does
    not look like a bundle.
    """
    llm_weights = llm_weights or LlmWeights("fp16" if fp16 else "fp32")
    materialise = materialise or (lambda key: contextlib.nullcontext())
    check_consistency(models)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
    dtypes = model_dtypes(fp16, llm_weights)
    written: list[str] = []
    known_sha256: dict[str, str] = {}
    for key in MODEL_FILES:
        started = time.perf_counter()
        linked = reuse(key, precision_label(key, dtypes[key], llm_weights), out_dir) if reuse else None
        if linked is not None:
            files, hashes = linked
            known_sha256.update(hashes)
        elif key == "decoder" and decoder_exporter is not None:
            files = decoder_exporter(models, out_dir, dtypes[key], llm_weights, external_data_threshold)
        else:
            transform = None
            if key == "decoder" and llm_weights.quantized:
                def transform(proto: onnx.ModelProto) -> None:
                    log.info("  decoder: %d MatMuls -> MatMulNBits (%s)", quantize_model(proto, llm_weights), llm_weights.format)
            with materialise(key):
                files = export_model(key, model_spec(models, key), models, out_dir, dtypes[key], external_data_threshold, transform)
        size = sum((out_dir / file).stat().st_size for file in files)
        log.info("  %-12s %-28s %10.1f MB %7.1f s  peak RSS %.1f GB", key, " + ".join(files), size / 1e6,
                 time.perf_counter() - started, peak_rss_gb())
        written += files
    for file in TOKENIZER_FILES:
        shutil.copyfile(models.settings.tokenizer_dir / file, out_dir / file)
        written.append(file)
    precisions = {key: precision_label(key, dtypes[key], llm_weights) for key in MODEL_FILES}
    sha256 = {file: known_sha256.get(file) or sha256_of(out_dir / file) for file in written}
    manifest = build_manifest(models, sha256, precisions, llm_weights, provenance)
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def peak_rss_gb() -> float:
    """This process's peak resident memory so far (Linux VmHWM), in GB; 0 where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return 0.0
