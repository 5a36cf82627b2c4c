"""Loads the official MGIE checkpoints into MgieTorchModels, as apple/ml-mgie's demo.ipynb assembles them.

What the demo loads, and where this module takes it from (local folders only, nothing is downloaded):

| part | demo | here |
| --- | --- | --- |
| LLaMA decoder, final norm | `LlavaLlamaForCausalLM.from_pretrained('_ckpt/LLaVA-7B-v1')` | `llava_dir` (LLaVA-Lightning-7B delta v1.1 applied to LLaMA-7B) |
| `mm_projector` (CLIP -> LLM) | the same folder, key `model.mm_projector.*` | the same |
| embedding table, `lm_head` (32011 rows), edit head | `mllm.pt` over the model with `strict=False` | `mgie_dir/mllm.pt` |
| IMG token embeddings for the edit head | `ckpt['emb']` of `mllm.pt`, [1, 8, 4096] or [8, 4096] | baked into the edit head as the demo passes it; the log compares it with the table's [IMG] rows (`_choose_img_embeddings`) |
| CLIP ViT-L/14 vision tower | `CLIPVisionModel.from_pretrained(config.mm_vision_tower)` | `clip_dir`, else a local copy of `mm_vision_tower` |
| VAE, scheduler config | `StableDiffusionInstructPix2PixPipeline.from_pretrained('timbrooks/instruct-pix2pix')` | `ip2p_dir` (`vae/`, `unet/config.json`, `scheduler/`) |
| UNet (8 input channels) | the pipeline's UNet, then `load_state_dict(unet.pt)` (strict) | `unet/config.json` of `ip2p_dir` + `mgie_dir/unet.pt` |
| tokenizer | LLaVA's slow `LlamaTokenizer` + `[IMG0]`..`[IMG7]` added after `<im_patch>` `<im_start>` `<im_end>` | `prepare_tokenizer_dir` |

Every check raises CheckpointError with the file, what was found, what was expected and what to do.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from .checkpoint_error import CheckpointError
from .tokenizer_json import fix_tokenizer_files, read_sentencepiece_model, write_tokenizer_dir  # noqa: F401 - fix_tokenizer_files re-exported
from .torch_models import BundleSettings, EditMapper, MgieTorchModels

log = logging.getLogger(__name__)

#: LLaVA's image tokens in the order LLaVA's training added them (LLaVA 7ace501, initialize_vision_tokenizer):
#: <im_patch> first, then <im_start> and <im_end>; in LLaVA-7B v1 they are ids 32000, 32001, 32002.
LLAVA_TOKENS = ("<im_patch>", "<im_start>", "<im_end>")
#: MGIE's visual tokens, added by demo.ipynb right after LLaVA's (ids 32003..32010 for LLaVA-7B v1).
IMG_TOKENS = tuple(f"[IMG{i}]" for i in range(8))
#: The edit head's number of attention heads: mgie_llava.py's EditMapper (nhead=4); weights do not show it.
EDIT_HEAD_HEADS = 4
#: The only layer the bundle format supports (bundle-format.md: vision.onnx = penultimate CLIP layer).
VISION_SELECT_LAYER = -2

#: Keys a LLaVA-7B-v1 folder may hold that the demo does not take from it:
#: - rotary `inv_freq` buffers, saved by the transformers of 2023 and recomputed today;
#: - `model.vision_tower.*`, should a copy of CLIP be inside (the demo loads CLIP from its own checkpoint);
#: - `edit_head.*`, `unet.*`, `vae.*`: present when the delta was applied with MGIE's mgie_llava.py copied
#:   over LLaVA's llava.py (the edit head and UNet come from mllm.pt / unet.pt, the VAE from InstructPix2Pix).
_LLAVA_IGNORED = re.compile(r"(\.rotary_emb\.inv_freq$)|(^model\.vision_tower\.)|(^edit_head\.)|(^unet\.)|(^vae\.)")
_PROJECTOR_KEYS = ("model.mm_projector.weight", "model.mm_projector.bias")

MGIE_7B_NAME = "mgie-7b"
MGIE_7B_DESCRIPTION = (
    "MGIE 7B (LLaVA-7B v1 + MGIE edit head + InstructPix2Pix UNet fine-tuned by MGIE), converted from the "
    "official checkpoints (apple/ml-mgie mgie_7b: mllm.pt, unet.pt)"
)
MGIE_7B_LICENSE = (
    "Non-commercial research use only; each part keeps its own terms. "
    "LLaMA-7B: Meta's LLaMA model licence (non-commercial, weights granted on request). "
    "LLaVA-Lightning-7B v1.1 delta (Haotian Liu et al.): applied to LLaMA-7B, so bound by the LLaMA licence; "
    "its instruction data was generated with OpenAI models and is CC BY-NC 4.0. "
    "MGIE weights mllm.pt and unet.pt (Apple): \"Apple's rights in the attached weight differentials are hereby "
    "licensed under the CC-BY-NC license. Apple makes no representations with regards to LLaMa or any other third "
    "party software, which are subject to their own terms.\" "
    "CLIP ViT-L/14 vision tower: OpenAI CLIP (MIT). "
    "VAE and scheduler configuration: timbrooks/instruct-pix2pix (Tim Brooks et al., fine-tuned from Stable "
    "Diffusion v1.5, CreativeML OpenRAIL-M). "
    "Check every licence before using this bundle."
)


# ----------------------------------------------------------------------------------------------------------
# Reading files
# ----------------------------------------------------------------------------------------------------------

def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or a torch pickle (.bin/.pt), on the CPU, memory-mapped when possible."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            data = load_file(str(path))
        else:
            try:
                data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:
                # files written by torch < 1.6 (not zip) cannot be memory-mapped
                data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - say which file, whatever the reason
        raise CheckpointError(f"{path}: cannot be read as a PyTorch state dict ({error}). Copy or download it again.") from error
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: holds a {type(data).__name__}, expected a state dict (a dict of tensors).")
    return data


def _weight_files(folder: Path) -> list[Path]:
    """The weight files of a transformers checkpoint folder: sharded or single, safetensors or .bin."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file():
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            missing = [name for name in names if not (folder / name).is_file()]
            if missing:
                raise CheckpointError(f"{index} lists {', '.join(missing)}, which {folder} lacks. Copy the whole folder again.")
            return [folder / name for name in names]
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (folder / single).is_file():
            return [folder / single]
    raise CheckpointError(
        f"{folder} has no weights (model.safetensors[.index.json] or pytorch_model[-0000N-of-0000M].bin with its "
        "index). Point --llava at the folder written by LLaVA's apply_delta (models/README.md)."
    )


