"""Exports MGIE to a format-1 bundle (models/BUNDLE-FORMAT.md).

    python -m models.export --out DIR --tiny [--fp16] [--verify]
    python -m models.export --out DIR --llava DIR --mgie DIR --ip2p DIR [--clip DIR] [--fp16] [--verify]

--tiny builds tiny random models of the real architectures (tests, CI); otherwise the official checkpoints
are loaded (load_checkpoints.py) and token-parity.json is written next to the bundle (token_parity.py).
--verify runs seeded inputs through PyTorch and, via verify-bundle.ts, through the runtime's ONNX sessions,
and fails when they differ (needs Node and this repository's node_modules).
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

# Only the standard library up to here, so that --help and argument errors work before the heavy packages
# are installed; torch, transformers, diffusers and onnx are imported when a step needs them.
from .constants import EXTERNAL_DATA_THRESHOLD

if TYPE_CHECKING:
    from .torch_models import MgieTorchModels

REPO = Path(__file__).resolve().parents[2]
TINY_TOKENIZER = REPO / ".bundles" / "mgie-tiny"
REQUIREMENTS = "models/export/requirements.txt"
#: import name -> the requirement in requirements.txt that provides it
PACKAGES = {"torch": "torch", "transformers": "transformers", "diffusers": "diffusers", "onnx": "onnx",
            "safetensors": "safetensors", "sentencepiece": "sentencepiece", "numpy": "numpy", "PIL": "pillow",
            "google": "protobuf", "huggingface_hub": "huggingface-hub", "accelerate": "accelerate",
            "tokenizers": "tokenizers", "onnxruntime": "onnxruntime"}
log = logging.getLogger("models.export")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m models.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="bundle folder to write (created if needed)")
    parser.add_argument("--tiny", action="store_true", help="tiny random models instead of checkpoints")
    parser.add_argument("--tokenizer", type=Path, default=TINY_TOKENIZER,
                        help="--tiny: folder with tokenizer.json and tokenizer_config.json (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="--tiny weights and --verify inputs (default: 0)")
    parser.add_argument("--llava", type=Path, help="LLaVA-7B v1 folder (delta applied), with its tokenizer")
    parser.add_argument("--mgie", type=Path, help="folder with MGIE's mllm.pt and unet.pt")
    parser.add_argument("--ip2p", type=Path, help="timbrooks/instruct-pix2pix folder (vae/, unet/, scheduler/)")
    parser.add_argument("--clip", type=Path, help="openai/clip-vit-large-patch14 folder (default: found from LLaVA's config)")
    parser.add_argument("--fp16", action="store_true", help="float16 weights and activations (see export_bundle)")
    parser.add_argument("--external-data-mb", type=float, default=EXTERNAL_DATA_THRESHOLD / 1e6,
                        help="models with more weight megabytes keep them in <file>.data (default: %(default)g)")
    parser.add_argument("--verify", action="store_true", help="compare every model with PyTorch through the runtime")
    args = parser.parse_args(argv)
    if not args.tiny and None in (args.llava, args.mgie, args.ip2p):
        parser.error("give --llava, --mgie and --ip2p (or --tiny)")
    return args


def load_models(args: argparse.Namespace) -> MgieTorchModels:
    if args.tiny:
        from .tiny_models import build_tiny_models

        return build_tiny_models(args.tokenizer, seed=args.seed)
    # imported here: the checkpoint loader is only needed, and only has to exist, for real exports
    from .load_checkpoints import load_real_models

    return load_real_models(args.llava, args.mgie, args.ip2p, args.clip)


def write_parity(bundle_dir: Path, llava_dir: Path) -> None:
    """token-parity.json: the ids of the demo's own (slow) tokenizer, for the runtime's test to compare against."""
    from .load_checkpoints import checkpoint_token_ids
    from .token_parity import DemoSlowTokenizer, write_token_parity

    write_token_parity(bundle_dir, DemoSlowTokenizer(llava_dir / "tokenizer.model", checkpoint_token_ids(llava_dir)))


def verify(models: MgieTorchModels, bundle_dir: Path, fp16: bool, seed: int) -> int:
    from .verify_bundle import check_with_runtime, write_verify_cases

    cases = write_verify_cases(models, bundle_dir, "float16" if fp16 else "float32", seed=seed)
    log.info("verify cases written to %s; running them through the runtime", cases.parent)
    return check_with_runtime(bundle_dir)


def folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / 1e6


def needed_modules(args: argparse.Namespace) -> list[str]:
    """The packages this run imports: every export needs the first four."""
    modules = ["torch", "transformers", "diffusers", "onnx"]
    if not args.tiny:
        modules += ["safetensors", "sentencepiece"]  # checkpoint files, LLaVA's tokenizer.model
    if args.verify:
        modules += ["numpy"]
    return modules


def install_hint(packages: list[str]) -> str:
    names = ", ".join(packages)
    return (f"python -m models.export: missing Python package{'s' if len(packages) > 1 else ''}: {names}. "
            f"Install the exporter's packages (Python 3.10 or newer, preferably in a virtual environment) with:\n"
            f"  pip install -r {REQUIREMENTS}")


def preflight(args: argparse.Namespace) -> str | None:
    """What is missing before anything slow starts (packages, the tiny tokenizer, Node for --verify), or None."""
    missing = [PACKAGES[name] for name in needed_modules(args) if importlib.util.find_spec(name) is None]
    if missing:
        return install_hint(missing)
    if args.tiny and not (args.tokenizer / "tokenizer.json").is_file():
        return (f"python -m models.export: --tiny uses the tokenizer in {args.tokenizer}, which has no tokenizer.json. "
                "Generate the tiny bundle first with: npm install && npm run tiny-bundle (or pass --tokenizer DIR).")
    if args.verify and shutil.which("npx") is None:
        return ("python -m models.export: --verify runs the bundle through the runtime with Node (npx tsx), and npx "
                "is not on PATH. Install Node 22 or newer and run npm install in this repository, or leave out --verify.")
    return None


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    args = parse_args(argv)
    problem = preflight(args)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        return run(args)
    except ModuleNotFoundError as error:
        # a package that imports but lacks one of its own dependencies, or one not in needed_modules
        top = (error.name or "").split(".")[0]
        if top in ("", "models"):  # not a third-party package: a real bug, keep the traceback
            raise
        print(install_hint([PACKAGES.get(top, top)]), file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    from .export_bundle import export_bundle

    started = time.perf_counter()
    models = load_models(args)
    log.info("models ready in %.1f s; exporting to %s%s", time.perf_counter() - started, args.out, " (float16)" if args.fp16 else "")
    export_started = time.perf_counter()
    export_bundle(models, args.out, fp16=args.fp16, external_data_threshold=int(args.external_data_mb * 1e6))
    log.info("bundle written in %.1f s: %.1f MB", time.perf_counter() - export_started, folder_megabytes(args.out))
    if not args.tiny:
        write_parity(args.out, args.llava)
        log.info("token-parity.json written")
    status = verify(models, args.out, args.fp16, args.seed) if args.verify else 0
    log.info("%s in %.1f s", "done" if status == 0 else "VERIFY FAILED", time.perf_counter() - started)
    return status


if __name__ == "__main__":
    sys.exit(main())
