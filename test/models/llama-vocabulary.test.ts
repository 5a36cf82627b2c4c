// The exporter's tokenizer conversion (models/export/tokenizer_json.py, the code prepare_tokenizer_dir runs)
// and the runtime's tokenizer (MgieTokenizer over @huggingface/tokenizers), on LLaMA's REAL 32,000-piece
// vocabulary and merges as llama-tokenizer-js ships them, against llama-tokenizer-js's own encoder, its own
// expected ids (taken from LLaMA's tokenizer), and, where Python has sentencepiece, SentencePiece itself.
// The scores the conversion needs are recovered from the package's data: test/helpers/llama-vocabulary.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import type { BundleManifest } from '../../companion-server/engine/bundle/bundle-manifest.ts';
import { checkInstruction } from '../../companion-server/engine/check-instruction.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';
import {
  convertWithExporterAsync, type ConvertedTokenizer, llamaSentencePieces, type LlamaVocabulary, PROMPT_PATCHES, pythonMissingAsync,
  runSentencePieceAsync, sentencePieceMissingAsync,
} from '../helpers/llama-vocabulary.ts';
import { CATEGORIES, generateTokenizerStrings } from '../helpers/tokenizer-test-strings.ts';

const STRINGS_PER_CATEGORY = 400;
const noPython = await pythonMissingAsync();
const noSentencePiece = noPython || (await sentencePieceMissingAsync());

let llama: LlamaVocabulary;
let converted: ConvertedTokenizer;
const strings = generateTokenizerStrings(STRINGS_PER_CATEGORY);
// The slow tokenizer's ids for MGIE prompts (test/fixtures/compute-llama-prompt-ids.ts writes them).
const golden = JSON.parse(readFileSync(new URL('../fixtures/llama-prompt-ids.json', import.meta.url), 'utf8')) as {
  producer: string;
  numPatches: number;
  cases: Array<{ instruction: string; ids: number[] }>;
};
// The fields of the manifest that buildPromptIds reads: MGIE's template and tokens (bundle-format.md).
const manifest = {
  tokens: { bos: '<s>', eos: '</s>', imPatch: '<im_patch>', imStart: '<im_start>', imEnd: '<im_end>', img: Array.from({ length: 8 }, (_, i) => `[IMG${i}]`) },
  vision: { numPatches: golden.numPatches },
  prompt: { template: "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: what will this image be like if '{instruction}'\n{image} ASSISTANT:" },
} as unknown as BundleManifest;

before(async () => {
  llama = llamaSentencePieces();
  if (!noPython) converted = await convertWithExporterAsync(llama.pieces);
});

/** The first `limit` strings whose ids differ, with both id lists, for a readable failure. */
function mismatches(cases: Array<{ category: string; text: string }>, ours: (text: string) => number[], theirs: (text: string, i: number) => number[], limit = 6) {
  const byCategory = new Map<string, number>();
  const examples: string[] = [];
  cases.forEach(({ category, text }, i) => {
    const a = ours(text);
    const b = theirs(text, i);
    if (a.length === b.length && a.every((id, k) => id === b[k])) return;
    byCategory.set(category, (byCategory.get(category) ?? 0) + 1);
    if (examples.length < limit) examples.push(`${category}: ${JSON.stringify(text)}: runtime ${a.join(' ')} vs ${b.join(' ')}`);
  });
  return { count: [...byCategory.values()].reduce((a, b) => a + b, 0), byCategory: Object.fromEntries(byCategory), examples };
}

test("llama-tokenizer-js holds LLaMA's vocabulary, with its merges in score order and the whitespace pieces tied last", () => {
  // llamaSentencePieces throws when the data lacks either property the scores are recovered from.
  assert.equal(llama.pieces.length, 32000);
  assert.equal(llama.merges.length, 61249);
  // every split of "▁"x2..16 into two whitespace pieces: 8 + 7 + ... for lengths 2..16, i.e. 120 merges
  assert.equal(llama.whitespaceMerges, 120);
});

