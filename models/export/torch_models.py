"""The PyTorch side of MGIE, as the exporter and the reference pipeline see it.

One dataclass holds every module of the reference inference (mgie-reference.md), whether it was loaded
from the official checkpoints (load_checkpoints.py) or built tiny and random (tiny_models.py), so both
go through the same export and the same reference code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn


class EditMapper(nn.Module):
    """MGIE's edit head: (IMG hidden states + IMG token embeddings) -> 77 CLIP-text-like embeddings.

    Same structure and parameter names as the reference (llm2hid, query, mapper, hid2feat), so the
    checkpoint's `edit_head.*` weights load with load_state_dict. The reference sizes are the defaults.
    """

    def __init__(self, llm_dim: int = 4096, hidden: int = 512, heads: int = 4, encoder_layers: int = 4,
                 decoder_layers: int = 4, feed_forward: int = 2048, queries: int = 77, out_dim: int = 768):
        super().__init__()
        self.llm2hid = nn.Linear(llm_dim, hidden)
        self.query = nn.Parameter(torch.randn(1, queries, hidden))
        self.mapper = nn.Transformer(batch_first=True, norm_first=True, d_model=hidden, nhead=heads,
                                     num_encoder_layers=encoder_layers, num_decoder_layers=decoder_layers,
                                     dim_feedforward=feed_forward, dropout=0.0)
        self.hid2feat = nn.Linear(hidden, out_dim)

    def forward(self, llm: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        hid = self.llm2hid(llm + emb)
        hid = self.mapper(hid, self.query.repeat(llm.shape[0], 1, 1))
        return self.hid2feat(hid)


@dataclass
class BundleSettings:
    """Manifest values that are not in the modules' own configs (bundle-format.md)."""

    name: str
    description: str
    license: str
    #: folder holding tokenizer.json and tokenizer_config.json with every special token at its id
    tokenizer_dir: Path
    image_size: int = 224
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    tokens: dict = field(default_factory=lambda: {
        "bos": "<s>", "eos": "</s>", "imPatch": "<im_patch>", "imStart": "<im_start>", "imEnd": "<im_end>",
        "img": [f"[IMG{i}]" for i in range(8)],
    })
    prompt_template: str = (
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
        "detailed, and polite answers to the user's questions. USER: what will this image be like if "
        "'{instruction}'\n{image} ASSISTANT:"
    )
    max_new_tokens: int = 96
    no_repeat_ngram_size: int = 3
    size_multiple: int = 64
    #: the InstructPix2Pix scheduler config, in the manifest's names
    scheduler: dict = field(default_factory=lambda: {
        "type": "euler-ancestral", "numTrainTimesteps": 1000, "betaStart": 0.00085, "betaEnd": 0.012,
        "betaSchedule": "scaled_linear", "timestepSpacing": "linspace", "stepsOffset": 1, "predictionType": "epsilon",
    })
    defaults: dict = field(default_factory=lambda: {"steps": 100, "guidanceScale": 7.5, "imageGuidanceScale": 1.5, "size": 512})


@dataclass
class MgieTorchModels:
    """Every module of the reference inference, in eval mode, float32 on the CPU unless moved."""

    #: CLIP vision tower; the features are hidden_states[-2] without the CLS token
    vision_tower: nn.Module
    #: LLaVA's mm_projector: CLIP hidden size -> LLM hidden size
    projector: nn.Linear
    #: LlamaForCausalLM whose embedding table holds the special and [IMG] tokens
    llm: nn.Module
    edit_head: EditMapper
    #: ids of [IMG0]..[IMG7]; their embedding rows are the edit head's second input
    img_token_ids: list[int]
    #: diffusers AutoencoderKL (scaling_factor in its config)
    vae: nn.Module
    #: diffusers UNet2DConditionModel with 8 input channels (noisy latent + image latent)
    unet: nn.Module
    settings: BundleSettings
    #: [8, D] IMG embeddings given with the checkpoint (mllm.pt's `emb`, which demo.ipynb passes to the edit
    #: head); None: the embedding table's [IMG] rows, which MGIE's training used (mgie_llava.py)
    img_embedding_override: torch.Tensor | None = None

    def img_embeddings(self) -> torch.Tensor:
        """[8, D]: the [IMG] token embeddings, as the reference passes them to the edit head."""
        if self.img_embedding_override is not None:
            return self.img_embedding_override.detach()
        table = self.llm.get_input_embeddings().weight
        return table[torch.tensor(self.img_token_ids)].detach()

    @property
    def num_patches(self) -> int:
        config = self.vision_tower.config
        return (config.image_size // config.patch_size) ** 2
