import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTinyTokenizer, DEMO_INSTRUCTIONS } from '../../models/tiny/build-tiny-tokenizer.ts';
import { MgieTokenizer } from '../../companion-server/engine/tokenizer.ts';
import { isMgieError } from '../../companion-server/engine/errors.ts';

// bundle-format.md's prompt template, with a 16-patch image as the tiny bundle has.
const TEMPLATE =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: what will this image be like if '{instruction}'\n{image} ASSISTANT:";
const NUM_PATCHES = 16;
const IMAGE = '<im_start>' + '<im_patch>'.repeat(NUM_PATCHES) + '<im_end>';
const IMG_TOKENS = Array.from({ length: 8 }, (_, i) => `[IMG${i}]`);
const ADDED_TOKENS = ['<im_patch>', '<im_start>', '<im_end>', ...IMG_TOKENS];
const BASE_VOCAB = 1000;

const promptFor = (instruction: string): string => TEMPLATE.replace('{instruction}', instruction).replace('{image}', IMAGE);

function load(options?: Parameters<typeof buildTinyTokenizer>[0]): { tokenizer: MgieTokenizer; built: ReturnType<typeof buildTinyTokenizer> } {
  const built = buildTinyTokenizer(options);
  // Through JSON, as the runtime reads it from the bundle.
  const tokenizer = MgieTokenizer.fromJson(JSON.parse(JSON.stringify(built.tokenizerJson)), JSON.parse(JSON.stringify(built.tokenizerConfig)));
  return { tokenizer, built };
}

const { tokenizer, built } = load();
const bos = tokenizer.tokenToId('<s>')!;

test('the 20 demo instructions round-trip, with BOS first exactly once', () => {
  for (const instruction of DEMO_INSTRUCTIONS) {
    const ids = tokenizer.encode(instruction);
    assert.equal(ids[0], bos, instruction);
    assert.equal(ids.filter((id) => id === bos).length, 1, instruction);
    assert.equal(tokenizer.decode(ids.slice(1)), instruction);
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), instruction);
    // The corpus holds them: learned pieces, no byte fallback.
    assert.ok(ids.slice(1).every((id) => !/^<0x/.test(tokenizer.idToToken(id)!)), instruction);
  }
});

test('the MGIE prompt keeps every added token as one id, with 16 <im_patch> in a row', () => {
  const ids = tokenizer.encode(promptFor('make the frame red'));
  assert.equal(ids[0], bos);
  assert.equal(ids.filter((id) => id === bos).length, 1);
  const patch = tokenizer.tokenToId('<im_patch>')!;
  const start = ids.indexOf(patch);
  assert.equal(ids.filter((id) => id === patch).length, NUM_PATCHES);
  assert.deepEqual(ids.slice(start, start + NUM_PATCHES), new Array(NUM_PATCHES).fill(patch));
  assert.equal(ids[start - 1], tokenizer.tokenToId('<im_start>'));
  assert.equal(ids[start + NUM_PATCHES], tokenizer.tokenToId('<im_end>'));
  // The "\n" before <im_start> is not in the vocabulary: byte fallback, as LLaMA's <0x0A> (id 13).
  assert.equal(tokenizer.idToToken(ids[start - 2]), '<0x0A>');
  assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize));
});

test('the prompt decodes back to its text (legacy layout: one extra space after <im_end>)', () => {
  for (const instruction of DEMO_INSTRUCTIONS) {
    const prompt = promptFor(instruction);
    // LLaMA-1 legacy normalizer (Prepend "▁" to each text section between added tokens), as in
    // Rust tokenizers: " ASSISTANT:" after <im_end> becomes "▁▁ASSISTANT:".
    assert.equal(tokenizer.decode(tokenizer.encode(prompt).slice(1)), prompt.replace('<im_end> ASSISTANT:', '<im_end>  ASSISTANT:'));
  }
  const { tokenizer: nonLegacy } = load({ legacy: false });
  for (const instruction of DEMO_INSTRUCTIONS) {
    const prompt = promptFor(instruction);
    assert.equal(nonLegacy.decode(nonLegacy.encode(prompt).slice(1)), prompt);
  }
});

test('each added token is one id at its place after the base vocabulary', () => {
  assert.equal(built.vocabSize, BASE_VOCAB + ADDED_TOKENS.length);
  assert.equal(tokenizer.vocabSize, built.vocabSize);
  assert.deepEqual([tokenizer.tokenToId('<unk>'), tokenizer.tokenToId('<s>'), tokenizer.tokenToId('</s>')], [0, 1, 2]);
  ADDED_TOKENS.forEach((token, i) => {
    const id = BASE_VOCAB + i;
    assert.equal(tokenizer.tokenToId(token), id, token);
    assert.equal(tokenizer.idToToken(id), token);
    assert.equal(built.specialTokenIds[token], id);
    assert.deepEqual(tokenizer.encode(token, { addBos: false }), [id], token);
    assert.deepEqual(tokenizer.encode(`blue ${token} sky`, { addBos: false }).filter((x) => x === id), [id], token);
  });
  assert.equal(tokenizer.idToToken(built.vocabSize), undefined);
  assert.equal(tokenizer.idToToken(-1), undefined);
  assert.equal(tokenizer.tokenToId('<not a token>'), undefined);
});

