"""MGIE at its real size with seeded random weights (`python -m models.export --random-init`): CLIP ViT-L/14 at 224
with LLaVA's projector, LLaMA-7B's geometry (hidden 4096, 32 heads, MLP 11008, LLaMA's 32,000 tokens + the 11
added ones), MGIE's edit head, and the Stable-Diffusion-1.5-sized InstructPix2Pix UNet (8 input channels) and VAE.
Exported through the same path as the real checkpoints, they give bundles with the real sizes, memory and speed,
for machines and tests that do not have the weights. Their edits are not meaningful.

Nothing is held that is not being exported: the modules are skeletons on PyTorch's meta device (configs and
shapes, no memory), and `RandomInit.materialised(key)` builds the weights of the model being exported or checked,
then drops them. Every part draws from its own generator, seeded from (seed, part name), so a part's weights do
not depend on which other parts were built, nor on how many LLM layers there are: layer i of a 2-layer model is
layer i of the 32-layer one. That is what lets the decoder be exported layer by layer (streamed_decoder.py) and
checked against PyTorch one layer at a time (`streamed_layers`).
"""
from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .tiny_models import tokenizer_token_ids
from .torch_models import BundleSettings, EditMapper, MgieTorchModels

#: LLaMA's initializer_range (transformers' LlamaConfig default, the value of LLaMA's own config): the projections
#: and tables are N(0, 0.02). With hidden 4096 the logits then have a std of about 0.02 * sqrt(4096) = 1.3: not flat.
LLM_INIT_STD = 0.02
#: RMSNorm weights are N(1, 0.1) rather than transformers' ones, so that a layer's weights given to another layer,
#: or a norm left out, changes the outputs (every layer's norms would otherwise be identical).
NORM_JITTER = 0.1


@dataclass(frozen=True)
class Geometry:
    """The sizes of every part; the defaults are MGIE 7B's (LLaVA-7B v1, CLIP ViT-L/14, SD 1.5 VAE, IP2P UNet)."""

    llm_hidden: int = 4096
    llm_intermediate: int = 11008
    llm_heads: int = 32
    llm_kv_heads: int = 32
    llm_layers: int = 32
    rms_norm_eps: float = 1e-6
    #: openai/clip-vit-large-patch14's vision config
    clip: dict = field(default_factory=lambda: dict(
        hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, image_size=224,
        patch_size=14, projection_dim=768, hidden_act="quick_gelu", layer_norm_eps=1e-5))
    #: mgie_llava.py's EditMapper
    edit_head: dict = field(default_factory=lambda: dict(
        hidden=512, heads=4, encoder_layers=4, decoder_layers=4, feed_forward=2048, queries=77, out_dim=768))
    #: timbrooks/instruct-pix2pix vae/config.json (Stable Diffusion 1.5's VAE)
    vae: dict = field(default_factory=lambda: dict(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2,
        act_fn="silu", norm_num_groups=32, sample_size=512, scaling_factor=0.18215))
    #: timbrooks/instruct-pix2pix unet/config.json: SD 1.5's UNet with 8 input channels
    unet: dict = field(default_factory=lambda: dict(
        sample_size=64, in_channels=8, out_channels=4, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768, attention_head_dim=8,
        norm_num_groups=32, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0, downsample_padding=1, act_fn="silu"))


def part_seed(seed: int, part: str) -> int:
    """The seed of one part's generator: stable across runs, machines and versions (CRC-32 of its name and the seed)."""
    return zlib.crc32(f"{part}#{seed}".encode())


