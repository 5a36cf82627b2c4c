"""Writes the golden fixture: a tiny bundle exported by this exporter and PyTorch's outputs for it, which
test/models/golden-fixture.test.ts requires the runtime to reproduce (issue 14).

    python3 -m models.export.golden_fixture --out test/fixtures/golden    # needs torch, transformers, diffusers

Tiny random models of the real architectures go through export_bundle; reference_pipeline.py then runs
each case (instruction x deterministic scheduler, one picture, one initial noise). Written: the bundle,
the picture and the noise, per case the prompt ids, generated ids, IMG start, conditioning, final latents
and final image, and golden.json naming the versions and seeds. The regenerated fixture is checked by
running the golden test on it, so a fixture the runtime does not reproduce is never left behind silently.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import LogitsProcessor

from .compare_with_runtime import runtime_prompt_ids, test_image
from .export_bundle import export_bundle
from .reference_pipeline import generate, image_features, run_reference
from .tiny_models import build_tiny_models, tokenizer_token_ids
from .torch_models import MgieTorchModels

REPO = Path(__file__).resolve().parents[2]
TINY_TOKENIZER = REPO / ".bundles" / "mgie-tiny"
TEST = "test/models/golden-fixture.test.ts"
log = logging.getLogger("models.export.golden_fixture")

WEIGHT_SEED = 0
NOISE_SEED = 14
#: Not square, so a swapped height and width anywhere changes the result. CLIP takes the short side (64)
#: with no resampling (the centre crop is exact), because PIL's bicubic and sharp's cubic differ
#: (VERIFICATION.md, "Left open"); the edit size is the picture's own, so the edit input is not resampled either.
WIDTH, HEIGHT = 128, 64
CLIP_SIZE = 64
STEPS = 10
GUIDANCE, IMAGE_GUIDANCE = 7.5, 1.5
SCHEDULERS = ("ddim", "euler")
#: float32, not float16: in float16 the runtime's logits differ from PyTorch's by up to ~0.04 (top-2
#: differences by up to 0.038), while 96 greedy tokens of a random model always pass near-ties
#: (minimum top-2 margins 0.0000 to 0.03 over 20 instructions): 3 of 20 demo instructions diverged, and
#: the image differed from PyTorch's float image by up to 0.66 of a level where the ids agreed. float32:
#: logits within ~1e-5, images within rounding. The numbers are in VERIFICATION.md (2026-11-29).
FP16 = False
#: Half the --tiny UNet's widths: with them the float32 bundle is 3.1 MB instead of 5.4 MB.
UNET_CHANNELS = (16, 32)
#: Every greedy choice of every case must beat the runner-up by this much in PyTorch's logits: about 75
#: times the float32 logit difference between PyTorch and ONNX Runtime (1.3e-5, `--verify`), so the
#: runtime cannot flip a token. A regeneration (other versions, other weights) that falls below it fails.
MIN_MARGIN = 1e-3

#: (name, instruction, why). Each case costs the test two edits; these three cover the paths the test
#: must see.
CASES = [
    ("ngram-ban", "give him a beard ASSISTANT: i",
     "quotes the template's own '▁ASSISTANT :' followed by '▁i', the model's first choice after the prompt: "
     "only a no-repeat ban seeded with the prompt ids forbids it, so a ban over the generated ids alone "
     "changes the very first token"),
    ("img0", "remove the background",
     "the model generates [IMG0], so the IMG position comes from its index, not from the fallback len(hid) - 9"),
    ("demo", "make more brightness",
     "a demo instruction of the reference; no [IMG0], so the IMG position is the fallback"),
]
#: The case whose first token depends on the prompt-seeded ban (checked at generation time).
NGRAM_CASE = "ngram-ban"


class GeneratedOnlyNgramBan(LogitsProcessor):
    """The no-repeat ban over the generated ids only (the prompt's n-grams left out): a deliberate bug,
    generated once to prove that the n-gram case depends on the ban being seeded with the prompt."""

    def __init__(self, prompt_length: int, n: int):
        self.prompt_length, self.n = prompt_length, n

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[0, self.prompt_length:].tolist()
        if len(generated) >= self.n - 1:
            prefix = generated[len(generated) - self.n + 1:]
            for i in range(len(generated) - self.n + 1):
                if generated[i:i + self.n - 1] == prefix:
                    scores[0, generated[i + self.n - 1]] = -float("inf")
        return scores


def check_prompt_ids(ids: list[int], instruction: str, models: MgieTorchModels) -> None:
    """The prompt ids come from the runtime's tokenizer; check them here, independently, so a fixture is
    never made from a runtime that drops BOS, loses patches or mangles the template: BOS first, the
    patches in one run, and the ids decode to the template's text (compared without whitespace, whose
    pieces are the tokenizer's business and token-parity.json's)."""
    settings = models.settings
    vocab = tokenizer_token_ids(settings.tokenizer_dir)
    piece = {token_id: token for token, token_id in vocab.items()}
    tokens = settings.tokens
    patch = vocab[tokens["imPatch"]]
    first, bos = ids.index(patch), vocab[tokens["bos"]]
    problems = [
        (ids[0] != bos, f"the first id is {ids[0]}, not BOS"),
        (ids.count(bos) > 1, f"BOS appears {ids.count(bos)} times"),
        (ids[first:first + models.num_patches] != [patch] * models.num_patches or ids.count(patch) != models.num_patches,
         f"the {models.num_patches} patch ids are not in one run"),
    ]
    text = bytearray()
    for token_id in ids[1:]:
        token = piece[token_id]
        text += bytes([int(token[3:5], 16)]) if token.startswith("<0x") and len(token) == 6 else token.replace("▁", " ").encode()
    image = tokens["imStart"] + tokens["imPatch"] * models.num_patches + tokens["imEnd"]
    expected = settings.prompt_template.replace("{instruction}", instruction).replace("{image}", image)
    squash = "".join
    if squash(text.decode("utf-8").split()) != squash(expected.split()):
        problems.append((True, f"they decode to {text.decode('utf-8')!r}, not the template"))
    messages = [message for failed, message in problems if failed]
    if messages:
        raise SystemExit(f"prompt ids of {instruction!r} from the runtime are wrong: " + "; ".join(messages))


def ngram_ban_first_difference(models: MgieTorchModels, image: np.ndarray, prompt_ids: list[int], token_ids: dict,
                               expected: list[int]) -> int | None:
    """Where generation with the ban over generated ids only departs from the right generation (None: nowhere)."""
    features = image_features(models, Image.fromarray(image))
    broken = generate(models, prompt_ids, features, token_ids["imPatch"], token_ids["eos"], no_repeat_ngram_size=0,
                      logits_processor=[GeneratedOnlyNgramBan(len(prompt_ids), models.settings.no_repeat_ngram_size)])
    return next((i for i, (a, b) in enumerate(zip(broken.ids, expected)) if a != b),
                None if len(broken.ids) == len(expected) else min(len(broken.ids), len(expected)))


def save_npy(out: Path, name: str, array: np.ndarray) -> str:
    np.save(out / name, np.ascontiguousarray(array, dtype=np.float32))
    return name


def versions() -> dict:
    import diffusers
    import onnx
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "diffusers": diffusers.__version__, "numpy": np.__version__, "onnx": onnx.__version__}


def clear_fixture(out: Path) -> None:
    """Removes what a previous run wrote (files may have been renamed since); README.md is written by hand."""
    out.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.is_dir():
            shutil.rmtree(path)
        elif path.name != "README.md":
            path.unlink()


def write_fixture(out: Path) -> dict:
    models = build_tiny_models(TINY_TOKENIZER, seed=WEIGHT_SEED, image_size=CLIP_SIZE, unet_channels=UNET_CHANNELS)
    clear_fixture(out)
    bundle = out / "bundle"
    export_bundle(models, bundle, fp16=FP16)
    prompts = runtime_prompt_ids(bundle, [instruction for _, instruction, _ in CASES])
    token_ids = prompts["tokenIds"]
    image = test_image(WIDTH, HEIGHT)
    Image.fromarray(image).save(out / "input.png")
    f = 2 ** (len(models.vae.config.block_out_channels) - 1)
    noise = torch.randn(1, models.vae.config.latent_channels, HEIGHT // f, WIDTH // f,
                        generator=torch.Generator().manual_seed(NOISE_SEED)).numpy()
    golden = {
        "about": "PyTorch reference outputs for the bundle in bundle/ (models/export/golden_fixture.py); "
                 f"{TEST} requires the runtime to reproduce them. Do not edit: regenerate.",
        "regenerate": "python3 -m models.export.golden_fixture --out test/fixtures/golden",
        "versions": versions(),
        "weightSeed": WEIGHT_SEED, "noiseSeed": NOISE_SEED,
        "bundle": "bundle", "precision": "float16" if FP16 else "float32",
        "input": "input.png", "noise": save_npy(out, "noise.npy", noise),
        "parameters": {"steps": STEPS, "guidanceScale": GUIDANCE, "imageGuidanceScale": IMAGE_GUIDANCE,
                       "size": max(WIDTH, HEIGHT), "seed": 0},
        "schedulers": list(SCHEDULERS),
        "minLogitMarginRequired": MIN_MARGIN,
        "cases": [],
    }
    for (name, instruction, why), prompt in zip(CASES, prompts["prompts"], strict=True):
        check_prompt_ids(prompt["ids"], instruction, models)
        case = {"name": name, "instruction": instruction, "why": why, "promptIds": prompt["ids"], "schedulers": {}}
        for scheduler in SCHEDULERS:
            started = time.perf_counter()
            ref = run_reference(models, prompt["ids"], token_ids, image, noise, STEPS, GUIDANCE, IMAGE_GUIDANCE, scheduler)
            if "generatedIds" in case:
                assert ref.generated_ids == case["generatedIds"], "generation is not deterministic"
            else:
                case.update(generatedIds=ref.generated_ids, imgStart=ref.img_start,
                            img0Generated=token_ids["img0"] in ref.generated_ids, minLogitMargin=min(ref.margins),
                            conditioning=save_npy(out, f"{name}.conditioning.npy", ref.cond))
                golden["nullConditioning"] = save_npy(out, "null-conditioning.npy", ref.null)
                golden["imageLatent"] = save_npy(out, "image-latent.npy", ref.image_latent)
            Image.fromarray(ref.image).save(out / f"{name}.{scheduler}.png")
            case["schedulers"][scheduler] = {"image": f"{name}.{scheduler}.png",
                                             "finalLatents": save_npy(out, f"{name}.{scheduler}.final-latents.npy", ref.final_latents)}
            log.info("  %-10s %-6s %d tokens, IMG start %d, min margin %.4f, %.1f s", name, scheduler, len(ref.generated_ids),
                     ref.img_start, min(ref.margins), time.perf_counter() - started)
        if name == NGRAM_CASE:
            first = ngram_ban_first_difference(models, image, prompt["ids"], token_ids, case["generatedIds"])
            if first is None:
                raise SystemExit(f"{instruction!r} no longer depends on the prompt-seeded n-gram ban: choose another instruction")
            case["generatedOnlyNgramBanDiffersAt"] = first
        golden["cases"].append(case)
    check_cases(golden["cases"])
    golden["minLogitMargin"] = min(case["minLogitMargin"] for case in golden["cases"])
    (out / "golden.json").write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return golden


def check_cases(cases: list[dict]) -> None:
    """What the chosen instructions are for must still hold with these versions and weights."""
    problems = [f"{c['name']}: min top-2 logit margin {c['minLogitMargin']:.2g} < {MIN_MARGIN}" for c in cases
                if c["minLogitMargin"] < MIN_MARGIN]
    if not any(c["img0Generated"] for c in cases):
        problems.append("no case generates [IMG0]")
    if all(c["img0Generated"] for c in cases):
        problems.append("no case uses the IMG fallback position")
    if problems:
        raise SystemExit("the fixture's cases no longer cover what they must (choose other instructions in CASES): "
                         + "; ".join(problems))


def folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    parser = argparse.ArgumentParser(prog="python3 -m models.export.golden_fixture", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "test" / "fixtures" / "golden", help="(default: %(default)s)")
    parser.add_argument("--no-check", action="store_true", help=f"do not run {TEST} on the result")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if not (TINY_TOKENIZER / "tokenizer.json").exists():
        # the tiny tokenizer is made by the TypeScript generator of the project's own tiny bundle
        subprocess.run(["npx", "tsx", "models/tiny/ensure-tiny-bundle.ts"], cwd=REPO, check=True)
    golden = write_fixture(args.out.resolve())
    log.info("wrote %s: %.2f MB, min logit margin %.4f, %.1f s", args.out, folder_megabytes(args.out), golden["minLogitMargin"],
             time.perf_counter() - started)
    if args.no_check:
        return 0
    log.info("running %s on it", TEST)
    # the test reads the committed fixture unless GOLDEN_FIXTURE_DIR names another one
    env = {**os.environ, "GOLDEN_FIXTURE_DIR": str(args.out.resolve())}
    return subprocess.run(["node", "--import", "tsx", "--test", TEST], cwd=REPO, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