def _load_strictly(module: nn.Module, state: dict[str, torch.Tensor], file: Path, mismatch: str, prefix: str = "") -> None:
    """load_state_dict(strict=True), with errors that name the file, the missing and unknown keys and bad shapes."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{file}: {mismatch} (missing: {', '.join(prefix + k for k in missing[:4]) or 'none'}; "
            f"unknown: {', '.join(prefix + k for k in unexpected[:4]) or 'none'})."
        )
    for key, tensor in state.items():
        _expect_shape(tensor, tuple(expected[key].shape), file, prefix + key)
    module.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})


def _read_json(path: Path, what_to_do: str) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing. {what_to_do}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}). {what_to_do}") from error


def _expect_shape(tensor: torch.Tensor, shape: tuple[int, ...], file: Path, key: str, hint: str = "") -> None:
    if tuple(tensor.shape) != tuple(shape):
        raise CheckpointError(f"{file}: {key} has shape {list(tensor.shape)}, expected {list(shape)}. {hint}".rstrip())


# ----------------------------------------------------------------------------------------------------------
# Token ids
# ----------------------------------------------------------------------------------------------------------

def checkpoint_token_ids(llava_dir: Path) -> dict[str, int]:
    """The ids the demo's tokenizer gives LLaVA's and MGIE's added tokens.

    LLaVA's tokenizer files hold <im_patch> <im_start> <im_end> (added_tokens.json for the slow tokenizer that
    LLaVA saved, or a newer tokenizer_config.json / tokenizer.json); the demo then adds [IMG0]..[IMG7] with
    `add_tokens`, which gives them the next free ids.
    """
    llava_dir = Path(llava_dir)
    found: dict[str, int] = {}
    source = None
    added = llava_dir / "added_tokens.json"
    config = llava_dir / "tokenizer_config.json"
    fast = llava_dir / "tokenizer.json"
    if added.is_file():
        found, source = {str(k): int(v) for k, v in _read_json(added, "").items()}, added
    elif config.is_file() and "added_tokens_decoder" in (data := _read_json(config, "")):
        found = {entry["content"]: int(i) for i, entry in data["added_tokens_decoder"].items()}
        source = config
    elif fast.is_file():
        found = {entry["content"]: int(entry["id"]) for entry in _read_json(fast, "").get("added_tokens", [])}
        source = fast
    if source is None:
        raise CheckpointError(
            f"{llava_dir} has no added_tokens.json (nor tokenizer_config.json / tokenizer.json listing added tokens): "
            "it must hold LLaVA's tokenizer files, which apply_delta copies from the delta (models/README.md)."
        )
    ids: dict[str, int] = {}
    for token in LLAVA_TOKENS:
        if token not in found:
            raise CheckpointError(f"{source} has no {token}: this is not a LLaVA v1 tokenizer with image tokens (mm_use_im_start_end).")
        ids[token] = found[token]
    first = ids[LLAVA_TOKENS[0]]
    if [ids[t] for t in LLAVA_TOKENS] != list(range(first, first + 3)):
        raise CheckpointError(f"{source}: {', '.join(f'{t}={ids[t]}' for t in LLAVA_TOKENS)}; expected three consecutive ids in this order.")
    last = max(found.values())
    if last != first + 2:
        raise CheckpointError(f"{source} has tokens after <im_end> (up to id {last}); the demo's [IMG] ids would not be {first + 3}..{first + 10}.")
    for i, token in enumerate(IMG_TOKENS):
        ids[token] = first + 3 + i
    return ids


# ----------------------------------------------------------------------------------------------------------
# The LLM (LLaVA's LLaMA + MGIE's embedding table and lm_head)
# ----------------------------------------------------------------------------------------------------------

def _llava_config(llava_dir: Path) -> dict:
    path = llava_dir / "config.json"
    raw = _read_json(path, "Point --llava at the LLaVA-7B-v1 folder written by apply_delta (models/README.md).")
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        if key not in raw:
            raise CheckpointError(f"{path} has no {key}: not a LLaMA/LLaVA config.")
    if not raw.get("use_mm_proj") or "mm_hidden_size" not in raw:
        raise CheckpointError(f"{path} has no use_mm_proj / mm_hidden_size: this is a plain LLaMA, not LLaVA. Apply the LLaVA delta first (models/README.md).")
    if not raw.get("mm_use_im_start_end", False):
        raise CheckpointError(f"{path}: mm_use_im_start_end is not true; MGIE's prompt wraps the image in <im_start> <im_end> (LLaVA-Lightning-7B v1.1 has it).")
    layer = raw.get("mm_vision_select_layer", -1)
    if layer != VISION_SELECT_LAYER:
        raise CheckpointError(f"{path}: mm_vision_select_layer is {layer}; the bundle format takes CLIP's penultimate layer ({VISION_SELECT_LAYER}), as LLaVA-7B v1 does.")
    return raw


def _build_llm(raw: dict, vocab_size: int, dtype: torch.dtype) -> nn.Module:
    """A LlamaForCausalLM with LLaVA's sizes on the meta device: weights are assigned, never initialised."""
    from transformers import LlamaConfig, LlamaForCausalLM

    extra = {}
    if "rope_theta" in raw:
        extra["rope_theta"] = raw["rope_theta"]
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=raw["hidden_size"],
        intermediate_size=raw["intermediate_size"],
        num_hidden_layers=raw["num_hidden_layers"],
        num_attention_heads=raw["num_attention_heads"],
        num_key_value_heads=raw.get("num_key_value_heads") or raw["num_attention_heads"],
        hidden_act=raw.get("hidden_act", "silu"),
        # LLaMA-1 configs of early 2023 call it max_sequence_length
        max_position_embeddings=raw.get("max_position_embeddings") or raw.get("max_sequence_length") or 2048,
        rms_norm_eps=raw.get("rms_norm_eps", 1e-6),
        tie_word_embeddings=False,
        # LLaMA's <s> and </s>; early LLaMA conversions wrote 0/1/-1 here, which nothing below relies on
        bos_token_id=1, eos_token_id=2, pad_token_id=None,
        # eager attention, as tiny_models.py: it traces to plain ONNX ops with an explicit mask
        attn_implementation="eager",
        **extra,
    )
    with torch.device("meta"):
        llm = LlamaForCausalLM(config)
    return llm.to(dtype=dtype)