@contextlib.contextmanager
def seeded(seed: int, part: str) -> Iterator[None]:
    """Builds with the global generator seeded for `part` (library initialisers draw from it), restored afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(part_seed(seed, part))
        yield


class RandomLlm:
    """The LLM's weights, each table and each layer generated on demand from its own seed."""

    def __init__(self, config, seed: int, std: float = LLM_INIT_STD,
                 transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None):
        self.config, self.seed, self.std = config, seed, std
        #: applied to every layer parameter and to lm_head's weight, by name (LlmWeights.round_trip for --verify)
        self.transform = transform or (lambda name, tensor: tensor)
        from transformers.models.llama.modeling_llama import LlamaDecoderLayer

        with torch.device("meta"):
            layer = LlamaDecoderLayer(config, 0)
        #: the parameters of one decoder layer, in the order they are drawn
        self.layer_shapes = {name: tuple(p.shape) for name, p in layer.named_parameters()}

    def _generator(self, part: str) -> torch.Generator:
        return torch.Generator().manual_seed(part_seed(self.seed, part))

    def layer_state(self, index: int) -> dict[str, torch.Tensor]:
        """Layer `index`'s parameters (names relative to the layer: self_attn.q_proj.weight, ...), float32."""
        generator = self._generator(f"llm.layers.{index}")
        state = {}
        for name, shape in self.layer_shapes.items():
            values = torch.randn(shape, generator=generator)
            values = values.mul_(NORM_JITTER).add_(1.0) if name.endswith("norm.weight") else values.mul_(self.std)
            state[name] = self.transform(name, values)
        return state

    def embed_weight(self) -> torch.Tensor:
        return torch.randn(self.config.vocab_size, self.config.hidden_size, generator=self._generator("llm.embed_tokens")).mul_(self.std)

    def lm_head_weight(self) -> torch.Tensor:
        weight = torch.randn(self.config.vocab_size, self.config.hidden_size, generator=self._generator("llm.lm_head"))
        return self.transform("lm_head.weight", weight.mul_(self.std))

    def with_transform(self, transform: Callable[[str, torch.Tensor], torch.Tensor]) -> RandomLlm:
        return RandomLlm(self.config, self.seed, self.std, transform)

    def norm_weight(self) -> torch.Tensor:
        return torch.randn(self.config.hidden_size, generator=self._generator("llm.norm")).mul_(NORM_JITTER).add_(1.0)

    def skeleton(self, num_layers: int | None = None) -> nn.Module:
        """LlamaForCausalLM on the meta device (with `num_layers` layers), its rotary buffers real."""
        from transformers import LlamaForCausalLM

        config = self.config if num_layers is None else _with_layers(self.config, num_layers)
        with torch.device("meta"):
            llm = LlamaForCausalLM(config)
        llm.model.rotary_emb = type(llm.model.rotary_emb)(config=llm.config)
        llm.generation_config.pad_token_id = None
        return llm.eval().requires_grad_(False)

    def build(self, num_layers: int | None = None, embed_only: bool = False) -> nn.Module:
        """A LlamaForCausalLM with real weights: all of them, or (embed_only) the embedding table alone."""
        llm = self.skeleton(num_layers)
        _assign(llm.model.embed_tokens, "weight", self.embed_weight())
        if embed_only:
            return llm
        _assign(llm.model.norm, "weight", self.norm_weight())
        _assign(llm.lm_head, "weight", self.lm_head_weight())
        for index, layer in enumerate(llm.model.layers):
            load_layer(layer, self.layer_state(index))
        return llm


def _with_layers(config, num_layers: int):
    config = type(config).from_dict(config.to_dict())
    config.num_hidden_layers = num_layers
    config._attn_implementation = "eager"
    return config


def _assign(module: nn.Module, name: str, tensor: torch.Tensor) -> None:
    setattr(module, name, nn.Parameter(tensor, requires_grad=False))


