"""Runs the TypeScript runtime and the PyTorch reference on the same tiny models and compares them.

    source /work/hfenv/env.sh   # or any Python with torch, transformers, diffusers, pillow (VERIFICATION.md)
    python3 -m models.export.compare_with_runtime [--steps 10] [--seed 0] [--noise generator [--noise-seed 13331]]

Tiny random models of the real architectures are exported through the same code path as the real
weights; then, for each instruction and scheduler, both sides start from the same prompt ids (the
runtime's tokenizer; token parity is checked separately) and the same noise:
- `--noise initial` (the default): the same initial noise, saved by torch.randn as .npy and given to the
  runtime with --initial-noise; the deterministic schedulers only (DDIM, Euler).
- `--noise generator`: no noise file. The reference gets the notebook's generator argument,
  torch.Generator().manual_seed(seed) (on the CPU: demo.ipynb's is a CUDA generator, whose numbers
  differ), and the runtime the same --seed; each side draws its initial latents and Euler Ancestral's
  step noise itself. DDIM, Euler and Euler Ancestral.
The generated ids and the IMG position must be identical and the images within IMAGE_TOLERANCE.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .export_bundle import export_bundle
from .reference_pipeline import run_reference
from .tiny_models import build_tiny_models
from .token_parity import DEMO_INSTRUCTIONS

REPO = Path(__file__).resolve().parents[2]
#: Largest allowed difference of one 8-bit channel. The two sides run the same float32 graphs on
#: different kernels (ONNX Runtime vs PyTorch), so latents differ by about 1e-6 relative; after the
#: VAE and rounding to 8 bits that moves a few pixels by one level. Anything structural is far above.
IMAGE_TOLERANCE = 2
#: The edit size and the tiny CLIP's input size (a multiple of the bundle's sizeMultiple, 64).
EDIT_SIZE = 64
#: demo.ipynb's SEED.
NOTEBOOK_SEED = 13331


def test_image(width: int, height: int | None = None) -> np.ndarray:
    """A deterministic picture with structure: gradients and a disc (square unless a height is given)."""
    height = width if height is None else height
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2
    red = np.where(disc, 230, 255 * x / width)
    green = np.where(disc, 40, 255 * y / height)
    return np.stack([red, green, np.full_like(x, 128)], axis=-1).round().astype(np.uint8)


def runtime_prompt_ids(bundle: Path, instructions: list[str]) -> dict:
    out = subprocess.run(["npx", "tsx", "models/export/prompt-ids.ts", str(bundle), *instructions],
                         cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def runtime_edit(bundle: Path, image_path: Path, instruction: str, noise_path: Path | None, out_path: Path, steps: int,
                 size: int, scheduler: str, guidance: float, image_guidance: float, seed: int = 0) -> dict:
    command = ["node", "companion-server/cli/mgie.js", "edit", "--bundle", str(bundle), "--image", str(image_path),
               "--instruction", instruction, "--out", str(out_path), "--steps", str(steps), "--size", str(size),
               "--scheduler", scheduler, "--guidance", str(guidance), "--image-guidance", str(image_guidance),
               *(["--initial-noise", str(noise_path)] if noise_path is not None else []), "--seed", str(seed), "--json"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"mgie edit failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=REPO / ".bundles" / "mgie-tiny-torch")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instructions", type=int, default=5, help="how many of the 20 demo instructions")
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--image-guidance", type=float, default=1.5)
    parser.add_argument("--noise", choices=("initial", "generator"), default="initial",
                        help="initial: the same .npy start noise on both sides (DDIM, Euler); generator: each side "
                             "draws from torch.Generator().manual_seed(--noise-seed) (DDIM, Euler, Euler Ancestral)")
    parser.add_argument("--noise-seed", type=int, default=NOTEBOOK_SEED, help="the generator's seed (default: the notebook's)")
    args = parser.parse_args()
    from_generator = args.noise == "generator"
    schedulers = ("ddim", "euler", "euler-ancestral") if from_generator else ("ddim", "euler")

    started = time.perf_counter()
    # CLIP at the edit size: neither side resamples the picture, so PIL's and sharp's bicubic filters
    # (a difference of their own, not of the model stages compared here) do not enter the comparison.
    models = build_tiny_models(tokenizer_dir=REPO / ".bundles" / "mgie-tiny", seed=args.seed, image_size=EDIT_SIZE)
    export_bundle(models, args.bundle)
    print(f"exported {args.bundle} in {time.perf_counter() - started:.1f} s")
    size = EDIT_SIZE
    image = test_image(size)
    instructions = DEMO_INSTRUCTIONS[: args.instructions]
    ids = runtime_prompt_ids(args.bundle, instructions)
    latent_side = size // 2 ** (len(models.vae.config.block_out_channels) - 1)
    failures = []
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        image_path = work / "input.png"
        Image.fromarray(image).save(image_path)
        for case, prompt in enumerate(ids["prompts"]):
            for scheduler in schedulers:
                out_path = work / "out.png"
                if from_generator:
                    # as the notebook: the same seed for every picture, the generator handed to the pipeline
                    noise, noise_path, generator = None, None, torch.Generator().manual_seed(args.noise_seed)
                else:
                    generator = torch.Generator().manual_seed(1000 * args.seed + case)
                    noise = torch.randn(1, models.vae.config.latent_channels, latent_side, latent_side, generator=generator).numpy()
                    noise_path, generator = work / "noise.npy", None
                    np.save(noise_path, noise.astype(np.float32))
                reference = run_reference(models, prompt["ids"], ids["tokenIds"], image, noise, args.steps, args.guidance,
                                          args.image_guidance, scheduler, generator)
                runtime = runtime_edit(args.bundle, image_path, prompt["instruction"], noise_path, out_path, args.steps, size,
                                       scheduler, args.guidance, args.image_guidance, args.noise_seed if from_generator else 0)
                ours = np.asarray(Image.open(out_path).convert("RGB"))
                diff = np.abs(ours.astype(np.int16) - reference.image.astype(np.int16))
                same_ids = runtime["generatedIds"] == reference.generated_ids
                same_start = runtime["imgHiddenStart"] == reference.img_start
                rows.append((prompt["instruction"], scheduler, len(reference.generated_ids), same_ids, same_start,
                             int(diff.max()), float(diff.mean()), float((diff > 0).mean())))
                if not (same_ids and same_start and diff.max() <= IMAGE_TOLERANCE):
                    failures.append(f"{prompt['instruction']!r} {scheduler}: ids {'same' if same_ids else 'DIFFER'}, "
                                    f"IMG start {runtime['imgHiddenStart']} vs {reference.img_start}, max pixel diff {diff.max()}")

    print(f"\n{'instruction':42} {'sched':15} {'tokens':>6} {'ids':>5} {'IMG p':>5} {'max':>4} {'mean':>7} {'changed':>8}")
    for instruction, scheduler, tokens, same_ids, same_start, max_diff, mean_diff, changed in rows:
        print(f"{instruction[:42]:42} {scheduler:15} {tokens:6d} {'same' if same_ids else 'DIFF':>5} "
              f"{'same' if same_start else 'DIFF':>5} {max_diff:4d} {mean_diff:7.4f} {changed:8.2%}")
    noise = f"torch.Generator().manual_seed({args.noise_seed}) on both sides" if from_generator else "the same initial noise (.npy)"
    print(f"\n{len(rows)} comparisons, noise from {noise}, {args.steps} steps, guidance {args.guidance}/{args.image_guidance}, "
          f"image tolerance {IMAGE_TOLERANCE}/255, {time.perf_counter() - started:.1f} s")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