def _load_llm(llava_dir: Path, mllm_path: Path, mllm: dict, dtype: torch.dtype):
    raw = _llava_config(llava_dir)
    files = _weight_files(llava_dir)
    hidden = raw["hidden_size"]

    llava_state: dict[str, torch.Tensor] = {}
    projector: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    source_of: dict[str, Path] = {}
    for file in files:
        for key, tensor in _read_tensors(file).items():
            source_of[key] = file
            if key in _PROJECTOR_KEYS:
                projector[key] = tensor
            elif _LLAVA_IGNORED.search(key):
                ignored.append(key)
            else:
                llava_state[key] = tensor

    # 1. the projector, Linear(mm_hidden_size -> hidden_size)
    for key in _PROJECTOR_KEYS:
        if key not in projector:
            raise CheckpointError(
                f"{llava_dir}: no {key} in {', '.join(f.name for f in files)}. The folder is a LLaMA without LLaVA's "
                "projector: apply the LLaVA-Lightning-7B v1.1 delta (models/README.md)."
            )
    mm_hidden = raw["mm_hidden_size"]
    _expect_shape(projector["model.mm_projector.weight"], (hidden, mm_hidden), source_of["model.mm_projector.weight"], "model.mm_projector.weight")
    _expect_shape(projector["model.mm_projector.bias"], (hidden,), source_of["model.mm_projector.bias"], "model.mm_projector.bias")
    proj = nn.Linear(mm_hidden, hidden)
    proj.load_state_dict({"weight": projector["model.mm_projector.weight"], "bias": projector["model.mm_projector.bias"]})
    proj = proj.to(dtype)

    # 2. the embedding table and lm_head: mllm.pt's, which cover the [IMG] tokens too (the demo resizes to
    #    len(tokenizer) and then loads them over LLaVA's)
    for key in ("model.embed_tokens.weight", "lm_head.weight"):
        if key not in mllm:
            raise CheckpointError(f"{mllm_path} has no {key}: not MGIE's mllm.pt (found {', '.join(list(mllm)[:5])}, ...).")
    vocab = mllm["model.embed_tokens.weight"].shape[0]
    _expect_shape(mllm["model.embed_tokens.weight"], (vocab, hidden), mllm_path, "model.embed_tokens.weight",
                  f"The LLaVA folder's hidden size is {hidden}.")
    _expect_shape(mllm["lm_head.weight"], (vocab, hidden), mllm_path, "lm_head.weight")
    llava_vocab = raw["vocab_size"]
    if vocab != llava_vocab + len(IMG_TOKENS):
        raise CheckpointError(
            f"{mllm_path}: the embedding table has {vocab} rows; LLaVA's config.json says {llava_vocab} tokens, so "
            f"with the {len(IMG_TOKENS)} [IMG] tokens there should be {llava_vocab + len(IMG_TOKENS)}. "
            "The MGIE checkpoint does not belong to this LLaVA folder."
        )
    for key in ("model.embed_tokens.weight", "lm_head.weight"):
        if key in llava_state:
            _expect_shape(llava_state[key], (llava_vocab, hidden), source_of[key], key, "It does not match config.json's vocab_size.")
            del llava_state[key]  # replaced by mllm.pt's, as in the demo

    # 3. the decoder: every LLaMA weight must come from the LLaVA folder
    llm = _build_llm(raw, vocab, dtype)
    expected = dict(llm.state_dict())
    state = {k: v.to(dtype) for k, v in llava_state.items()}
    state["model.embed_tokens.weight"] = mllm["model.embed_tokens.weight"].to(dtype)
    state["lm_head.weight"] = mllm["lm_head.weight"].to(dtype)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing:
        raise CheckpointError(
            f"{llava_dir}: {len(missing)} LLaMA weights are missing, e.g. {', '.join(missing[:4])}. "
            "The folder is incomplete or not LLaVA-7B (copy it again or re-run apply_delta)."
        )
    if unexpected:
        raise CheckpointError(
            f"{llava_dir}: unknown weights {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''} "
            f"(in {source_of.get(unexpected[0], mllm_path).name}). This is not the LLaVA-7B v1 layout this exporter knows."
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{source_of.get(key, mllm_path)}: {key} has shape {list(tensor.shape)}, expected {list(expected[key].shape)} "
                f"from {llava_dir / 'config.json'}."
            )
    llm.load_state_dict(state, strict=True, assign=True)
    # non-persistent buffers (rotary inv_freq) are not in any checkpoint: build them for real
    rotary = llm.model.rotary_emb
    llm.model.rotary_emb = type(rotary)(config=llm.config)
    for name, tensor in [*llm.named_parameters(), *llm.named_buffers()]:
        if tensor.is_meta:
            raise CheckpointError(f"internal: {name} was not loaded (still on the meta device); transformers' LLaMA has changed.")
    llm.generation_config.pad_token_id = None
    return llm, proj, ignored


