#!/usr/bin/env python3
"""For test/helpers/llama-vocabulary.ts: SentencePiece itself on pieces given as JSON.

    python3 test/helpers/sentencepiece-run.py INPUT.json OUT_DIR

INPUT.json: {"pieces": [[piece, score, kind], ...], "addedTokens": {"<im_patch>": 32000, ...},
"strings": [...], "instructions": [...], "numPatches": N}. Writes OUT_DIR/llava/tokenizer.model (a BPE SentencePiece model with
LLaMA's settings: byte fallback, identity normalization, a dummy prefix, spaces escaped as "▁") and
added_tokens.json, then OUT_DIR/output.json = {"ids": SentencePiece's ids of each string with BOS first,
"promptIds": token_parity.DemoSlowTokenizer's ids of the MGIE prompt (token_parity.prompt_text, numPatches
image patches) for each instruction after Python's str.strip()}, and OUT_DIR/tokenizer/ with what
load_checkpoints.prepare_tokenizer_dir makes of that model. Run from the repository root (PYTHONPATH with
sentencepiece, protobuf, torch and transformers: source /work/hfenv/env.sh here).
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sentencepiece import SentencePieceProcessor  # noqa: E402
from sentencepiece import sentencepiece_model_pb2 as model_pb2  # noqa: E402

from models.export.load_checkpoints import prepare_tokenizer_dir  # noqa: E402
from models.export.token_parity import DemoSlowTokenizer, prompt_text  # noqa: E402

KIND_TYPES = {"normal": model_pb2.ModelProto.SentencePiece.NORMAL, "unknown": model_pb2.ModelProto.SentencePiece.UNKNOWN,
              "control": model_pb2.ModelProto.SentencePiece.CONTROL, "byte": model_pb2.ModelProto.SentencePiece.BYTE}


def main(input_path: str, out_dir: str) -> None:
    data = json.loads(Path(input_path).read_text(encoding="utf-8"))
    out = Path(out_dir)
    model = model_pb2.ModelProto()
    for piece, score, kind in data["pieces"]:
        entry = model.pieces.add()
        entry.piece, entry.score, entry.type = piece, score, KIND_TYPES[kind]
    trainer = model.trainer_spec
    trainer.model_type = model_pb2.TrainerSpec.BPE
    trainer.vocab_size = len(data["pieces"])
    trainer.byte_fallback = True
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = 0, 1, 2, -1
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix, normalizer.remove_extra_whitespaces, normalizer.escape_whitespaces = True, False, True
    llava = out / "llava"
    llava.mkdir(parents=True, exist_ok=True)
    (llava / "tokenizer.model").write_bytes(model.SerializeToString())
    llava_tokens = {t: i for t, i in data["addedTokens"].items() if not t.startswith("[IMG")}
    (llava / "added_tokens.json").write_text(json.dumps(llava_tokens), encoding="utf-8")

    processor = SentencePieceProcessor(model_file=str(llava / "tokenizer.model"))
    ids = [[processor.bos_id(), *processor.encode(text)] for text in data["strings"]]
    slow = DemoSlowTokenizer(llava / "tokenizer.model", data["addedTokens"])
    prompt_ids = [slow(prompt_text(instruction.strip(), data["numPatches"]))["input_ids"] for instruction in data["instructions"]]
    prepare_tokenizer_dir(llava, out / "tokenizer")
    (out / "output.json").write_text(json.dumps({"ids": ids, "promptIds": prompt_ids}), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