def load_layer(layer: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Gives a (meta or real) decoder layer these weights, without copying them."""
    layer.load_state_dict(state, strict=True, assign=True)
    layer.requires_grad_(False)


def unload_layer(layer: nn.Module) -> None:
    """Back to the meta device: the layer's weights are freed."""
    layer.to("meta")


@contextlib.contextmanager
def streamed_layers(llm: nn.Module, source: RandomLlm) -> Iterator[None]:
    """Runs a LlamaForCausalLM whose layers are skeletons with one layer's weights in memory at a time: each layer
    gets its weights just before its forward and loses them right after, so a 7B runs in ~1 GB of weights."""
    handles = []
    for index, layer in enumerate(llm.model.layers):
        handles.append(layer.register_forward_pre_hook(lambda module, args, i=index: load_layer(module, source.layer_state(i))))
        handles.append(layer.register_forward_hook(lambda module, args, output: unload_layer(module)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def random_settings(tokenizer_dir: Path, geometry: Geometry, llm_layers: int) -> BundleSettings:
    full = llm_layers == geometry.llm_layers
    return BundleSettings(
        name="mgie-7b-random" if full else f"mgie-7b-random-l{llm_layers}",
        description=(f"MGIE 7B's architectures at their real size ({'all 32' if full else llm_layers} LLaMA layers) with "
                     "seeded random weights, exported by models/export --random-init for sizing, speed and memory "
                     "measurements; its edits are not meaningful."),
        license=("Random weights generated by mgie-for-figma: no third-party weights. The tokenizer is LLaMA's vocabulary "
                 "(Meta's LLaMA tokenizer, as the npm package llama-tokenizer-js distributes it) with LLaVA's and MGIE's "
                 "added tokens."),
        tokenizer_dir=tokenizer_dir,
        image_size=geometry.clip["image_size"],
    )


class RandomInit:
    """Skeleton MgieTorchModels and the weights of one part at a time (see the module docstring)."""

    def __init__(self, tokenizer_dir: Path, seed: int = 0, llm_layers: int | None = None, geometry: Geometry = Geometry()):
        from transformers import LlamaConfig

        self.seed = seed
        self.geometry = geometry
        self.llm_layers = geometry.llm_layers if llm_layers is None else llm_layers
        settings = random_settings(Path(tokenizer_dir), geometry, self.llm_layers)
        token_ids = tokenizer_token_ids(Path(tokenizer_dir))
        self.config = LlamaConfig(
            vocab_size=max(token_ids.values()) + 1, hidden_size=geometry.llm_hidden, intermediate_size=geometry.llm_intermediate,
            num_hidden_layers=self.llm_layers, num_attention_heads=geometry.llm_heads, num_key_value_heads=geometry.llm_kv_heads,
            rms_norm_eps=geometry.rms_norm_eps, max_position_embeddings=2048, initializer_range=LLM_INIT_STD,
            bos_token_id=token_ids[settings.tokens["bos"]], eos_token_id=token_ids[settings.tokens["eos"]], pad_token_id=None,
            tie_word_embeddings=False, attn_implementation="eager")
        self.llm = RandomLlm(self.config, seed)
        with torch.device("meta"):
            skeletons = self._build_parts()
        self.models = MgieTorchModels(
            llm=self.llm.skeleton(), img_token_ids=[token_ids[t] for t in settings.tokens["img"]], settings=settings, **skeletons)

    def _build_parts(self, only: str | None = None) -> dict[str, nn.Module]:
        """The non-LLM modules (or one of them), built by their libraries' initialisers from their own seeds."""
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPVisionConfig, CLIPVisionModel

        geometry, parts = self.geometry, {}
        builders = {
            "vision_tower": lambda: CLIPVisionModel(CLIPVisionConfig(**geometry.clip)),
            "projector": lambda: nn.Linear(geometry.clip["hidden_size"], geometry.llm_hidden),
            "edit_head": lambda: EditMapper(llm_dim=geometry.llm_hidden, **geometry.edit_head),
            "vae": lambda: AutoencoderKL(**geometry.vae),
            "unet": lambda: UNet2DConditionModel(**geometry.unet),
        }
        for name, build in builders.items():
            if only in (None, name):
                with seeded(self.seed, name):
                    parts[name] = build().eval().requires_grad_(False)
        return parts

    #: bundle model -> the parts its export and its PyTorch check need
    NEEDS = {"vision": ("vision_tower", "projector"), "embed": ("embed",), "decoder": ("llm",),
             "editHead": ("edit_head", "embed"), "vaeEncoder": ("vae",), "vaeDecoder": ("vae",), "unet": ("unet",)}

    @contextlib.contextmanager
    def materialised(self, key: str, stream_llm: bool = False,
                     llm_transform: Callable[[str, torch.Tensor], torch.Tensor] | None = None) -> Iterator[MgieTorchModels]:
        """self.models with the weights of bundle model `key` built, and dropped on exit. The LLM is built whole,
        or (stream_llm) with real tables and norm and its layers loaded one at a time while it runs;
        llm_transform changes its layer and lm_head weights (LlmWeights.round_trip)."""
        models, saved = self.models, {}
        source = self.llm.with_transform(llm_transform) if llm_transform else self.llm
        try:
            for part in self.NEEDS[key]:
                if part == "llm":
                    saved.setdefault("llm", models.llm)
                    llm = source.build(embed_only=stream_llm)
                    if stream_llm:
                        _assign(llm.model.norm, "weight", source.norm_weight())
                        _assign(llm.lm_head, "weight", source.lm_head_weight())
                    models.llm = llm
                elif part == "embed":
                    if "llm" not in saved:
                        saved["llm"] = models.llm
                        models.llm = source.build(embed_only=True)
                else:
                    saved[part] = getattr(models, part)
                    setattr(models, part, self._build_parts(only=part)[part])
            if stream_llm and key == "decoder":
                with streamed_layers(models.llm, source):
                    yield models
            else:
                yield models
        finally:
            for part, module in saved.items():
                setattr(models, part, module)
