// Variations (one UNet run per step for all of them) and chains (each step edits the last) on the tiny bundle.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { type EditProgress, MAX_VARIATIONS, MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import type { ModelSession } from '../../companion-server/engine/onnx-runtime.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let pipeline: MgiePipeline;
let photo: Buffer;

before(async () => {
  pipeline = await MgiePipeline.loadAsync(await tinyBundleDirAsync());
  photo = await samplePhotoAsync(160, 120);
});
after(() => pipeline.releaseAsync());

const quick = { steps: 3, size: 128, seed: 4242 };

/** Counts a session's runs and the batch sizes it saw (its first input's first dimension), restoring it after. */
function countRuns(session: ModelSession): { batches: number[]; restore: () => void } {
  const batches: number[] = [];
  const original = session.runAsync.bind(session);
  session.runAsync = async (feeds) => {
    batches.push(Object.values(feeds)[0].dims[0]);
    return original(feeds);
  };
  return { batches, restore: () => void (session.runAsync = original) };
}

test('variations run the LLM once and the UNet once per step for all of them; variation k is the edit with seed + k - 1', async () => {
  const { sessions } = pipeline.bundle;
  const unet = countRuns(sessions.unet);
  const decoder = countRuns(sessions.decoder);
  let result;
  try {
    result = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: quick, variations: 3 });
  } finally {
    unet.restore();
    decoder.restore();
  }
  assert.deepEqual(unet.batches, [9, 9, 9], 'one run per step, 3 guidance branches x 3 variations');
  const single = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: quick });
  assert.equal(decoder.batches.length, single.generatedTokens, 'the decoder ran as for one edit');
  assert.equal(result.variations?.length, 3);
  assert.deepEqual(result.variations.map((v) => v.seed), [4242, 4243, 4244]);
  assert.ok(result.png.equals(result.variations[0].png));
  assert.ok(result.variations[0].png.equals(single.png), 'variation 1 is the single edit, byte for byte');
  const third = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { ...quick, seed: 4244 } });
  assert.ok(result.variations[2].png.equals(third.png), 'variation 3 is the edit with seed + 2');
  assert.ok(!result.variations[1].png.equals(result.variations[0].png));
  assert.equal(single.variations, undefined, 'no variations field unless asked');
});

test('variations combine with a mask and a given expressive instruction; the seed wraps at 2^32', async () => {
  const mask = await sharp({ create: { width: 160, height: 120, channels: 3, background: '#000' } }).png().toBuffer();
  const result = await pipeline.editAsync({ image: photo, instruction: 'make it red', expressiveInstruction: 'Red everywhere.', mask, variations: 2, parameters: { ...quick, seed: 0xffffffff } });
  assert.deepEqual(result.variations?.map((v) => v.seed), [0xffffffff, 0]);
  const input = await sharp(photo).ensureAlpha().raw().toBuffer();
  for (const variation of result.variations ?? []) assert.deepEqual(await sharp(variation.png).ensureAlpha().raw().toBuffer(), input);
});

test('variations out of range are refused with the range', async () => {
  for (const variations of [0, MAX_VARIATIONS + 1, 1.5, Number.NaN]) {
    await assert.rejects(
      pipeline.editAsync({ image: photo, instruction: 'make it red', parameters: quick, variations }),
      (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && /variations must be a whole number from 1 to 8/.test((error as Error).message),
    );
  }
});

test('a chain edits each step\'s result, reports each step, and equals the edits run one by one', async () => {
  const events: EditProgress[] = [];
  const instructions = ['make it autumn', 'add fog', 'warmer light'];
  const chain = await pipeline.editChainAsync({ image: photo, instructions, parameters: quick }, { onProgress: (e) => events.push(e) });
  assert.equal(chain.steps.length, 3);
  assert.ok(chain.png.equals(chain.steps[2].png));
  assert.deepEqual(
    events.filter((e) => e.type === 'chain-step'),
    instructions.map((instruction, k) => ({ type: 'chain-step', step: k + 1, steps: 3, instruction })),
  );
  // each chain-step event is followed by that step's own stages
  const order = events.filter((e) => e.type === 'chain-step' || (e.type === 'stage' && e.stage === 'prepare')).map((e) => e.type);
  assert.deepEqual(order, ['chain-step', 'stage', 'chain-step', 'stage', 'chain-step', 'stage']);
  let image: Buffer = photo;
  for (const [k, instruction] of instructions.entries()) {
    const alone = await pipeline.editAsync({ image, instruction, parameters: quick });
    assert.ok(alone.png.equals(chain.steps[k].png), `step ${k + 1} is the edit of step ${k}'s picture`);
    assert.equal(chain.steps[k].expressiveInstruction, alone.expressiveInstruction);
    image = alone.png;
  }
  assert.ok(!chain.steps[0].png.equals(chain.steps[1].png));
});

test('a chain without a seed draws one for all its steps; a bad instruction anywhere stops it before any work', async () => {
  const chain = await pipeline.editChainAsync({ image: photo, instructions: ['make it red', 'make it blue'], parameters: { steps: 1, size: 64 } });
  assert.equal(chain.steps[0].parameters.seed, chain.steps[1].parameters.seed);
  const unet = countRuns(pipeline.bundle.sessions.unet);
  try {
    await assert.rejects(
      pipeline.editChainAsync({ image: photo, instructions: ['make it red', 'add [IMG0] fog'], parameters: quick }),
      (error: unknown) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && /^Instruction 2 of the chain: .*reserved token "\[IMG0\]"/.test((error as Error).message),
    );
    await assert.rejects(pipeline.editChainAsync({ image: photo, instructions: [], parameters: quick }), /A chain needs 1 to 8 instructions, got 0/);
  } finally {
    unet.restore();
  }
  assert.deepEqual(unet.batches, []);
});
