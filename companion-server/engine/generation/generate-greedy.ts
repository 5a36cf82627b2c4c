// Greedy generation with a KV cache (mgie-reference.md §3): no sampling, one beam, at most
// maxNewTokens, stop at EOS, no-repeat n-grams over the whole sequence.
import { throwIfAborted } from '../errors.ts';
import { float32Data, float32Tensor, int64Tensor, type ModelSession } from '../onnx-runtime.ts';
import { argmax } from './argmax.ts';
import { HiddenStates } from './hidden-states.ts';
import { KvCache } from './kv-cache.ts';
import { NoRepeatNgram } from './no-repeat-ngram.ts';

export interface GenerationConfig {
  maxNewTokens: number;
  noRepeatNgramSize: number;
  eosTokenId: number;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
}

export interface GenerationInput {
  embed: ModelSession;
  decoder: ModelSession;
  /** Prompt ids (with the image placeholder ids) and their embeddings, image features already spliced in. */
  promptIds: readonly number[];
  promptEmbeds: Float32Array;
  config: GenerationConfig;
  signal?: AbortSignal;
  /** Called after each new token with all generated ids so far. */
  onToken?: (generatedIds: readonly number[]) => void;
}

export interface GenerationResult {
  /** Prompt ids followed by generated ids. */
  sequence: number[];
  generatedIds: number[];
  /** One row per position the decoder ran on: len(sequence) - 1 rows (the last token never runs). */
  hiddenStates: HiddenStates;
  stoppedBy: 'eos' | 'max-new-tokens';
}

export async function generateGreedyAsync(input: GenerationInput): Promise<GenerationResult> {
  const { embed, decoder, promptIds, promptEmbeds, config, signal } = input;
  const { hiddenSize, vocabSize } = config;
  const promptLength = promptIds.length;
  if (promptEmbeds.length !== promptLength * hiddenSize) {
    throw new Error(`prompt embeddings hold ${promptEmbeds.length} values, expected ${promptLength} x ${hiddenSize}`);
  }
  const pastType = decoder.inputs.get('past_key_values.0.key')?.type ?? 'float32';
  const cache = new KvCache(config.numLayers, config.numKvHeads, config.headDim, pastType);
  const noRepeat = new NoRepeatNgram(config.noRepeatNgramSize, promptIds);
  const hiddenStates = new HiddenStates(hiddenSize);
  const generatedIds: number[] = [];

  let inputsEmbeds = float32Tensor(promptEmbeds, [1, promptLength, hiddenSize]);
  let stoppedBy: GenerationResult['stoppedBy'] = 'max-new-tokens';
  while (generatedIds.length < config.maxNewTokens) {
    const newLength = inputsEmbeds.dims[1];
    const total = cache.length + newLength;
    throwIfAborted(signal);
    const outputs = await decoder.runAsync({
      inputs_embeds: inputsEmbeds,
      attention_mask: int64Tensor(new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: int64Tensor(positions(cache.length, newLength), [1, newLength]),
      ...cache.feeds(),
    });
    cache.update(outputs);
    hiddenStates.append(float32Data(outputs.last_hidden_state));

    // Only the last position's logits matter; copy them so banning tokens leaves the output intact.
    const logits = float32Data(outputs.logits).slice((newLength - 1) * vocabSize, newLength * vocabSize);
    noRepeat.apply(logits);
    const next = argmax(logits);
    generatedIds.push(next);
    noRepeat.push(next);
    input.onToken?.(generatedIds);
    if (next === config.eosTokenId) {
      stoppedBy = 'eos';
      break;
    }
    if (generatedIds.length >= config.maxNewTokens) break;

    throwIfAborted(signal);
    const embedded = await embed.runAsync({ input_ids: int64Tensor([next], [1, 1]) });
    inputsEmbeds = embedded.inputs_embeds;
  }
  return { sequence: [...promptIds, ...generatedIds], generatedIds, hiddenStates, stoppedBy };
}

function positions(start: number, count: number): BigInt64Array {
  const ids = new BigInt64Array(count);
  for (let i = 0; i < count; i++) ids[i] = BigInt(start + i);
  return ids;
}