# ----------------------------------------------------------------------------------------------------------
# The edit head
# ----------------------------------------------------------------------------------------------------------

def _load_edit_head(mllm_path: Path, mllm: dict, llm_dim: int, dtype: torch.dtype) -> tuple[EditMapper, torch.Tensor]:
    prefix = "edit_head."
    state = {k[len(prefix):]: v for k, v in mllm.items() if k.startswith(prefix)}
    for key in ("llm2hid.weight", "query", "hid2feat.weight"):
        if key not in state:
            raise CheckpointError(f"{mllm_path} has no {prefix}{key}: not MGIE's mllm.pt (its edit head is missing).")
    hidden, in_dim = state["llm2hid.weight"].shape
    if in_dim != llm_dim:
        raise CheckpointError(f"{mllm_path}: {prefix}llm2hid.weight takes {in_dim} features but the LLM's hidden size is {llm_dim}.")
    layers = lambda part: len({m.group(1) for k in state if (m := re.match(rf"mapper\.{part}\.layers\.(\d+)\.", k))})  # noqa: E731
    head = EditMapper(
        llm_dim=llm_dim, hidden=hidden, heads=EDIT_HEAD_HEADS,
        encoder_layers=layers("encoder"), decoder_layers=layers("decoder"),
        feed_forward=state["mapper.encoder.layers.0.linear1.weight"].shape[0] if "mapper.encoder.layers.0.linear1.weight" in state else 2048,
        queries=state["query"].shape[1], out_dim=state["hid2feat.weight"].shape[0],
    )
    _load_strictly(head, state, mllm_path, "the edit head's weights do not match MGIE's EditMapper", prefix)
    if "emb" not in mllm:
        raise CheckpointError(f"{mllm_path} has no 'emb' (the [1, 8, {llm_dim}] IMG embeddings demo.ipynb passes to the edit head).")
    emb = mllm["emb"]
    # demo.ipynb's checkpoint has [1, 8, 4096]; a re-saved one may have dropped the batch axis.
    if tuple(emb.shape) == (len(IMG_TOKENS), llm_dim):
        log.info("%s: 'emb' is [%d, %d]; read as [1, %d, %d], the shape demo.ipynb passes", mllm_path.name, len(IMG_TOKENS), llm_dim, len(IMG_TOKENS), llm_dim)
        emb = emb[None]
    _expect_shape(emb, (1, len(IMG_TOKENS), llm_dim), mllm_path, "emb", f"[{len(IMG_TOKENS)}, {llm_dim}] is accepted too; anything else is not MGIE's IMG embeddings.")
    return head.to(dtype), emb


