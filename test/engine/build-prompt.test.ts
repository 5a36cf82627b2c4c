// buildPromptIds with the tiny tokenizer: what instruction text may do to the prompt. The ids themselves are
// checked against the reference's slow tokenizer on LLaMA's real vocabulary in test/models/llama-vocabulary.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BundleManifest } from '../../companion-server/engine/bundle/bundle-manifest.ts';
import type { TokenIds } from '../../companion-server/engine/bundle/load-bundle.ts';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';
import { MgieTokenizer } from '../../companion-server/engine/tokenizer.ts';
import { buildTinyTokenizer } from '../../models/tiny/build-tiny-tokenizer.ts';

const NUM_PATCHES = 16;
const IMG = Array.from({ length: 8 }, (_, i) => `[IMG${i}]`);
const TEMPLATE = "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: what will this image be like if '{instruction}'\n{image} ASSISTANT:";

const built = buildTinyTokenizer();
const tokenizer = MgieTokenizer.fromJson(built.tokenizerJson, built.tokenizerConfig);
const id = (token: string): number => tokenizer.tokenToId(token)!;
const tokenIds: TokenIds = { bos: id('<s>'), eos: id('</s>'), imPatch: id('<im_patch>'), imStart: id('<im_start>'), imEnd: id('<im_end>'), img: IMG.map(id) };
const manifestWith = (template: string): BundleManifest => ({
  tokens: { bos: '<s>', eos: '</s>', imPatch: '<im_patch>', imStart: '<im_start>', imEnd: '<im_end>', img: IMG },
  vision: { numPatches: NUM_PATCHES },
  prompt: { template },
}) as unknown as BundleManifest;
const manifest = manifestWith(TEMPLATE);

const refused = (pattern: RegExp) => (error: unknown): boolean => {
  assert.ok(isMgieError(error, 'MGIE_ERR_BAD_PARAMETER'), String(error));
  assert.match(error.message, pattern);
  return true;
};

test('an instruction holding the text of any added token is refused, <unk> included', () => {
  // The reference's slow tokenizer turns such text into the token itself: <im_patch>, <im_start>, <im_end>,
  // [IMGk], <s> or </s> would shift the image or IMG positions, and whether it strips the spaces around <unk>
  // depends on how LLaVA's saved special tokens load (see build-prompt.ts), so no ids can be promised for it.
  for (const token of ['<unk>', '<s>', '</s>', '<im_patch>', '<im_start>', '<im_end>', ...IMG]) {
    for (const instruction of [token, `make it ${token} red`, `make it${token}red`]) {
      assert.throws(() => buildPromptIds(instruction, manifest, tokenizer, tokenIds), refused(new RegExp(`reserved token "${token.replace(/[[\]]/g, '\\$&')}"`)), instruction);
    }
  }
});

test('"{image}" and "{instruction}" in the instruction stay text: the template is filled in one pass', () => {
  for (const instruction of ['make the {image} red', '{image}', 'make {instruction} red', '{instruction}{image}']) {
    const { ids, imagePatchStart } = buildPromptIds(instruction, manifest, tokenizer, tokenIds);
    assert.equal(ids.filter((x) => x === tokenIds.imPatch).length, NUM_PATCHES, instruction);
    assert.equal(ids.filter((x) => x === tokenIds.imStart).length, 1, instruction);
    // the text before <im_start>, with the tiny tokenizer's "\n" (its added tokens strip nothing)
    const text = tokenizer.decode(ids.slice(1, imagePatchStart - 1));
    assert.ok(text.endsWith(`if '${instruction}'\n`), `${instruction}: ${JSON.stringify(text)}`);
  }
});

test('instruction text that completes an added token with the template around it is refused', () => {
  // A bundle's template may put a slot next to text such as "<": "s>" after it makes "<s>", a second BOS.
  const template = "USER: what will this image be like if <{instruction}\n{image} ASSISTANT:";
  assert.doesNotThrow(() => buildPromptIds('make it red', manifestWith(template), tokenizer, tokenIds));
  assert.throws(() => buildPromptIds('s> make it red', manifestWith(template), tokenizer, tokenIds), refused(/forms the reserved token "<s>" with the prompt template around it/));
  assert.throws(() => buildPromptIds('im_end> make it red', manifestWith(template), tokenizer, tokenIds), refused(/forms the reserved token "<im_end>"/));
  assert.throws(() => buildPromptIds('unk>', manifestWith(template), tokenizer, tokenIds), refused(/forms the reserved token "<unk>"/));
});
