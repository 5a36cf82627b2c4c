// Teacher forcing: the decoder runs once over the prompt and a given answer (no generation), so that a
// designer's own expressive instruction yields visual tokens as if the model had said it.
import { throwIfAborted } from '../errors.ts';
import { float32Data, float32Tensor, int64Tensor, type ModelSession } from '../onnx-runtime.ts';
import { HiddenStates } from './hidden-states.ts';
import { KvCache } from './kv-cache.ts';

export interface TeacherForcingInput {
  embed: ModelSession;
  decoder: ModelSession;
  /** Prompt ids and their embeddings, image features already spliced in (as for generation). */
  promptIds: readonly number[];
  promptEmbeds: Float32Array;
  /** The answer to force: what generation would have produced (text ids, [IMG0]..[IMG(K-1)], EOS). */
  answerIds: readonly number[];
  config: { numLayers: number; numKvHeads: number; headDim: number; hiddenSize: number };
  signal?: AbortSignal;
}

export interface TeacherForcingResult {
  /** Prompt ids followed by the answer ids. */
  sequence: number[];
  /** One row per position the decoder ran on: len(sequence) - 1 rows, as generation keeps them. */
  hiddenStates: HiddenStates;
}

/**
 * One prefill over prompt + answer without its last token, through the same KV-cache decoder graph as
 * generation (an empty cache): the last token never runs in generation either, so the rows line up with
 * generation's and selectImgHidden picks the [IMG] positions by the same rule.
 */
export async function teacherForceAsync(input: TeacherForcingInput): Promise<TeacherForcingResult> {
  const { embed, decoder, promptIds, promptEmbeds, answerIds, config, signal } = input;
  const { hiddenSize } = config;
  if (promptEmbeds.length !== promptIds.length * hiddenSize) {
    throw new Error(`prompt embeddings hold ${promptEmbeds.length} values, expected ${promptIds.length} x ${hiddenSize}`);
  }
  if (answerIds.length === 0) throw new Error('teacher forcing needs at least one answer token');
  const forced = answerIds.slice(0, -1);
  const length = promptIds.length + forced.length;
  const embeds = new Float32Array(length * hiddenSize);
  embeds.set(promptEmbeds, 0);
  if (forced.length > 0) {
    throwIfAborted(signal);
    const answerEmbeds = float32Data((await embed.runAsync({ input_ids: int64Tensor(forced, [1, forced.length]) })).inputs_embeds);
    embeds.set(answerEmbeds, promptEmbeds.length);
  }
  const pastType = decoder.inputs.get('past_key_values.0.key')?.type ?? 'float32';
  const cache = new KvCache(config.numLayers, config.numKvHeads, config.headDim, pastType);
  const positions = new BigInt64Array(length);
  for (let i = 0; i < length; i++) positions[i] = BigInt(i);
  throwIfAborted(signal);
  const outputs = await decoder.runAsync({
    inputs_embeds: float32Tensor(embeds, [1, length, hiddenSize]),
    attention_mask: int64Tensor(new BigInt64Array(length).fill(1n), [1, length]),
    position_ids: int64Tensor(positions, [1, length]),
    ...cache.feeds(),
  });
  const hiddenStates = new HiddenStates(hiddenSize);
  hiddenStates.append(float32Data(outputs.last_hidden_state));
  return { sequence: [...promptIds, ...answerIds], hiddenStates };
}
