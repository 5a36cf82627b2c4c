"""token-parity.json: the prompt ids the checkpoint's Python tokenizer gives, for the runtime to match.

test/models/token-parity.test.ts tokenizes the same prompts with the runtime's tokenizer (buildPromptIds,
from the manifest's prompt.template) and requires the same ids. The prompts are MGIE's reference prompt
(mgie-reference.md section 2) for the 20 instructions of apple/ml-mgie's demo.ipynb.

`reference_prompt_ids` replays, with sentencepiece alone, how the demo's tokenizer turned a prompt into ids:
the slow LlamaTokenizer of transformers git cae78c46 (the version LLaVA 7ace501 pins; it has no fast Llama
tokenizer). Its rules: split the text on added tokens; strip the whitespace on both sides of each added token;
encode every other piece with SentencePiece (which adds its "▁" dummy prefix to each piece); prepend BOS.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .torch_models import BundleSettings

PARITY_FILE = "token-parity.json"

#: The 20 test instructions of apple/ml-mgie demo.ipynb (its `ins` list, inputs _input/0.jpg .. 19.jpg).
DEMO_INSTRUCTIONS = [
    "make the frame red",
    "turn the day into night",
    "give him a beard",
    "make cottage a mansion",
    "remove yellow object from dogs paws",
    "change the hair from red to blue",
    "remove the text",
    "increase the image contrast",
    "remove the people in the background",
    "please make this photo professional looking",
    "darken the image, sharpen it",
    "photoshop the girl out",
    "make more brightness",
    "take away the brown filter form the image",
    "add more contrast to simulate more light",
    "dark on rgb",
    "make the face happy",
    "change view as ocean",
    "replace basketball with soccer ball",
    "let the floor be made of wood",
]

#: LLaMA's own special tokens; the slow tokenizer never split them either. Whether it stripped the spaces around
#: them (as here) depends on whether LLaVA's saved special tokens load as plain strings or as AddedTokens; the
#: runtime refuses their text in an instruction (build-prompt.ts), so no prompt it builds depends on it.
LLAMA_SPECIAL_IDS = {"<unk>": 0, "<s>": 1, "</s>": 2}


def prompt_text(instruction: str, num_patches: int, template: str | None = None, tokens: dict | None = None) -> str:
    """The reference prompt with {instruction} filled and {image} = imStart + numPatches x imPatch + imEnd."""
    settings_defaults = BundleSettings.__dataclass_fields__
    template = template if template is not None else settings_defaults["prompt_template"].default
    tokens = tokens if tokens is not None else settings_defaults["tokens"].default_factory()
    image = tokens["imStart"] + tokens["imPatch"] * num_patches + tokens["imEnd"]
    # Both slots in ONE pass, as buildPromptIds: an instruction that contains "{image}" or "{instruction}" stays
    # text, as in the demo, which formats the instruction into its string ("...if '%s'" % ins) and appends the image.
    return re.sub(r"\{instruction\}|\{image\}", lambda slot: instruction if slot.group(0) == "{instruction}" else image, template)


def reference_prompt_ids(sp_model: Path | str, added_token_ids: dict[str, int], text: str) -> list[int]:
    """The ids the demo's slow LlamaTokenizer (transformers cae78c46) gives `text`, BOS included."""
    import sentencepiece

    processor = _sentencepiece(str(sp_model), sentencepiece)
    no_split = {**LLAMA_SPECIAL_IDS, **added_token_ids}
    pattern = re.compile("(" + "|".join(re.escape(t) for t in sorted(no_split, key=len, reverse=True)) + ")")
    pieces = [p for p in pattern.split(text)]
    # tokenization_utils.py (cae78c46) `tokenize`: for each added token (a plain string, not an AddedToken with
    # its own lstrip/rstrip), strip the piece on its right from the left and the piece on its left from the right
    for i, piece in enumerate(pieces):
        if piece in no_split:
            if i + 1 < len(pieces):
                pieces[i + 1] = pieces[i + 1].lstrip()
            if i > 0:
                pieces[i - 1] = pieces[i - 1].rstrip()
    ids = [processor.bos_id()]
    for piece in pieces:
        if not piece:
            continue
        ids.extend([no_split[piece]] if piece in no_split else processor.encode(piece))
    return ids


class DemoSlowTokenizer:
    """The tokenizer the MGIE demo ran (transformers cae78c46's slow LlamaTokenizer), replayed with sentencepiece:
    what token-parity.json records for a real bundle. Pure Python, so it runs without the compiled `tokenizers`."""

    def __init__(self, sp_model: Path | str, added_token_ids: dict[str, int]):
        import sentencepiece

        self.sp_model = str(sp_model)
        self.added_token_ids = dict(added_token_ids)
        self.producer = f"slow LlamaTokenizer rules of transformers cae78c46 over sentencepiece {sentencepiece.__version__} ({Path(sp_model).name})"

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": reference_prompt_ids(self.sp_model, self.added_token_ids, text)}

    def convert_tokens_to_ids(self, token: str) -> int:
        return {**LLAMA_SPECIAL_IDS, **self.added_token_ids}[token]


