// tokenizer_config.json as MgieTokenizer reads it: it must be an object, and its bos_token may be a
// string or transformers' AddedToken object ({ content: ... }); anything else is refused by name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { MgieTokenizer } from '../../companion-server/engine/tokenizer.ts';
import { buildTinyTokenizer } from '../../models/tiny/build-tiny-tokenizer.ts';

const built = buildTinyTokenizer();
const json = () => JSON.parse(JSON.stringify(built.tokenizerJson));
const config = () => JSON.parse(JSON.stringify(built.tokenizerConfig));

function assertInvalid(tokenizerConfig: unknown, message: string): void {
  assert.throws(
    () => MgieTokenizer.fromJson(json(), tokenizerConfig),
    (error: unknown) => isMgieError(error, 'MGIE_ERR_BUNDLE_TOKENIZER') && error.message === message,
  );
}

test('a tokenizer config that is not a JSON object is refused, naming tokenizer_config.json', () => {
  for (const bad of [null, 'bos', ['<s>'], 3]) {
    assertInvalid(bad, 'The tokenizer_config.json is invalid: it is not a JSON object. Re-export the tokenizer with Hugging Face tokenizers.');
  }
});

test('bos_token as an AddedToken object ({ content }) is the same BOS as the plain string', () => {
  const plain = MgieTokenizer.fromJson(json(), config());
  const object = MgieTokenizer.fromJson(json(), { ...config(), bos_token: { content: '<s>', lstrip: false, rstrip: false, special: true } });
  assert.equal(object.bosId, plain.bosId);
  assert.deepEqual(object.encode('make it red'), plain.encode('make it red'));
});

test('a bos_token that is missing, not a token, or an object without string content is refused, quoted', () => {
  assertInvalid({ ...config(), bos_token: { content: 5 } }, 'The tokenizer_config.json is invalid: its bos_token ({"content":5}) is not a token of tokenizer.json. Re-export the tokenizer with Hugging Face tokenizers.');
  assertInvalid({ ...config(), bos_token: '<bos>' }, 'The tokenizer_config.json is invalid: its bos_token ("<bos>") is not a token of tokenizer.json. Re-export the tokenizer with Hugging Face tokenizers.');
  const withoutBos = config();
  delete withoutBos.bos_token;
  assertInvalid(withoutBos, 'The tokenizer_config.json is invalid: its bos_token (undefined) is not a token of tokenizer.json. Re-export the tokenizer with Hugging Face tokenizers.');
});

test('ids outside the vocabulary have no token', () => {
  const tokenizer = MgieTokenizer.fromJson(json(), config());
  assert.equal(tokenizer.idToToken(-1), undefined);
  assert.equal(tokenizer.idToToken(1.5), undefined);
  assert.equal(tokenizer.idToToken(tokenizer.bosId), '<s>');
  assert.equal(tokenizer.idToToken(0), '<unk>');
  assert.equal(tokenizer.vocabSize, 1011);
  assert.equal(tokenizer.decode([]), '');
});