test('text outside the corpus goes through byte fallback and round-trips', () => {
  for (const text of ['naïve café', '你好，世界', 'a red 🎨 frame 🖼️', 'Ünïcödé\ttext\nwith 123 digits']) {
    const ids = tokenizer.encode(text);
    assert.ok(!ids.includes(tokenizer.tokenToId('<unk>')!), text);
    assert.ok(ids.some((id) => /^<0x[0-9A-F]{2}>$/.test(tokenizer.idToToken(id)!)), text);
    assert.ok(ids.every((id) => id < tokenizer.vocabSize), text);
    assert.equal(tokenizer.decode(ids.slice(1)), text);
  }
  // "é" is two bytes in UTF-8: <0xC3> <0xA9>.
  const cafe = tokenizer.encode('café', { addBos: false }).map((id) => tokenizer.idToToken(id));
  assert.deepEqual(cafe.slice(-2), ['<0xC3>', '<0xA9>']);
});

test('a generated answer decodes to the raw text, IMG tokens and EOS kept', () => {
  const answer = `The sky will be dark blue. ${IMG_TOKENS.join('')}</s>`;
  const ids = tokenizer.encode(answer, { addBos: false });
  assert.deepEqual(ids.slice(-9), [...IMG_TOKENS.map((t) => tokenizer.tokenToId(t)!), tokenizer.tokenToId('</s>')!]);
  assert.equal(tokenizer.decode(ids, { skipSpecialTokens: false }), answer);
  assert.equal(tokenizer.decode(ids), answer);
  assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), 'The sky will be dark blue. ');
  assert.equal(tokenizer.decode([]), '');
});

test('BOS: added once, never doubled, left out on request', () => {
  assert.notEqual(tokenizer.encode('remove the text', { addBos: false })[0], bos);
  const ids = tokenizer.encode('<s>remove the text');
  assert.equal(ids.filter((id) => id === bos).length, 1);
  assert.deepEqual(ids, tokenizer.encode('remove the text'));
  assert.deepEqual(tokenizer.encode(''), [bos]);
});

test('building is deterministic, and both layouts share the vocabulary', () => {
  assert.equal(JSON.stringify(buildTinyTokenizer()), JSON.stringify(built));
  const nonLegacy = buildTinyTokenizer({ legacy: false });
  type Model = { model: { vocab: object; merges: string[] } };
  assert.deepEqual((nonLegacy.tokenizerJson as Model).model, (built.tokenizerJson as Model).model);
  const model = (built.tokenizerJson as Model).model;
  assert.equal(Object.keys(model.vocab).length, BASE_VOCAB);
  assert.ok(model.merges.every((merge) => merge.split(' ').length === 2));
  const bigger = buildTinyTokenizer({ vocabSize: 1200 });
  assert.equal(bigger.vocabSize, 1211);
  assert.equal(bigger.specialTokenIds['[IMG7]'], 1210);
  assert.throws(() => buildTinyTokenizer({ vocabSize: 100 }), RangeError);
  assert.throws(() => buildTinyTokenizer({ vocabSize: 100_000 }), RangeError);
});

test('an invalid tokenizer.json gives a clear error with the cause', () => {
  const config = built.tokenizerConfig;
  const json = built.tokenizerJson as Record<string, unknown>;
  const cases: [string, unknown, unknown, RegExp | null][] = [
    ['not an object', null, config, null],
    ['no model', { ...json, model: undefined }, config, null],
    ['unknown decoder', { ...json, decoder: { type: 'NoSuchDecoder' } }, config, /NoSuchDecoder/],
    ['BPE without vocab', { ...json, model: { type: 'BPE', merges: [] } }, config, /./],
    ['no added_tokens', { ...json, added_tokens: undefined }, config, null],
  ];
  for (const [name, tokenizerJson, tokenizerConfig, cause] of cases) {
    assert.throws(
      () => MgieTokenizer.fromJson(tokenizerJson, tokenizerConfig),
      (error: unknown) => {
        assert.ok(isMgieError(error, 'MGIE_ERR_BUNDLE_TOKENIZER'), name);
        assert.match(error.message, /tokenizer\.json is invalid/, name);
        // The library's own error, kept as the cause.
        if (cause) assert.match((error.cause as Error).message, cause, name);
        return true;
      },
      name,
    );
  }
  assert.throws(() => MgieTokenizer.fromJson(json, { ...config, bos_token: '<nope>' }), /tokenizer_config\.json is invalid: its bos_token \("<nope>"\)/);
  assert.throws(() => MgieTokenizer.fromJson(json, { ...config, bos_token: undefined }), /tokenizer_config\.json is invalid/);
});
