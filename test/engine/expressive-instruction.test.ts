// The designer's own expressive instruction: teacher forcing on the tiny bundle's real decoder.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { generateGreedyAsync } from '../../companion-server/engine/generation/generate-greedy.ts';
import { selectImgHidden } from '../../companion-server/engine/generation/select-img-hidden.ts';
import { teacherForceAsync } from '../../companion-server/engine/generation/teacher-force.ts';
import { type EditProgress, MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { emptyTensor, float32Data, float32Tensor, int64Tensor } from '../../companion-server/engine/onnx-runtime.ts';
import { buildExpressiveAnswerIds } from '../../companion-server/engine/prompt/build-expressive-answer.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let pipeline: MgiePipeline;
let photo: Buffer;

before(async () => {
  pipeline = await MgiePipeline.loadAsync(await tinyBundleDirAsync());
  photo = await samplePhotoAsync(160, 120);
});
after(() => pipeline.releaseAsync());

const quick = { steps: 3, size: 128, seed: 7 };
const TEXT = 'The trees will have orange and red leaves. The light will be warm.';

async function embedAsync(ids: readonly number[]): Promise<Float32Array> {
  const out = await pipeline.bundle.sessions.embed.runAsync({ input_ids: int64Tensor(ids, [1, ids.length]) });
  return float32Data(out.inputs_embeds).slice();
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

test('teacher forcing over the model\'s own answer reproduces generation\'s hidden states, so its visual tokens', async () => {
  const { bundle } = pipeline;
  const { ids } = buildPromptIds('make it look like autumn', bundle.manifest, bundle.tokenizer, bundle.tokenIds);
  const promptEmbeds = await embedAsync(ids);
  const config = { ...bundle.manifest.llm, maxNewTokens: 24, noRepeatNgramSize: 3, eosTokenId: bundle.tokenIds.eos };
  const generated = await generateGreedyAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: ids, promptEmbeds, config });
  const forced = await teacherForceAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: ids, promptEmbeds, answerIds: generated.generatedIds, config: bundle.manifest.llm });
  assert.deepEqual(forced.sequence, generated.sequence);
  assert.equal(forced.hiddenStates.length, generated.hiddenStates.length);
  const all = maxDifference(forced.hiddenStates.rows(0, forced.hiddenStates.length), generated.hiddenStates.rows(0, generated.hiddenStates.length));
  assert.ok(all < 1e-4, `hidden states differ by up to ${all}`);
  const K = bundle.manifest.editHead.numImgTokens;
  const fromForced = selectImgHidden(forced.sequence, forced.hiddenStates, bundle.tokenIds.img[0], K);
  const fromGenerated = selectImgHidden(generated.sequence, generated.hiddenStates, bundle.tokenIds.img[0], K);
  assert.equal(fromForced.start, fromGenerated.start);
  assert.ok(maxDifference(fromForced.rows, fromGenerated.rows) < 1e-4);
});

