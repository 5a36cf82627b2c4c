"""MGIE inference in PyTorch, written from mgie-reference.md and diffusers' InstructPix2Pix loop, to
compare the TypeScript runtime against: the same modules (MgieTorchModels), the same prompt ids and the
same noise (given initial latents with a deterministic scheduler, or a seeded torch.Generator with any
scheduler, Euler Ancestral included) must give the same generated ids, the same IMG position and nearly
the same image.

Generation goes through transformers' own `generate` (greedy, no_repeat_ngram_size over the whole
sequence as LLaVA's generate sees it) and diffusion through diffusers' own InstructPix2Pix pipeline, so
each stage is an independent implementation, not a port of the runtime.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .torch_models import MgieTorchModels

NUM_IMG_TOKENS = 8


@dataclass
class Generation:
    ids: list[int]
    #: [len(prompt) + len(ids) - 1, D]: the final-norm hidden state of every position that was run
    hidden: torch.Tensor
    #: per generated token, top-1 minus top-2 of the processed logits (banned tokens excluded): how far
    #: that greedy choice is from a tie, i.e. how much numerical noise it can take
    margins: list[float]


@dataclass
class Diffusion:
    #: H x W x 3 uint8
    image: np.ndarray
    #: [1, C, h, w]: the image latent the pipeline conditions on (the mode, unscaled)
    image_latent: np.ndarray
    #: [1, C, h, w]: the latents after the last step, before the division by the scaling factor
    final_latents: np.ndarray


@dataclass
class ReferenceResult:
    generated_ids: list[int]
    #: where the IMG hidden states start in the sequence (the reference's p)
    img_start: int
    #: H x W x 3 uint8
    image: np.ndarray
    margins: list[float]
    #: [1, 77, dim]: edit_head(IMG hidden states) and edit_head(zeros)
    cond: np.ndarray
    null: np.ndarray
    image_latent: np.ndarray
    final_latents: np.ndarray


def clip_pixels(image: Image.Image, models: MgieTorchModels) -> torch.Tensor:
    """CLIP preprocessing: shortest side to S (bicubic), centre crop, [0,1], normalise."""
    size = models.settings.image_size
    width, height = image.size
    scale = size / min(width, height)
    resized = image.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.BICUBIC)
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    cropped = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
    mean, std = np.array(models.settings.mean, np.float32), np.array(models.settings.std, np.float32)
    return torch.from_numpy(((cropped - mean) / std).transpose(2, 0, 1)[None].copy())


@torch.no_grad()
def image_features(models: MgieTorchModels, image: Image.Image) -> torch.Tensor:
    """[P, D]: the penultimate CLIP layer without CLS, projected."""
    hidden = models.vision_tower(clip_pixels(image, models), output_hidden_states=True).hidden_states[-2]
    return models.projector(hidden[:, 1:])[0]


@torch.no_grad()
def generate(models: MgieTorchModels, prompt_ids: list[int], features: torch.Tensor, patch_id: int, eos_id: int,
             no_repeat_ngram_size: int | None = None, logits_processor: list | None = None) -> Generation:
    """Greedy generation as LLaVA runs it: input ids with the patch embeddings replaced on the first pass.

    The hidden states cover every position that was run (the last generated token is never run).
    `no_repeat_ngram_size` (default: the bundle's) and `logits_processor` are for golden_fixture.py,
    which generates once with a deliberately wrong n-gram ban to see that its inputs depend on the right one.
    """
    llm = models.llm
    ids = torch.tensor([prompt_ids])
    start = prompt_ids.index(patch_id)
    length = len(prompt_ids)

    def splice(_module, _args, output):
        if output.shape[1] != length:
            return output
        output = output.clone()
        output[0, start:start + features.shape[0]] = features
        return output

    states: list[torch.Tensor] = []
    hooks = [
        llm.get_input_embeddings().register_forward_hook(splice),
        # the final RMSNorm's output is lm_head's input (generate may run lm_head on the last position only)
        llm.model.norm.register_forward_hook(lambda _m, _a, out: states.append(out[0].clone())),
    ]
    try:
        out = llm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=models.settings.max_new_tokens,
                           do_sample=False, num_beams=1,
                           no_repeat_ngram_size=models.settings.no_repeat_ngram_size if no_repeat_ngram_size is None else no_repeat_ngram_size,
                           eos_token_id=eos_id, pad_token_id=eos_id, logits_processor=logits_processor,
                           output_scores=True, return_dict_in_generate=True)
    finally:
        for hook in hooks:
            hook.remove()
    margins = [float(top[0] - top[1]) for top in (torch.topk(scores[0], 2).values for scores in out.scores)]
    return Generation(ids=out.sequences[0, length:].tolist(), hidden=torch.cat(states, dim=0), margins=margins)


def img_position(sequence: list[int], hidden_rows: int, img0_id: int) -> int:
    """The reference's p = min(index([IMG0]) - 1 if present else len(hid) - 9, len(hid) - 9)."""
    fallback = hidden_rows - (NUM_IMG_TOKENS + 1)
    return min(sequence.index(img0_id) - 1 if img0_id in sequence else fallback, fallback)


def make_scheduler(name: str, settings: dict):
    from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler

    config = dict(num_train_timesteps=settings["numTrainTimesteps"], beta_start=settings["betaStart"], beta_end=settings["betaEnd"],
                  beta_schedule=settings["betaSchedule"], timestep_spacing=settings["timestepSpacing"],
                  steps_offset=settings["stepsOffset"], prediction_type=settings["predictionType"])
    if name == "ddim":
        # as the runtime documents its DDIM: eta 0, no clipping, alpha at t < 0 is alphas_cumprod[0]
        return DDIMScheduler(**config, clip_sample=False, set_alpha_to_one=False)
    if name == "euler":
        return EulerDiscreteScheduler(**config)
    if name == "euler-ancestral":
        # stochastic: comparable only when both sides draw from the same generator (run_reference's generator)
        return EulerAncestralDiscreteScheduler(**config)
    raise ValueError(f"unknown scheduler {name}")


@torch.no_grad()
def diffuse(models: MgieTorchModels, image: np.ndarray, cond: torch.Tensor, null: torch.Tensor, noise: np.ndarray | None,
            steps: int, guidance_scale: float, image_guidance_scale: float, scheduler_name: str,
            generator: torch.Generator | None = None) -> Diffusion:
    """diffusers' own InstructPix2Pix pipeline with MGIE's conditioning in place of CLIP text embeddings:
    it batches [cond, null, null] with [img, img, 0] and encodes the image with the latent mode.
    `noise` (unit variance) replaces the initial draw; `generator` is passed as the notebook passes its
    own, so the pipeline draws the initial latents (when no noise is given) and the ancestral noise from it.

    The image latent and the final latents are read from inside the pipeline (its own values, not a
    recomputation), so a comparison can tell the encode, denoise and decode stages apart."""
    from diffusers import StableDiffusionInstructPix2PixPipeline

    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=models.vae, text_encoder=None, tokenizer=None, unet=models.unet, scheduler=make_scheduler(scheduler_name, models.settings.scheduler),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    seen: dict[str, torch.Tensor] = {}
    prepare_image_latents = pipeline.prepare_image_latents

    def keep_image_latent(*args, **kwargs):
        latents = prepare_image_latents(*args, **kwargs)  # [img, img, 0] under guidance
        seen["image_latent"] = latents[:1].clone()
        return latents

    def keep_latents(_pipeline, _step, _timestep, tensors):
        seen["final_latents"] = tensors["latents"].clone()  # the last call leaves the final latents
        return tensors

    pipeline.prepare_image_latents = keep_image_latent
    result = pipeline(image=Image.fromarray(image), prompt_embeds=cond, negative_prompt_embeds=null, num_inference_steps=steps,
                      guidance_scale=guidance_scale, image_guidance_scale=image_guidance_scale,
                      latents=None if noise is None else torch.from_numpy(noise), generator=generator,
                      output_type="np", callback_on_step_end=keep_latents, callback_on_step_end_tensor_inputs=["latents"])
    return Diffusion(image=(result.images[0] * 255).round().astype(np.uint8), image_latent=seen["image_latent"].numpy(),
                     final_latents=seen["final_latents"].numpy())


@torch.no_grad()
def run_reference(models: MgieTorchModels, prompt_ids: list[int], token_ids: dict, image: np.ndarray, noise: np.ndarray | None,
                  steps: int, guidance_scale: float, image_guidance_scale: float, scheduler: str,
                  generator: torch.Generator | None = None) -> ReferenceResult:
    """One MGIE edit. `image` is H x W x 3 uint8 at the edit size; `token_ids` holds imPatch, eos and img0.
    Give the initial `noise`, or None and a seeded `generator` (see `diffuse`)."""
    features = image_features(models, Image.fromarray(image))
    generation = generate(models, prompt_ids, features, token_ids["imPatch"], token_ids["eos"])
    hidden, sequence = generation.hidden, prompt_ids + generation.ids
    assert hidden.shape[0] == len(sequence) - 1, f"{hidden.shape[0]} hidden states for {len(sequence)} tokens"
    start = img_position(sequence, hidden.shape[0], token_ids["img0"])
    img_emb = models.img_embeddings()[None]
    cond = models.edit_head(hidden[start:start + NUM_IMG_TOKENS][None], img_emb)
    null = models.edit_head(torch.zeros_like(hidden[:NUM_IMG_TOKENS])[None], img_emb)
    edited = diffuse(models, image, cond, null, noise, steps, guidance_scale, image_guidance_scale, scheduler, generator)
    return ReferenceResult(generated_ids=generation.ids, img_start=start, image=edited.image, margins=generation.margins,
                           cond=cond.numpy(), null=null.numpy(), image_latent=edited.image_latent,
                           final_latents=edited.final_latents)
