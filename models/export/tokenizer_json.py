"""tokenizer.json and tokenizer_config.json from LLaMA's SentencePiece model, encoding like the demo's slow tokenizer.

Standard library only, apart from `read_sentencepiece_model` (sentencepiece): the Node tests run the conversion on
LLaMA's real 32,000-piece vocabulary (from llama-tokenizer-js) on machines without torch or sentencepiece:

    python3 -m models.export.tokenizer_json --pieces pieces.json --added-tokens added_tokens.json --out DIR

pieces.json: [[piece, score, kind], ...] in id order, kind one of PIECE_KINDS; added_tokens.json: {"<im_patch>": 32000, ...}.

The demo's tokenizer is the SLOW LlamaTokenizer of the transformers that LLaVA 7ace501 pins (git cae78c46,
March 2023, which has no fast Llama tokenizer) over LLaMA's SentencePiece model. Its behaviour, which the
model was trained and evaluated with (LLaVA's train.py also uses use_fast=False):
  - the text is split on every added token; whitespace on BOTH sides of an added token is stripped
    (tokenization_utils.py `tokenize`: plain-string added tokens strip left and right by default), so the
    "\\n" before <im_start> and the space before "ASSISTANT:" produce no tokens;
  - every remaining piece goes through SentencePiece on its own, which adds its dummy prefix "▁" to each;
  - BOS (id 1, sp.bos_id()) is prepended.
In tokenizer.json terms: every added token with lstrip and rstrip; a normalizer that prepends "▁" to every
text piece between added tokens and turns spaces into "▁" (transformers' legacy LLaMA layout), no
pre-tokenizer; BPE merges in SentencePiece's order (bpe_merges). Not a Metaspace pre-tokenizer: it adds its
"▁" only to a piece that does not already start with one, so " grabbed" would lose the token for its space.
token_parity.reference_prompt_ids replays these rules with sentencepiece itself, independently of
`tokenizers`; DemoSlowTokenizer records its ids in token-parity.json for the runtime's test.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NamedTuple

from .checkpoint_error import CheckpointError

#: SentencePiece's piece types (sentencepiece_model.proto), as read_sentencepiece_model names them.
PIECE_KINDS = ("normal", "unknown", "control", "byte", "unused")


class Piece(NamedTuple):
    piece: str
    score: float
    kind: str


def read_sentencepiece_model(path: Path) -> list[Piece]:
    """The pieces of a SentencePiece model file in id order, with their scores and types."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(path))
    pieces = []
    for i in range(processor.get_piece_size()):
        kind = ("unknown" if processor.is_unknown(i) else "control" if processor.is_control(i)
                else "byte" if processor.is_byte(i) else "unused" if processor.is_unused(i) else "normal")
        pieces.append(Piece(processor.id_to_piece(i), float(processor.get_score(i)), kind))
    return pieces


def bpe_merges(pieces: list[Piece]) -> list[tuple[str, str]]:
    """The BPE merges, best first, in the order SentencePiece's BPE encoder applies them.

    SentencePiece (bpe_model.cc, Model::Encode) repeatedly merges the adjacent pair whose concatenation is a
    normal piece with the HIGHEST SCORE, the leftmost on ties; control, unknown and byte pieces are never built
    by a merge. A tokenizer.json ranks merges instead, so the rank must follow the built piece's score, not its
    id: LLaMA gives its 15 whitespace-only pieces ("▁▁" .. 16 x "▁", ids 259, 268, ...) the lowest score
    (-1e9), so they merge last ("make the frame  red": "▁frame ▁ ▁red"); ranked by id they would merge
    first ("▁frame ▁▁ red"). Equal scores are ranked by the left piece's id, then the right piece's: the order
    of the tokenizer.json distributed with LLaMA (llama-tokenizer-js copies it; its merges are exactly these).
    Inside a run of "▁" this puts every (longer, "▁") merge before ("▁", "▁"), "▁" being a character with a
    higher id than any whitespace piece, so the piece at the run's left grows first: SentencePiece's
    leftmost-first on the tie.
    """
    vocab = {p.piece: i for i, p in enumerate(pieces)}
    normal = {p.piece for p in pieces if p.kind == "normal"}
    merges = []
    for piece in pieces:
        if piece.kind != "normal":
            continue
        text = piece.piece
        for cut in range(1, len(text)):
            left, right = text[:cut], text[cut:]
            if left in normal and right in normal:
                merges.append((-piece.score, vocab[left], vocab[right], left, right))
    merges.sort()
    return [(left, right) for *_, left, right in merges]


