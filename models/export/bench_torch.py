"""The runtime benchmark's stages in PyTorch (`npm run bench -- --bundle DIR --torch` runs this):

    python -m models.export.bench_torch --bundle DIR --threads 2 --prompt-tokens 312 --decode-tokens 16 \
        --sizes 256,512 --steps 3,3

on the weights the bundle was exported from: the bundle must come from `python -m models.export --random-init`,
whose manifest records the seed and the LLM depth (export.randomInit), so RandomInit rebuilds the same modules
one at a time. The modules are transformers' and diffusers' own (CLIPVisionModel, LlamaForCausalLM,
AutoencoderKL, UNet2DConditionModel, as the reference pipeline runs them), in float32 on the CPU with
`--threads` intra-op threads, under inference_mode, with transformers' default attention (SDPA).

Each stage is timed as the runtime's benchmark times it: vision, prefill, decode and edit head after one warm-up
run (the runtime's figures for them come from its last, warm edit); per size, the VAE encoder and decoder once
each and the UNet `steps` times at batch 3 (InstructPix2Pix's three-way guidance), its first step left out of the
median. A quantized decoder is timed on the float weights it was quantized from: PyTorch has no MatMulNBits, and
what the same decoder takes there in float32 is the comparison. A decoder too deep to hold in float32 here (more than --max-float-layers) is
timed at 2 and 4 layers and extrapolated linearly in the layer count, which the output says.

Prints one JSON line (test/bench/torch-stage-times.ts reads it); progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed_ms(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def warm_ms(run: Callable[[], object], repeats: int = 2) -> float:
    """Median of `repeats` runs after one warm-up run."""
    run()
    return statistics.median(timed_ms(run) for _ in range(repeats))


def decoder_times(llm, prompt_tokens: int, decode_tokens: int) -> tuple[float, float]:
    """(prefill ms, decode ms per token) of LlamaForCausalLM with its KV cache, as generate() runs it."""
    hidden = llm.config.hidden_size
    embeds = torch.randn(1, prompt_tokens, hidden) * 0.02

    def prefill():
        return llm(inputs_embeds=embeds, use_cache=True, output_hidden_states=True)

    prefill_ms = warm_ms(prefill, repeats=1)
    out = prefill()
    past = out.past_key_values
    next_id = out.logits[:, -1].argmax(-1, keepdim=True)
    per_token = []
    for _ in range(decode_tokens):
        started = time.perf_counter()
        step = llm(inputs_embeds=llm.model.embed_tokens(next_id), past_key_values=past, use_cache=True, output_hidden_states=True)
        past = step.past_key_values
        next_id = step.logits[:, -1].argmax(-1, keepdim=True)
        per_token.append((time.perf_counter() - started) * 1000)
    return prefill_ms, statistics.mean(per_token[1:] if len(per_token) > 1 else per_token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.export.bench_torch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--prompt-tokens", type=int, required=True)
    parser.add_argument("--decode-tokens", type=int, default=16)
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--steps", default="3,3")
    parser.add_argument("--max-float-layers", type=int, default=4,
                        help="deeper decoders are timed at 2 and 4 layers and extrapolated (default: %(default)s)")
    args = parser.parse_args(argv)

    import diffusers
    import transformers

    from .random_models import RandomInit

    manifest = json.loads((args.bundle / "mgie-bundle.json").read_text(encoding="utf-8"))
    random_init = manifest.get("export", {}).get("randomInit")
    if not random_init:
        parser.error(f"{args.bundle} was not exported with --random-init (no export.randomInit in its manifest): "
                     "the PyTorch side cannot rebuild its weights")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    seed, layers = random_init["seed"], random_init["llmLayers"]
    sizes = [int(s) for s in args.sizes.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    result: dict = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                 "diffusers": diffusers.__version__},
                    "threads": torch.get_num_threads(), "stages": {}, "sizes": {str(s): {} for s in sizes}}
    stages, notes = result["stages"], []

    def init_with(llm_layers: int) -> RandomInit:
        return RandomInit(args.bundle, seed=seed, llm_layers=llm_layers)

    init = init_with(layers)
    with torch.inference_mode():
        with init.materialised("vision") as models:
            image_size = models.settings.image_size
            pixels = torch.randn(1, 3, image_size, image_size)
            stages["vision"] = warm_ms(lambda: models.projector(models.vision_tower(pixels, output_hidden_states=True).hidden_states[-2][:, 1:]))
            log(f"vision {stages['vision']:.0f} ms")

        if layers <= args.max_float_layers:
            with init.materialised("decoder") as models:
                models.llm.config._attn_implementation = "sdpa"
                stages["prefill"], stages["decodeToken"] = decoder_times(models.llm, args.prompt_tokens, args.decode_tokens)
        else:
            timings = {}
            for depth in (2, 4):
                with init_with(depth).materialised("decoder") as models:
                    models.llm.config._attn_implementation = "sdpa"
                    timings[depth] = decoder_times(models.llm, args.prompt_tokens, args.decode_tokens)
            per_layer = [(timings[4][i] - timings[2][i]) / 2 for i in range(2)]
            stages["prefill"], stages["decodeToken"] = (timings[2][i] + (layers - 2) * per_layer[i] for i in range(2))
            notes.append(f"PyTorch's {layers}-layer decoder would not fit in float32 here: timed at 2 and 4 layers and "
                         f"extrapolated linearly to {layers}")
        log(f"prefill {stages['prefill']:.0f} ms, decode {stages['decodeToken']:.1f} ms/token")

        with init.materialised("editHead") as models:
            img_hidden = torch.randn(1, 8, init.config.hidden_size)
            emb = models.img_embeddings()[None]
            stages["editHead"] = warm_ms(lambda: models.edit_head(img_hidden, emb))
            log(f"edit head {stages['editHead']:.0f} ms")

        with init.materialised("unet") as models:
            queries, dim = manifest["editHead"]["numQueries"], manifest["editHead"]["dim"]
            for size, count in zip(sizes, steps):
                latent = size // manifest["diffusion"]["vaeScaleFactor"]
                sample = torch.randn(3, 2 * manifest["diffusion"]["latentChannels"], latent, latent)
                context = torch.randn(3, queries, dim)
                timestep = torch.full((3,), 500.0)
                times = [timed_ms(lambda: models.unet(sample, timestep, encoder_hidden_states=context).sample) for _ in range(count)]
                result["sizes"][str(size)]["unetStep"] = statistics.median(times[1:] if len(times) > 1 else times)
                log(f"UNet {size} px: {', '.join(f'{t / 1000:.2f}' for t in times)} s/step")

        with init.materialised("vaeEncoder") as models:
            for size in sizes:
                image = torch.rand(1, 3, size, size) * 2 - 1
                at = result["sizes"][str(size)]
                at["vaeEncode"] = timed_ms(lambda: models.vae.encode(image).latent_dist.mode())
                factor = manifest["diffusion"]["vaeScaleFactor"]
                latent = torch.randn(1, manifest["diffusion"]["latentChannels"], size // factor, size // factor)
                at["vaeDecode"] = timed_ms(lambda: models.vae.decode(latent).sample)
                log(f"VAE {size} px: encode {at['vaeEncode']:.0f} ms, decode {at['vaeDecode']:.0f} ms")
    if notes:
        result["note"] = "; ".join(notes)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