_PROCESSORS: dict[str, object] = {}


def _sentencepiece(path: str, module):
    if path not in _PROCESSORS:
        processor = module.SentencePieceProcessor()
        processor.Load(path)
        _PROCESSORS[path] = processor
    return _PROCESSORS[path]


def tokenizer_prompt_ids(tokenizer, text: str) -> list[int]:
    """What demo.ipynb does: `tokenizer(txt)['input_ids']` (BOS added by the tokenizer)."""
    return list(tokenizer(text)["input_ids"])


def _first_difference(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def check_against_reference(tokenizer, sp_model: Path | str, added_token_ids: dict[str, int], instructions: list[str],
                            num_patches: int = 256, template: str | None = None, tokens: dict | None = None) -> None:
    """Raises ValueError when `tokenizer` gives any prompt other ids than the demo's slow tokenizer did."""
    problems = []
    for instruction in instructions:
        text = prompt_text(instruction, num_patches, template, tokens)
        ours, ref = tokenizer_prompt_ids(tokenizer, text), reference_prompt_ids(sp_model, added_token_ids, text)
        if ours != ref:
            i = _first_difference(ours, ref)
            problems.append(f'"{instruction}": first difference at {i}: {ours[i:i + 5]} vs reference {ref[i:i + 5]}')
    if problems:
        raise ValueError(
            f"{type(tokenizer).__name__} does not tokenize the MGIE prompt as the reference's slow LlamaTokenizer "
            f"(sentencepiece over {sp_model}): " + "; ".join(problems[:3])
        )


def _manifest(bundle_dir: Path) -> dict:
    path = bundle_dir / "mgie-bundle.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _producer(tokenizer) -> str:
    name = type(tokenizer).__name__
    try:
        import transformers
        if isinstance(tokenizer, transformers.PreTrainedTokenizerBase):
            return f"{name} from transformers {transformers.__version__}"
    except ImportError:
        pass
    return getattr(tokenizer, "producer", name)


def write_token_parity(bundle_dir: Path, tokenizer, *, num_patches: int | None = None, template: str | None = None,
                       reference_sp_model: Path | None = None, instructions: list[str] | None = None) -> Path:
    """Writes bundle_dir/token-parity.json = {"producer", "cases": [{"instruction", "ids"}]}.

    The prompt (template, numPatches, token strings) is the bundle manifest's when bundle_dir has one, else
    BundleSettings' defaults with 256 patches; num_patches and template override either. With
    reference_sp_model (LLaVA's tokenizer.model) every case is also checked against reference_prompt_ids.
    """
    bundle_dir = Path(bundle_dir)
    manifest = _manifest(bundle_dir)
    num_patches = num_patches if num_patches is not None else manifest.get("vision", {}).get("numPatches", 256)
    template = template if template is not None else manifest.get("prompt", {}).get("template")
    tokens = manifest.get("tokens") or BundleSettings.__dataclass_fields__["tokens"].default_factory()
    instructions = list(instructions if instructions is not None else DEMO_INSTRUCTIONS)

    patch_id = tokenizer.convert_tokens_to_ids(tokens["imPatch"])
    bos_id = tokenizer.convert_tokens_to_ids(tokens["bos"])
    cases = []
    for instruction in instructions:
        ids = tokenizer_prompt_ids(tokenizer, prompt_text(instruction, num_patches, template, tokens))
        # sanity: a tokenizer that lost its added tokens would write a parity file nobody can match
        start = ids.index(patch_id) if patch_id in ids else -1
        if ids[:1] != [bos_id] or ids[1:2] == [bos_id]:
            raise ValueError(f'{_producer(tokenizer)}: the prompt for "{instruction}" does not start with exactly one BOS ({bos_id}): {ids[:3]}')
        if start < 0 or ids.count(patch_id) != num_patches or ids[start:start + num_patches] != [patch_id] * num_patches:
            raise ValueError(f'{_producer(tokenizer)}: the prompt for "{instruction}" does not hold {num_patches} {tokens["imPatch"]} ({patch_id}) in a row.')
        cases.append({"instruction": instruction, "ids": ids})
    if reference_sp_model is not None:
        added = {t: tokenizer.convert_tokens_to_ids(t) for t in [tokens["imPatch"], tokens["imStart"], tokens["imEnd"], *tokens["img"]]}
        check_against_reference(tokenizer, reference_sp_model, added, instructions, num_patches, template, tokens)
    path = bundle_dir / PARITY_FILE
    path.write_text(json.dumps({"producer": _producer(tokenizer), "cases": cases}) + "\n", encoding="utf-8")
    return path