def _choose_img_embeddings(llm: nn.Module, img_ids: list[int], emb: torch.Tensor, mllm_path: Path, dtype: torch.dtype) -> torch.Tensor:
    """The edit head's IMG embeddings, as demo.ipynb gives them: mllm.pt's `emb` (EMB = ckpt['emb']), baked
    into the bundle's edit head. MGIE's training used the embedding table's last 8 rows (mgie_llava.py), so
    the two should agree; the log says which rows were used and how far they are from the table's."""
    table = llm.get_input_embeddings().weight[torch.tensor(img_ids)].detach().to(torch.float32)
    rows = emb[0].to(torch.float32)
    diff = (table - rows).abs().max().item()
    relation = "equal to" if diff == 0 else f"within {diff:.3g} of" if diff <= 1e-3 * (rows.abs().max().item() or 1.0) else f"DIFFERENT (up to {diff:.4g}) from"
    log.info("IMG embeddings for the edit head: the 8 rows of %s 'emb' (as demo.ipynb passes them), %s the embedding table's rows %d..%d",
             mllm_path.name, relation, img_ids[0], img_ids[-1])
    return emb[0].to(dtype)


# ----------------------------------------------------------------------------------------------------------
# CLIP, VAE, UNet, scheduler
# ----------------------------------------------------------------------------------------------------------

def _resolve_clip_dir(clip_dir: Path | None, llava_dir: Path, raw: dict) -> Path | str:
    if clip_dir is not None:
        return Path(clip_dir)
    name = raw.get("mm_vision_tower", "openai/clip-vit-large-patch14")
    if Path(name).is_dir():
        return Path(name)
    sibling = llava_dir.parent / name.rsplit("/", 1)[-1]
    if (sibling / "config.json").is_file():
        return sibling
    return name  # only the local Hugging Face cache is searched (local_files_only)


