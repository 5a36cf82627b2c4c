// The exporter's tokenizer conversion (models/export/tokenizer_json.py, the code prepare_tokenizer_dir runs)
// and the runtime's tokenizer (MgieTokenizer over @huggingface/tokenizers), on LLaMA's REAL 32,000-piece
// vocabulary and merges as llama-tokenizer-js ships them, against llama-tokenizer-js's own encoder, its own
// expected ids (taken from LLaMA's tokenizer), and, where Python has sentencepiece, SentencePiece itself.
// The scores the conversion needs are recovered from the package's data: test/helpers/llama-vocabulary.ts.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  convertWithExporterAsync, type ConvertedTokenizer, llamaSentencePieces, type LlamaVocabulary, pythonMissingAsync,
  runSentencePieceAsync, sentencePieceMissingAsync,
} from '../helpers/llama-vocabulary.ts';
import { CATEGORIES, generateTokenizerStrings } from '../helpers/tokenizer-test-strings.ts';

const STRINGS_PER_CATEGORY = 400;
const noPython = await pythonMissingAsync();
const noSentencePiece = noPython || (await sentencePieceMissingAsync());

let llama: LlamaVocabulary;
let converted: ConvertedTokenizer;
const strings = generateTokenizerStrings(STRINGS_PER_CATEGORY);

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

test('SentencePiece itself (the slow tokenizer\'s encoder) gives the same ids, and prepare_tokenizer_dir the same tokenizer.json', { skip: noSentencePiece }, async () => {
  const sentencePiece = await runSentencePieceAsync(llama.pieces, strings.map(({ text }) => text), []);
  const againstPackage = mismatches(strings, (text) => llama.reference.encode(text), (_, i) => sentencePiece.ids[i]);
  assert.deepEqual(againstPackage, { count: 0, byCategory: {}, examples: [] }, 'llama-tokenizer-js against SentencePiece');
  const againstRuntime = mismatches(strings, (text) => converted.tokenizer.encode(text), (_, i) => sentencePiece.ids[i]);
  assert.deepEqual(againstRuntime, { count: 0, byCategory: {}, examples: [] }, 'the runtime against SentencePiece');
  // From a tokenizer.model file, through sentencepiece, the exporter writes what it wrote from the JSON pieces.
  assert.deepEqual(sentencePiece.tokenizerJson, converted.tokenizerJson);
});