test('a given expressive instruction: the [IMG] positions\' hidden states of one full pass feed the edit head', async () => {
  const { bundle } = pipeline;
  const { manifest, tokenizer, tokenIds } = bundle;
  let conditioning: Float32Array | undefined;
  const result = await pipeline.editAsync(
    { image: photo, instruction: 'make it look like autumn', expressiveInstruction: `  ${TEXT}\n`, parameters: quick },
    { onTensor: (name, data) => name === 'conditioning' && (conditioning = data) },
  );
  assert.equal(result.expressiveInstruction, TEXT);
  assert.equal(result.expressiveInstructionSource, 'given');
  assert.equal(result.generatedTokens, 0);
  const answer = buildExpressiveAnswerIds(TEXT, manifest, tokenizer, tokenIds);
  assert.deepEqual(result.generatedIds, answer);
  assert.deepEqual(answer.slice(-9), [...tokenIds.img, tokenIds.eos]);

  // Recompute independently: one decoder pass without the cache helpers over prompt + answer minus EOS,
  // the image features spliced in; the rows that predicted [IMG0]..[IMG7] start one before [IMG0].
  const prompt = buildPromptIds('make it look like autumn', manifest, tokenizer, tokenIds);
  const sequence = [...prompt.ids, ...answer];
  const inputs = sequence.slice(0, -1);
  const { numLayers, numKvHeads, headDim, hiddenSize } = manifest.llm;
  const embeds = await embedAsync(inputs);
  const clip = await import('../../companion-server/engine/image/prepare-clip-pixels.ts');
  const { decodeInputImageAsync } = await import('../../companion-server/engine/image/decode-input-image.ts');
  const image = await decodeInputImageAsync(photo, pipeline.limits);
  const S = manifest.vision.imageSize;
  const pixels = await clip.prepareClipPixelsAsync(image, S, manifest.vision.mean, manifest.vision.std);
  const features = float32Data((await bundle.sessions.vision.runAsync({ pixel_values: float32Tensor(pixels, [1, 3, S, S]) })).image_features);
  embeds.set(features, prompt.imagePatchStart * hiddenSize);
  const past: Record<string, ReturnType<typeof emptyTensor>> = {};
  for (let i = 0; i < numLayers; i++) for (const p of ['key', 'value']) past[`past_key_values.${i}.${p}`] = emptyTensor('float32', [1, numKvHeads, 0, headDim]);
  const out = await bundle.sessions.decoder.runAsync({
    inputs_embeds: float32Tensor(embeds, [1, inputs.length, hiddenSize]),
    attention_mask: int64Tensor(new Array(inputs.length).fill(1), [1, inputs.length]),
    position_ids: int64Tensor([...inputs.keys()], [1, inputs.length]),
    ...past,
  });
  const hidden = float32Data(out.last_hidden_state);
  const start = sequence.indexOf(tokenIds.img[0]) - 1;
  assert.equal(result.imgHiddenStart, start);
  const K = manifest.editHead.numImgTokens;
  const rows = hidden.slice(start * hiddenSize, (start + K) * hiddenSize);
  const expected = float32Data((await bundle.sessions.editHead.runAsync({ img_hidden: float32Tensor(rows, [1, K, hiddenSize]) })).prompt_embeds);
  assert.ok(conditioning);
  assert.ok(maxDifference(conditioning, expected) < 1e-5, 'the edit head saw the [IMG] rows of the forced pass');
});

test('the same seed and the same expressive instruction give the same pixels, and the text is reported', async () => {
  const events: EditProgress[] = [];
  const request = { image: photo, instruction: 'make it look like autumn', expressiveInstruction: TEXT, parameters: quick };
  const first = await pipeline.editAsync(request, { onProgress: (e) => events.push(e) });
  const second = await pipeline.editAsync(request);
  assert.ok(first.png.equals(second.png), 'identical PNG bytes');
  // The generate stage still reports, with no tokens, and the event carries the given text.
  const stages = events.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage);
  assert.deepEqual(stages, ['prepare', 'vision', 'generate', 'condition', 'encode', 'diffuse', 'decode']);
  assert.equal(events.filter((e) => e.type === 'token').length, 0);
  assert.deepEqual(events.filter((e) => e.type === 'expressive-instruction'), [{ type: 'expressive-instruction', text: TEXT }]);
  // Another text is another edit, and the generated path stays as it was (source "model").
  const other = await pipeline.editAsync({ ...request, expressiveInstruction: 'Everything will be blue.' });
  assert.ok(!other.png.equals(first.png));
  const generated = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: quick });
  assert.equal(generated.expressiveInstructionSource, 'model');
  assert.ok(generated.generatedTokens > 0);
});

test('an expressive instruction is checked like an instruction, special tokens refused', async () => {
  const base = { image: photo, instruction: 'make it look like autumn', parameters: quick };
  const refused = async (expressiveInstruction: string, pattern: RegExp) =>
    assert.rejects(pipeline.editAsync({ ...base, expressiveInstruction }), (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && pattern.test((error as Error).message));
  await refused('   ', /expressive instruction is empty/);
  await refused('Make it red. [IMG0]', /reserved token "\[IMG0\]"/);
  await refused('Red.</s>', /reserved token "<\/s>"/);
  await refused('x'.repeat(pipeline.limits.maxInstructionLength + 1), /characters long; the limit is/);
  await refused('bad \ud800 half', /broken character/);
});