def _load_vision(clip_ref: Path | str, raw: dict, llava_config: Path, dtype: torch.dtype):
    from transformers import CLIPVisionModel

    try:
        vision, info = CLIPVisionModel.from_pretrained(str(clip_ref), local_files_only=True, dtype=dtype, output_loading_info=True)
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"Cannot load the CLIP vision tower from {clip_ref} without downloading ({error}). Pass --clip DIR with a local "
            "copy of openai/clip-vit-large-patch14 (config.json, weights, preprocessor_config.json), see models/README.md."
        ) from error
    if info.get("missing_keys"):
        raise CheckpointError(f"{clip_ref}: CLIP vision weights missing: {', '.join(sorted(info['missing_keys'])[:4])}. Copy the CLIP folder again.")
    config = vision.config
    if config.hidden_size != raw["mm_hidden_size"]:
        raise CheckpointError(f"{clip_ref}: CLIP hidden size {config.hidden_size}, but {llava_config} has mm_hidden_size {raw['mm_hidden_size']}: not the tower LLaVA was trained with ({raw.get('mm_vision_tower')}).")
    # CLIPImageProcessor settings of the tower (demo.ipynb preprocesses with them)
    mean, std = BundleSettings.__dataclass_fields__["mean"].default, BundleSettings.__dataclass_fields__["std"].default
    if isinstance(clip_ref, Path):
        pre = clip_ref / "preprocessor_config.json"
    else:
        from huggingface_hub import try_to_load_from_cache
        cached = try_to_load_from_cache(clip_ref, "preprocessor_config.json")
        pre = Path(cached) if isinstance(cached, str) else None
    if pre is not None and pre.is_file():
        data = _read_json(pre, "")
        mean, std = tuple(data.get("image_mean", mean)), tuple(data.get("image_std", std))
        crop = data.get("crop_size", config.image_size)
        crop = crop.get("height", config.image_size) if isinstance(crop, dict) else crop
        if crop != config.image_size:
            raise CheckpointError(f"{pre}: crop_size {crop} differs from the model's image_size {config.image_size}.")
    return vision.eval().requires_grad_(False), mean, std


def _ip2p_paths(ip2p_dir: Path) -> dict[str, Path]:
    paths = {
        "vae": ip2p_dir / "vae" / "config.json",
        "unet": ip2p_dir / "unet" / "config.json",
        "scheduler": ip2p_dir / "scheduler" / "scheduler_config.json",
    }
    missing = [str(p.relative_to(ip2p_dir)) for p in paths.values() if not p.is_file()]
    if missing:
        raise CheckpointError(
            f"{ip2p_dir} lacks {', '.join(missing)}: point --ip2p at a local copy of timbrooks/instruct-pix2pix "
            "(folders vae/ with its weights, unet/ with config.json, scheduler/), see models/README.md."
        )
    return paths


def _load_vae(ip2p_dir: Path, dtype: torch.dtype):
    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(str(ip2p_dir), subfolder="vae", local_files_only=True, torch_dtype=dtype)
    except (OSError, ValueError, EnvironmentError) as error:
        raise CheckpointError(f"{ip2p_dir / 'vae'}: cannot load the InstructPix2Pix VAE ({error}). Copy the vae/ folder with its weights.") from error
    if vae.config.latent_channels != 4:
        raise CheckpointError(f"{ip2p_dir / 'vae' / 'config.json'}: latent_channels {vae.config.latent_channels}, expected 4 (Stable Diffusion 1.5 VAE).")
    return vae.eval().requires_grad_(False)


def _load_unet(ip2p_dir: Path, unet_path: Path, edit_dim: int, dtype: torch.dtype):
    from diffusers import UNet2DConditionModel

    config = UNet2DConditionModel.load_config(str(ip2p_dir), subfolder="unet", local_files_only=True)
    if config.get("in_channels") != 8:
        raise CheckpointError(f"{ip2p_dir / 'unet' / 'config.json'}: in_channels {config.get('in_channels')}, expected 8 (InstructPix2Pix: noisy latent + image latent).")
    if config.get("cross_attention_dim") != edit_dim:
        raise CheckpointError(f"{ip2p_dir / 'unet' / 'config.json'}: cross_attention_dim {config.get('cross_attention_dim')}, but the edit head gives {edit_dim} features.")
    unet = UNet2DConditionModel.from_config(config)
    state = _read_tensors(unet_path)
    _load_strictly(unet, state, unet_path, f"not a full UNet state dict for {ip2p_dir / 'unet' / 'config.json'} (demo.ipynb loads it strictly)")
    return unet.to(dtype).eval().requires_grad_(False)


