// The generation loop on the tiny bundle's real decoder.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type LoadedBundle, loadBundleAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { argmax } from '../../companion-server/engine/generation/argmax.ts';
import { generateGreedyAsync, type GenerationConfig } from '../../companion-server/engine/generation/generate-greedy.ts';
import { NoRepeatNgram } from '../../companion-server/engine/generation/no-repeat-ngram.ts';
import { emptyTensor, float32Data, float32Tensor, int64Tensor } from '../../companion-server/engine/onnx-runtime.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let bundle: LoadedBundle;
before(async () => {
  bundle = await loadBundleAsync(await tinyBundleDirAsync());
});
after(() => bundle.releaseAsync());

function config(overrides: Partial<GenerationConfig> = {}): GenerationConfig {
  const { manifest, tokenIds } = bundle;
  return { ...manifest.llm, maxNewTokens: 12, noRepeatNgramSize: 3, eosTokenId: tokenIds.eos, ...overrides };
}

async function embedAsync(ids: readonly number[]): Promise<Float32Array> {
  const out = await bundle.sessions.embed.runAsync({ input_ids: int64Tensor(ids, [1, ids.length]) });
  return float32Data(out.inputs_embeds).slice();
}

async function promptAsync(instruction: string): Promise<{ ids: number[]; embeds: Float32Array }> {
  const { ids } = buildPromptIds(instruction, bundle.manifest, bundle.tokenizer, bundle.tokenIds);
  return { ids, embeds: await embedAsync(ids) };
}

/** One decoder pass over the whole sequence, no cache. */
async function fullPassAsync(ids: readonly number[]): Promise<{ logits: Float32Array; hidden: Float32Array }> {
  const { numLayers, numKvHeads, headDim, hiddenSize } = bundle.manifest.llm;
  const past: Record<string, ReturnType<typeof emptyTensor>> = {};
  for (let i = 0; i < numLayers; i++) for (const p of ['key', 'value']) past[`past_key_values.${i}.${p}`] = emptyTensor('float32', [1, numKvHeads, 0, headDim]);
  const out = await bundle.sessions.decoder.runAsync({
    inputs_embeds: float32Tensor(await embedAsync(ids), [1, ids.length, hiddenSize]),
    attention_mask: int64Tensor(new Array(ids.length).fill(1), [1, ids.length]),
    position_ids: int64Tensor([...ids.keys()], [1, ids.length]),
    ...past,
  });
  return { logits: float32Data(out.logits), hidden: float32Data(out.last_hidden_state) };
}

test('the KV-cache path gives the same hidden states and choices as recomputing the whole sequence', async () => {
  const prompt = await promptAsync('make the frame red');
  const result = await generateGreedyAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: prompt.ids, promptEmbeds: prompt.embeds, config: config() });
  assert.equal(result.generatedIds.length, 12);
  assert.equal(result.hiddenStates.length, result.sequence.length - 1);

  const { hiddenSize: D, vocabSize: V } = bundle.manifest.llm;
  const inputs = result.sequence.slice(0, -1);
  const full = await fullPassAsync(inputs);
  const cached = result.hiddenStates.rows(0, inputs.length);
  let maxDiff = 0;
  for (let i = 0; i < cached.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cached[i] - full.hidden[i]));
  assert.ok(maxDiff < 1e-3, `hidden states differ by ${maxDiff}`);

  // Greedy with no-repeat on the full pass's logits picks the same tokens.
  const noRepeat = new NoRepeatNgram(3, prompt.ids);
  for (let k = 0; k < result.generatedIds.length; k++) {
    const position = prompt.ids.length - 1 + k;
    const logits = full.logits.slice(position * V, (position + 1) * V);
    noRepeat.apply(logits);
    const choice = argmax(logits);
    assert.equal(choice, result.generatedIds[k], `token ${k}`);
    noRepeat.push(choice);
  }
  assert.ok(D > 0);
});

test('no-repeat-ngram changes what a repetitive random model says', async () => {
  const prompt = await promptAsync('turn the day into night');
  const run = (noRepeatNgramSize: number) =>
    generateGreedyAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: prompt.ids, promptEmbeds: prompt.embeds, config: config({ noRepeatNgramSize, maxNewTokens: 40 }) });
  const [free, constrained] = [await run(0), await run(3)];
  const trigrams = (ids: number[]) => ids.slice(2).map((_, i) => ids.slice(i, i + 3).join(','));
  const repeated = (ids: number[]) => trigrams(ids).length - new Set(trigrams(ids)).size;
  assert.equal(repeated(constrained.sequence), repeated(prompt.ids), 'no trigram repeats beyond those already in the prompt');
  assert.notDeepEqual(free.generatedIds, constrained.generatedIds);
});

test('generation stops at EOS and keeps no hidden state for the last token', async () => {
  const prompt = await promptAsync('give him a beard');
  // Make whatever the model says first act as EOS: the loop must stop right there.
  const first = await generateGreedyAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: prompt.ids, promptEmbeds: prompt.embeds, config: config({ maxNewTokens: 3 }) });
  const eos = first.generatedIds[1];
  const stopped = await generateGreedyAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: prompt.ids, promptEmbeds: prompt.embeds, config: config({ eosTokenId: eos }) });
  assert.equal(stopped.stoppedBy, 'eos');
  const stopAt = first.generatedIds.indexOf(eos);
  assert.deepEqual(stopped.generatedIds, first.generatedIds.slice(0, stopAt + 1));
  assert.equal(stopped.hiddenStates.length, prompt.ids.length + stopAt);
});

test('max new tokens bounds the answer', async () => {
  const prompt = await promptAsync('remove the text');
  const result = await generateGreedyAsync({ embed: bundle.sessions.embed, decoder: bundle.sessions.decoder, promptIds: prompt.ids, promptEmbeds: prompt.embeds, config: config({ maxNewTokens: 5 }) });
  assert.equal(result.stoppedBy, 'max-new-tokens');
  assert.equal(result.generatedIds.length, 5);
});
