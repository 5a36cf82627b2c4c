// The small parts of generation on their own: argmax's ties and window, the KV cache's hand-over
// from present.* to past_key_values.*, and the prompt's guard against special tokens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BundleManifest } from '../../companion-server/engine/bundle/bundle-manifest.ts';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { argmax } from '../../companion-server/engine/generation/argmax.ts';
import { KvCache } from '../../companion-server/engine/generation/kv-cache.ts';
import { float32Tensor } from '../../companion-server/engine/onnx-runtime.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';
import { MgieTokenizer } from '../../companion-server/engine/tokenizer.ts';
import { buildTinyTokenizer } from '../../models/tiny/build-tiny-tokenizer.ts';

test('argmax: the first index of the largest value, within the window asked for', () => {
  const data = Float32Array.from([1, 5, 5, 2, 9, 9]);
  assert.equal(argmax(data), 4, 'first of the tied maxima');
  assert.equal(argmax(data, 0, 4), 1);
  assert.equal(argmax(data, 2, 2), 0, 'relative to the offset');
  assert.equal(argmax(data, 3), 1);
  assert.equal(argmax(Float32Array.from([-Infinity, -Infinity])), 0);
  assert.equal(argmax(Float32Array.from([-3, -1, -2])), 1);
});

test('KvCache: empty [1, Hkv, 0, Dh] pasts of the asked type, then each run\'s presents as the next pasts, by reference', () => {
  const cache = new KvCache(2, 3, 4, 'float16');
  const feeds = cache.feeds();
  assert.deepEqual(Object.keys(feeds), ['past_key_values.0.key', 'past_key_values.0.value', 'past_key_values.1.key', 'past_key_values.1.value']);
  for (const tensor of Object.values(feeds)) {
    assert.equal(tensor.type, 'float16');
    assert.deepEqual(tensor.dims, [1, 3, 0, 4]);
  }
  assert.equal(cache.length, 0);
  const present = (tag: number) => float32Tensor(new Float32Array(3 * 5 * 4).fill(tag), [1, 3, 5, 4]);
  const outputs = { 'present.0.key': present(1), 'present.0.value': present(2), 'present.1.key': present(3), 'present.1.value': present(4), logits: present(9) };
  cache.update(outputs);
  assert.equal(cache.length, 5);
  assert.deepEqual(cache.feeds(), {
    'past_key_values.0.key': outputs['present.0.key'],
    'past_key_values.0.value': outputs['present.0.value'],
    'past_key_values.1.key': outputs['present.1.key'],
    'past_key_values.1.value': outputs['present.1.value'],
  });
  assert.equal(cache.feeds()['past_key_values.1.value'], outputs['present.1.value']);
});

test('buildPromptIds: an instruction holding any special token is refused, naming it', () => {
  const built = buildTinyTokenizer();
  const tokenizer = MgieTokenizer.fromJson(JSON.parse(JSON.stringify(built.tokenizerJson)), JSON.parse(JSON.stringify(built.tokenizerConfig)));
  const tokens = { bos: '<s>', eos: '</s>', imPatch: '<im_patch>', imStart: '<im_start>', imEnd: '<im_end>', img: ['[IMG0]', '[IMG1]'] };
  const manifest = { tokens, vision: { numPatches: 4 }, prompt: { template: "USER: '{instruction}'\n{image} ASSISTANT:" } } as unknown as BundleManifest;
  const id = (token: string) => tokenizer.tokenToId(token)!;
  const tokenIds = { bos: id('<s>'), eos: id('</s>'), imPatch: id('<im_patch>'), imStart: id('<im_start>'), imEnd: id('<im_end>'), img: [id('[IMG0]'), id('[IMG1]')] };
  const prompt = buildPromptIds('make it $& red', manifest, tokenizer, tokenIds);
  assert.equal(prompt.ids[0], tokenIds.bos);
  assert.deepEqual(prompt.ids.slice(prompt.imagePatchStart - 1, prompt.imagePatchStart + 5), [tokenIds.imStart, ...Array(4).fill(tokenIds.imPatch), tokenIds.imEnd]);
  assert.ok(tokenizer.decode(prompt.ids).includes("'make it $& red'"), 'the instruction is inserted literally');
  for (const token of ['<s>', '</s>', '<im_patch>', '<im_start>', '<im_end>', '[IMG0]', '[IMG1]']) {
    assert.throws(
      () => buildPromptIds(`make ${token} red`, manifest, tokenizer, tokenIds),
      (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && error.message === `The instruction contains the reserved token "${token}". Remove it and try again.`,
    );
  }
});