def _scheduler_settings(path: Path) -> dict:
    """The manifest's scheduler entry from InstructPix2Pix's scheduler_config.json, with diffusers' defaults."""
    from diffusers import EulerAncestralDiscreteScheduler

    raw = _read_json(path, "Copy the scheduler/ folder of timbrooks/instruct-pix2pix.")
    if raw.get("_class_name") != "EulerAncestralDiscreteScheduler":
        raise CheckpointError(f"{path}: {raw.get('_class_name')}; the reference pipeline (timbrooks/instruct-pix2pix) uses EulerAncestralDiscreteScheduler.")
    if raw.get("trained_betas") is not None:
        raise CheckpointError(f"{path}: trained_betas are set; the bundle format describes betas by a schedule only.")
    config = EulerAncestralDiscreteScheduler.from_config(raw).config
    if config.beta_schedule not in ("linear", "scaled_linear") or config.prediction_type != "epsilon" or getattr(config, "rescale_betas_zero_snr", False):
        raise CheckpointError(f"{path}: beta_schedule {config.beta_schedule}, prediction_type {config.prediction_type}: not what the runtime implements.")
    return {
        "type": "euler-ancestral",
        "numTrainTimesteps": int(config.num_train_timesteps),
        "betaStart": float(config.beta_start),
        "betaEnd": float(config.beta_end),
        "betaSchedule": config.beta_schedule,
        "timestepSpacing": config.timestep_spacing,
        "stepsOffset": int(config.steps_offset),
        "predictionType": config.prediction_type,
    }


# ----------------------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------------------

def _mgie_file(mgie_dir: Path, name: str) -> Path:
    for candidate in (mgie_dir / name, mgie_dir / "mgie_7b" / name):
        if candidate.is_file():
            return candidate
    raise CheckpointError(
        f"{mgie_dir} has no {name}: point --mgie at the folder extracted from Apple's mgie_7b.tar.gz "
        "(it holds mllm.pt and unet.pt), see models/README.md."
    )


def load_real_models(llava_dir: Path, mgie_dir: Path, ip2p_dir: Path, clip_dir: Path | None = None, *,
                     tokenizer_dir: Path | None = None, dtype: torch.dtype = torch.float32) -> MgieTorchModels:
    """Every module of demo.ipynb, from local folders, as MgieTorchModels (eval mode, `dtype`, on the CPU).

    llava_dir: LLaVA-7B v1 (the LLaVA-Lightning-7B v1.1 delta applied to LLaMA-7B): config.json, weights,
        tokenizer files. mgie_dir: mllm.pt and unet.pt. ip2p_dir: timbrooks/instruct-pix2pix (vae/, unet/config.json,
        scheduler/). clip_dir: openai/clip-vit-large-patch14; when None, LLaVA's mm_vision_tower as a local path, a
        sibling folder of llava_dir with its name, or the local Hugging Face cache. tokenizer_dir: a folder made by
        prepare_tokenizer_dir; when None one is made in a new temporary folder.
    A 7B model in float32 needs about 28 GB of RAM (float16: 14 GB).
    """
    llava_dir, mgie_dir, ip2p_dir = Path(llava_dir), Path(mgie_dir), Path(ip2p_dir)
    for folder, flag in ((llava_dir, "--llava"), (mgie_dir, "--mgie"), (ip2p_dir, "--ip2p")):
        if not folder.is_dir():
            raise CheckpointError(f"{folder} is not a folder ({flag}); see models/README.md for the layout.")
    raw = _llava_config(llava_dir)
    token_ids = checkpoint_token_ids(llava_dir)
    ip2p = _ip2p_paths(ip2p_dir)

    mllm_path = _mgie_file(mgie_dir, "mllm.pt")
    unet_path = _mgie_file(mgie_dir, "unet.pt")
    mllm = _read_tensors(mllm_path)

    llm, projector, ignored = _load_llm(llava_dir, mllm_path, mllm, dtype)
    if ignored:
        log.info("%s: ignored %d weights the demo does not take from it (e.g. %s)", llava_dir, len(ignored), ignored[0])
    img_ids = [token_ids[t] for t in IMG_TOKENS]
    if img_ids[-1] != llm.config.vocab_size - 1:
        raise CheckpointError(f"{mllm_path}: [IMG7] would be id {img_ids[-1]} but the embedding table ends at {llm.config.vocab_size - 1}.")
    edit_head, emb = _load_edit_head(mllm_path, mllm, raw["hidden_size"], dtype)
    img_embeddings = _choose_img_embeddings(llm, img_ids, emb, mllm_path, dtype)
    del mllm

    vision, mean, std = _load_vision(_resolve_clip_dir(clip_dir, llava_dir, raw), raw, llava_dir / "config.json", dtype)
    vae = _load_vae(ip2p_dir, dtype)
    unet = _load_unet(ip2p_dir, unet_path, edit_head.hid2feat.out_features, dtype)
    scheduler = _scheduler_settings(ip2p["scheduler"])

    if tokenizer_dir is None:
        tokenizer_dir = prepare_tokenizer_dir(llava_dir, Path(tempfile.mkdtemp(prefix="mgie-tokenizer-")))
    else:
        _check_tokenizer_dir(Path(tokenizer_dir), token_ids)

    settings = BundleSettings(
        name=MGIE_7B_NAME, description=MGIE_7B_DESCRIPTION, license=MGIE_7B_LICENSE, tokenizer_dir=Path(tokenizer_dir),
        image_size=vision.config.image_size, mean=tuple(float(x) for x in mean), std=tuple(float(x) for x in std),
        scheduler=scheduler,
    )
    return MgieTorchModels(
        vision_tower=vision, projector=projector.eval().requires_grad_(False), llm=llm.eval().requires_grad_(False),
        edit_head=edit_head.eval().requires_grad_(False), img_token_ids=img_ids, vae=vae, unet=unet, settings=settings,
        img_embedding_override=img_embeddings,
    )