test("the exporter's conversion derives exactly the merges of LLaMA's tokenizer.json: the same 61,249, in the same order", { skip: noPython }, () => {
  const ours = (converted.tokenizerJson.model as { merges: [string, string][] }).merges;
  const key = ([left, right]: [string, string]): string => `${left} ${right}`;
  const at = ours.findIndex((merge, i) => key(merge) !== key(llama.merges[i] ?? ['', '']));
  assert.equal(at, -1, `merge ${at}: ${key(ours[at] ?? ['', ''])} vs LLaMA's ${key(llama.merges[at] ?? ['', ''])}`);
  assert.equal(ours.length, llama.merges.length);
  // the whitespace pieces last, the run-growing ("▁▁", "▁") before the very last ("▁", "▁")
  assert.deepEqual(ours.slice(-llama.whitespaceMerges).every(([left, right]) => /^▁+$/.test(left + right)), true);
  assert.deepEqual(ours.at(-1), ['▁', '▁']);
});

test("the runtime gives llama-tokenizer-js's expected ids for its own test strings (from LLaMA's tokenizer)", { skip: noPython }, () => {
  // The package's test suite, run against the runtime: encode is ours (BOS and the dummy prefix, as the
  // package's encode(text, true, true) gives them); decode stays the package's, whose own cases it checks.
  const runtime = {
    encode: (text: string) => converted.tokenizer.encode(text),
    decode: (ids: number[], addBos?: boolean, addPrecedingSpace?: boolean) => llama.reference.decode(ids, addBos, addPrecedingSpace),
  };
  const log = console.log;
  console.log = () => {};
  try {
    (llama.reference as unknown as { defaultTests: (tokenizer: unknown) => boolean }).defaultTests(runtime);
  } finally {
    console.log = log;
  }
});

test(`the runtime gives llama-tokenizer-js's ids for ${STRINGS_PER_CATEGORY * CATEGORIES.length} generated strings in ${CATEGORIES.length} categories`, { skip: noPython }, () => {
  const result = mismatches(strings, (text) => converted.tokenizer.encode(text), (text) => llama.reference.encode(text));
  assert.deepEqual(result, { count: 0, byCategory: {}, examples: [] });
});

test(`MGIE prompts, ${golden.cases.length} instructions with whitespace runs, edge whitespace, template slots and look-alikes: the slow tokenizer's ids`, { skip: noPython }, () => {
  assert.equal(golden.numPatches, PROMPT_PATCHES);
  const { tokenizer } = converted;
  const id = (token: string): number => tokenizer.tokenToId(token)!;
  const tokenIds = { bos: id('<s>'), eos: id('</s>'), imPatch: id('<im_patch>'), imStart: id('<im_start>'), imEnd: id('<im_end>'), img: manifest.tokens.img.map(id) };
  const cases = golden.cases.map(({ instruction }) => ({ category: 'prompt', text: instruction }));
  // What the server does with a request: check (and trim) the instruction, then build the prompt's ids.
  const result = mismatches(cases, (text) => buildPromptIds(checkInstruction(text, 1000), manifest, tokenizer, tokenIds).ids, (_, i) => golden.cases[i].ids);
  assert.deepEqual(result, { count: 0, byCategory: {}, examples: [] });
});

test('SentencePiece itself (the slow tokenizer\'s encoder) gives the same ids, the golden prompt ids are reproduced, and prepare_tokenizer_dir writes the same tokenizer.json', { skip: noSentencePiece }, async () => {
  const sentencePiece = await runSentencePieceAsync(llama.pieces, strings.map(({ text }) => text), golden.cases.map(({ instruction }) => instruction), golden.numPatches);
  assert.deepEqual(sentencePiece.promptIds, golden.cases.map(({ ids }) => ids), 'test/fixtures/llama-prompt-ids.json is what the slow tokenizer gives today');
  const againstPackage = mismatches(strings, (text) => llama.reference.encode(text), (_, i) => sentencePiece.ids[i]);
  assert.deepEqual(againstPackage, { count: 0, byCategory: {}, examples: [] }, 'llama-tokenizer-js against SentencePiece');
  const againstRuntime = mismatches(strings, (text) => converted.tokenizer.encode(text), (_, i) => sentencePiece.ids[i]);
  assert.deepEqual(againstRuntime, { count: 0, byCategory: {}, examples: [] }, 'the runtime against SentencePiece');
  // From a tokenizer.model file, through sentencepiece, the exporter writes what it wrote from the JSON pieces.
  assert.deepEqual(sentencePiece.tokenizerJson, converted.tokenizerJson);
});
