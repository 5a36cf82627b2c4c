"""--reuse-parts-from: bundles of the same random weights that differ only in their LLM (its depth, its weight format)
share their other models byte for byte, so they are hard-linked from a finished bundle instead of exported again:
the vision tower, the UNet and the VAE take most of a real-size export's time (the UNet alone ~8 minutes here) and
disk (5 GB in float32). A model is reused only when the two exports would be identical: the same random-init seed,
the same precision for that model, the same exporter settings (opset, torch version) and the same tokenizer-derived
sizes; the decoder is always exported.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

MANIFEST_FILE = "mgie-bundle.json"


def reuse_parts_from(source: Path, seed: int, opset: int, vocab_size: int, tokens: dict) -> Callable[[str, str, Path], tuple[list[str], dict[str, str]] | None]:
    """reuse(key, precision, out_dir) for export_bundle: links `key`'s files from `source` when they are what this
    export would write, returning (files, their sha256 from source's manifest); else None."""
    manifest = json.loads((Path(source) / MANIFEST_FILE).read_text(encoding="utf-8"))
    export = manifest.get("export", {})
    same_weights = (export.get("randomInit", {}).get("seed") == seed and export.get("opset") == opset
                    and export.get("torch") == torch.__version__ and manifest["llm"]["vocabSize"] == vocab_size
                    and manifest["tokens"] == tokens)
    if not same_weights:
        log.info("  --reuse-parts-from %s: another seed, exporter or tokenizer; every model is exported", source)

    def reuse(key: str, precision: str, out_dir: Path) -> tuple[list[str], dict[str, str]] | None:
        if key == "decoder" or not same_weights or export.get("models", {}).get(key) != precision:
            return None
        model_file = manifest["files"][key]
        files = [model_file] + ([model_file + ".data"] if (Path(source) / (model_file + ".data")).is_file() else [])
        for file in files:
            target = out_dir / file
            target.unlink(missing_ok=True)
            os.link(Path(source) / file, target)
        log.info("  %-12s linked from %s", key, source)
        return files, {file: manifest["sha256"][file] for file in files if file in manifest.get("sha256", {})}

    return reuse