# ----------------------------------------------------------------------------------------------------------
# Tokenizer (the conversion itself is tokenizer_json.py: standard library only, so the Node tests run it)
# ----------------------------------------------------------------------------------------------------------

def _check_tokenizer_dir(tokenizer_dir: Path, token_ids: dict[str, int]) -> None:
    """A tokenizer folder passed in must hold every added token at the checkpoint's id."""
    tok_path = tokenizer_dir / "tokenizer.json"
    if not tok_path.is_file() or not (tokenizer_dir / "tokenizer_config.json").is_file():
        raise CheckpointError(f"{tokenizer_dir} lacks tokenizer.json or tokenizer_config.json: make it with prepare_tokenizer_dir.")
    tok = json.loads(tok_path.read_text(encoding="utf-8"))
    if (tok.get("pre_tokenizer") or {}).get("type") == "Metaspace":
        # what prepare_tokenizer_dir wrote before 2026-11-29, with merges ranked by id (tokenizer_json.bpe_merges)
        raise CheckpointError(f"{tok_path} was made by an older prepare_tokenizer_dir, which merged whitespace and leading spaces unlike LLaMA. Re-make it with prepare_tokenizer_dir.")
    have = {e["content"]: e["id"] for e in tok.get("added_tokens", [])}
    wrong = [f"{t} (expected {i}, found {have.get(t)})" for t, i in token_ids.items() if have.get(t) != i]
    if wrong:
        raise CheckpointError(f"{tok_path}: wrong or missing added tokens: {', '.join(wrong[:4])}. Re-make it with prepare_tokenizer_dir.")


def prepare_tokenizer_dir(llava_dir: Path, out_dir: Path) -> Path:
    """Writes out_dir/tokenizer.json and tokenizer_config.json from LLaVA's SentencePiece model, with <im_patch>
    <im_start> <im_end> [IMG0]..[IMG7] at the checkpoint's ids, encoding like the demo's slow tokenizer.

    tokenizer_json.write_tokenizer_dir does the conversion (its docstring says how). write_token_parity then
    records the demo tokenizer's ids, which test/models/token-parity.test.ts compares with the runtime's.
    """
    llava_dir, out_dir = Path(llava_dir), Path(out_dir)
    sp_model = llava_dir / "tokenizer.model"
    if not sp_model.is_file():
        raise CheckpointError(f"{sp_model} is missing: the LLaVA folder must hold LLaMA's SentencePiece model (apply_delta copies it).")
    token_ids = checkpoint_token_ids(llava_dir)
    return write_tokenizer_dir(read_sentencepiece_model(sp_model), token_ids, out_dir)