def write_tokenizer_dir(pieces: list[Piece], token_ids: dict[str, int], out_dir: Path) -> Path:
    """Writes out_dir/tokenizer.json (the pieces in id order as a BPE vocabulary with byte fallback, bpe_merges) and
    tokenizer_config.json, then fix_tokenizer_files puts the added tokens at token_ids and the slow tokenizer's rules in."""
    out_dir = Path(out_dir)
    vocab = {p.piece: i for i, p in enumerate(pieces)}
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None, "pre_tokenizer": None, "post_processor": None,
        # SentencePiece's "▁" back to spaces, byte pieces back to bytes, and the dummy prefix's space dropped
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [list(merge) for merge in bpe_merges(pieces)]},
    }
    (out_dir / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (out_dir / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    fix_tokenizer_files(out_dir, token_ids)
    return out_dir


def _added_token_entry(token_id: int, content: str, strip: bool) -> dict:
    return {"id": token_id, "content": content, "single_word": False, "lstrip": strip, "rstrip": strip,
            "normalized": False, "special": True}


def fix_tokenizer_files(out_dir: Path, token_ids: dict[str, int]) -> None:
    """Rewrites tokenizer.json and tokenizer_config.json in out_dir so they encode like the demo's slow tokenizer.

    Pure JSON: whatever the transformers/tokenizers versions that wrote the files, afterwards every added token
    sits at its checkpoint id with lstrip/rstrip, the normalizer prepends "▁" to every piece as SentencePiece's
    dummy prefix does, BOS comes from the post-processor, and tokenizer_config.json says the same (legacy=True,
    the same added_tokens_decoder).
    """
    tok_path, cfg_path = out_dir / "tokenizer.json", out_dir / "tokenizer_config.json"
    tok = json.loads(tok_path.read_text(encoding="utf-8"))
    cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    model = tok.get("model", {})
    if model.get("type") != "BPE" or not model.get("byte_fallback"):
        raise CheckpointError(f"{tok_path}: model {model.get('type')} (byte_fallback {model.get('byte_fallback')}); expected LLaMA's BPE with byte fallback.")
    vocab = model["vocab"]
    for content, token_id in (("<unk>", 0), ("<s>", 1), ("</s>", 2)):
        if vocab.get(content) != token_id:
            raise CheckpointError(f"{tok_path}: {content} has id {vocab.get(content)}, expected {token_id} (LLaMA's tokenizer.model).")
    specials = [_added_token_entry(i, c, False) for c, i in (("<unk>", 0), ("<s>", 1), ("</s>", 2))]
    added = [_added_token_entry(i, c, True) for c, i in sorted(token_ids.items(), key=lambda item: item[1])]
    first = added[0]["id"]
    if first != len(vocab) or [a["id"] for a in added] != list(range(first, first + len(added))):
        raise CheckpointError(f"{tok_path}: the base vocabulary has {len(vocab)} pieces, so the added tokens cannot have ids {first}..{added[-1]['id']}. Is tokenizer.model LLaVA's?")
    others = [e for e in tok.get("added_tokens", []) if e["content"] not in {a["content"] for a in specials + added}]
    if others:
        raise CheckpointError(f"{tok_path} has added tokens the checkpoint does not know: {', '.join(e['content'] for e in others[:5])}.")
    tok["added_tokens"] = specials + added
    # SentencePiece's normalization for LLaMA (identity rules, add_dummy_prefix, escape_whitespaces), applied by
    # tokenizers to each piece of text between added tokens, as the slow tokenizer ran SentencePiece on each
    tok["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    tok["pre_tokenizer"] = None
    tok["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    tok_path.write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    decoder = {}
    for entry in specials + added:
        decoder[str(entry["id"])] = {k: entry[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
    cfg.update({
        "tokenizer_class": "LlamaTokenizer",
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False,
        # prepend "▁" to every piece, as SentencePiece did to every piece in the slow tokenizer
        "legacy": True, "add_prefix_space": True,
        # transformers 4.x decoded with clean_up_tokenization_spaces=True (the demo's tokenizer.decode)
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": decoder,
    })
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _read_pieces(path: Path) -> list[Piece]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    pieces = []
    for i, entry in enumerate(raw):
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], (int, float)) and entry[2] in PIECE_KINDS):
            raise CheckpointError(f"{path}: entry {i} is {entry!r}; expected [piece, score, kind] with kind one of {', '.join(PIECE_KINDS)}.")
        pieces.append(Piece(entry[0], float(entry[1]), entry[2]))
    return pieces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.export.tokenizer_json",
                                     description="tokenizer.json + tokenizer_config.json from SentencePiece pieces given as JSON")
    parser.add_argument("--pieces", type=Path, required=True, help="JSON: [[piece, score, kind], ...] in id order")
    parser.add_argument("--added-tokens", type=Path, required=True, help='JSON: {"<im_patch>": 32000, ...}')
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    args = parser.parse_args(argv)
    try:
        token_ids = {str(k): int(v) for k, v in json.loads(args.added_tokens.read_text(encoding="utf-8")).items()}
        write_tokenizer_dir(_read_pieces(args.pieces), token_ids, args.out)
    except (CheckpointError, OSError, ValueError) as error:
        print(f"python -m models.export.tokenizer_json: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
