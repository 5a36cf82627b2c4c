"""Exports MGIE to a format-1 bundle (models/BUNDLE-FORMAT.md).

    python -m models.export --out DIR --tiny [--fp16] [--verify]
    python -m models.export --out DIR --random-init [--llm-layers N] [--fp16] [--llm-weights int4] [--verify]
    python -m models.export --out DIR --llava DIR --mgie DIR --ip2p DIR [--clip DIR] [--fp16] [--verify]

--tiny builds tiny random models of the real architectures (tests, CI); --random-init builds them at their
real size (CLIP ViT-L/14, LLaMA-7B's width and vocabulary, SD 1.5's UNet and VAE) with seeded random weights,
one model at a time, and exports an LLM of more than 2 layers layer by layer (streamed_decoder.py), so a
full-depth 7B exports in a few GB of RAM. Otherwise the official checkpoints are loaded (load_checkpoints.py)
and token-parity.json is written next to the bundle (token_parity.py).
--llm-weights int8/int4 stores the decoder's projections block-quantized for ONNX Runtime's MatMulNBits.
--verify runs seeded inputs through PyTorch and, via verify-bundle.ts, through the runtime's ONNX sessions,
and fails when they differ (needs Node and this repository's node_modules); a quantized decoder is compared
with PyTorch running on the same quantized-then-dequantized weights.
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
from .constants import EXTERNAL_DATA_THRESHOLD, LLM_FORMATS, SCHEMES

if TYPE_CHECKING:
    from .torch_models import MgieTorchModels

REPO = Path(__file__).resolve().parents[2]
TINY_TOKENIZER = REPO / ".bundles" / "mgie-tiny"
LLAMA_TOKENIZER = REPO / ".bundles" / "llama-tokenizer"
#: With --random-init, LLMs of more layers than this are exported layer by layer (streamed_decoder.TEMPLATE_LAYERS)
STREAM_ABOVE_LAYERS = 2
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
    parser.add_argument("--random-init", action="store_true",
                        help="MGIE 7B's architectures at their real size with seeded random weights, no checkpoints")
    parser.add_argument("--llm-layers", type=int, help="--random-init: LLaMA layers (default 32), at the real width")
    parser.add_argument("--tokenizer", type=Path,
                        help=f"--tiny/--random-init: folder with tokenizer.json and tokenizer_config.json (default: "
                             f"{TINY_TOKENIZER} for --tiny, {LLAMA_TOKENIZER} for --random-init)")
    parser.add_argument("--seed", type=int, default=0, help="random weights and --verify inputs (default: 0)")
    parser.add_argument("--llava", type=Path, help="LLaVA-7B v1 folder (delta applied), with its tokenizer")
    parser.add_argument("--mgie", type=Path, help="folder with MGIE's mllm.pt and unet.pt")
    parser.add_argument("--ip2p", type=Path, help="timbrooks/instruct-pix2pix folder (vae/, unet/, scheduler/)")
    parser.add_argument("--clip", type=Path, help="openai/clip-vit-large-patch14 folder (default: found from LLaVA's config)")
    parser.add_argument("--fp16", action="store_true", help="float16 weights and activations (see export_bundle)")
    parser.add_argument("--llm-weights", choices=LLM_FORMATS,
                        help="the decoder's weights: int8/int4 = MatMulNBits with float32 activations (default: fp16 with --fp16, else fp32)")
    parser.add_argument("--block-size", type=int, default=32, help="int8/int4: weights per quantization block (default: %(default)s)")
    parser.add_argument("--quant-scheme", choices=SCHEMES, default="asymmetric",
                        help="int8/int4: asymmetric (a zero point per block) or symmetric (default: %(default)s)")
    parser.add_argument("--float-lm-head", action="store_true", help="int8/int4: keep lm_head in float (it is quantized by default)")
    parser.add_argument("--accuracy-level", type=int, choices=(0, 4), default=0,
                        help="int8/int4: MatMulNBits' accuracy_level; 4 lets ONNX Runtime's CPU provider quantize the "
                             "activations to int8 per block (faster decoding on CPUs, see models/README.md) (default: 0)")
    parser.add_argument("--stream-llm", action="store_true",
                        help=f"--random-init: export the decoder layer by layer even with {STREAM_ABOVE_LAYERS} layers or fewer")
    parser.add_argument("--reuse-parts-from", type=Path, metavar="BUNDLE",
                        help="--random-init: hard-link the models other than the decoder from this bundle of the same seed "
                             "and precision instead of exporting them again (reuse_parts.py)")
    parser.add_argument("--external-data-mb", type=float, default=EXTERNAL_DATA_THRESHOLD / 1e6,
                        help="models with more weight megabytes keep them in <file>.data (default: %(default)g)")
    parser.add_argument("--verify", action="store_true", help="compare every model with PyTorch through the runtime")
    args = parser.parse_args(argv)
    if args.tiny and args.random_init:
        parser.error("give --tiny or --random-init, not both")
    if not (args.tiny or args.random_init) and None in (args.llava, args.mgie, args.ip2p):
        parser.error("give --llava, --mgie and --ip2p (or --tiny, or --random-init)")
    if (args.llm_layers is not None or args.stream_llm or args.reuse_parts_from) and not args.random_init:
        parser.error("--llm-layers, --stream-llm and --reuse-parts-from go with --random-init")
    if args.llm_layers is not None and args.llm_layers < 1:
        parser.error("--llm-layers must be at least 1")
    if args.tokenizer is None:
        args.tokenizer = LLAMA_TOKENIZER if args.random_init else TINY_TOKENIZER
    args.llm_weights = args.llm_weights or ("fp16" if args.fp16 else "fp32")
    args.quantized = args.llm_weights in ("int8", "int4")
    if args.block_size < 16 or args.block_size & (args.block_size - 1):
        parser.error(f"--block-size {args.block_size}: MatMulNBits takes a power of two, at least 16")
    return args


def llm_weights_of(args: argparse.Namespace):
    from .matmul_nbits import LlmWeights

    return LlmWeights(args.llm_weights, block_size=args.block_size, scheme=args.quant_scheme,
                      quantize_lm_head=not args.float_lm_head, accuracy_level=args.accuracy_level)


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


def verify(models: MgieTorchModels, bundle_dir: Path, manifest: dict, seed: int, materialise=None) -> int:
    from .export_bundle import peak_rss_gb
    from .verify_bundle import check_with_runtime, write_verify_cases

    cases = write_verify_cases(models, bundle_dir, manifest["export"]["models"], seed=seed, materialise=materialise)
    log.info("verify cases written to %s (peak RSS %.1f GB); running them through the runtime", cases.parent, peak_rss_gb())
    return check_with_runtime(bundle_dir)


def folder_megabytes(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / 1e6


def needed_modules(args: argparse.Namespace) -> list[str]:
    """The packages this run imports: every export needs the first five (numpy: the LLM weight formats)."""
    modules = ["torch", "transformers", "diffusers", "onnx", "numpy"]
    if not (args.tiny or args.random_init):
        modules += ["safetensors", "sentencepiece"]  # checkpoint files, LLaVA's tokenizer.model
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
    if args.random_init and not (args.tokenizer / "tokenizer.json").is_file():
        return (f"python -m models.export: --random-init uses the tokenizer in {args.tokenizer}, which has no tokenizer.json. "
                f"Write LLaMA's with: npx tsx models/export/write-llama-tokenizer.ts {args.tokenizer} (or pass --tokenizer DIR).")
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
    from .export_bundle import export_bundle, peak_rss_gb

    started = time.perf_counter()
    args.weights = llm_weights_of(args)
    materialise = verify_materialise = decoder_exporter = reuse = None
    provenance: dict = {}
    if args.random_init:
        from functools import partial

        from .random_models import RandomInit

        init = RandomInit(args.tokenizer, seed=args.seed, llm_layers=args.llm_layers)
        models = init.models
        stream = args.stream_llm or init.llm_layers > STREAM_ABOVE_LAYERS
        materialise = init.materialised
        if stream:
            from .streamed_decoder import export_streamed_decoder

            decoder_exporter = partial(export_streamed_decoder, source=init.llm)
        transform = args.weights.round_trip if args.weights.quantized else None
        verify_materialise = partial(init.materialised, stream_llm=stream, llm_transform=transform)
        provenance = {"randomInit": {"seed": args.seed, "llmLayers": init.llm_layers, "llmInitStd": init.llm.std},
                      "streamedDecoder": stream}
        if args.reuse_parts_from:
            from .export_bundle import OPSET
            from .reuse_parts import reuse_parts_from

            reuse = reuse_parts_from(args.reuse_parts_from, args.seed, OPSET, init.config.vocab_size, models.settings.tokens)
    else:
        models = load_models(args)
    log.info("models ready in %.1f s; exporting to %s (%s, LLM weights %s)", time.perf_counter() - started, args.out,
             "float16" if args.fp16 else "float32", args.weights.format)
    export_started = time.perf_counter()
    manifest = export_bundle(models, args.out, fp16=args.fp16, external_data_threshold=int(args.external_data_mb * 1e6),
                             llm_weights=args.weights, materialise=materialise, decoder_exporter=decoder_exporter,
                             provenance=provenance, reuse=reuse)
    log.info("bundle written in %.1f s: %.1f MB, peak RSS %.1f GB", time.perf_counter() - export_started,
             folder_megabytes(args.out), peak_rss_gb())
    if not (args.tiny or args.random_init):
        write_parity(args.out, args.llava)
        log.info("token-parity.json written")
    if args.verify:
        if args.weights.quantized and not args.random_init:
            # the PyTorch side must run on the round-tripped weights (LlmWeights.round_trip)
            round_trip_llm(models.llm, args.weights)
        status = verify(models, args.out, manifest, args.seed, verify_materialise)
    else:
        status = 0
    log.info("%s in %.1f s, peak RSS %.1f GB", "done" if status == 0 else "VERIFY FAILED", time.perf_counter() - started, peak_rss_gb())
    return status


def round_trip_llm(llm, weights) -> None:
    """Replaces, in place, the LLM's quantized weights by what MatMulNBits computes with."""
    for index, layer in enumerate(llm.model.layers):
        for name, parameter in layer.named_parameters():
            parameter.data = weights.round_trip(name, parameter.data)
    llm.lm_head.weight.data = weights.round_trip("lm_head.weight", llm.lm_head.weight.data)


if __name__ == "__main__":
    sys.exit(main())
