// The whole edit on the tiny bundle with real ONNX Runtime sessions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type EditProgress, MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { TorchGenerator } from '../../companion-server/engine/torch-random/torch-generator.ts';
import { countCharacters } from '../../companion-server/protocol/count-characters.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let pipeline: MgiePipeline;
let photo: Buffer;

before(async () => {
  pipeline = await MgiePipeline.loadAsync(await tinyBundleDirAsync());
  photo = await samplePhotoAsync(301, 173);
});
after(() => pipeline.releaseAsync());

const quick = { steps: 4, size: 128 };

test('an edit returns a PNG at the input size, with the expressive instruction and timings', async () => {
  const events: EditProgress[] = [];
  const result = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { ...quick, seed: 1 } }, { onProgress: (e) => events.push(e) });
  const meta = await sharp(result.png).metadata();
  assert.equal(meta.format, 'png');
  assert.deepEqual([meta.width, meta.height, result.width, result.height], [301, 173, 301, 173]);
  assert.deepEqual([result.editWidth, result.editHeight], [128, 128]);
  assert.equal(typeof result.expressiveInstruction, 'string');
  assert.equal(result.parameters.seed, 1);
  assert.equal(result.parameters.scheduler, 'euler-ancestral');
  assert.ok(result.generatedTokens >= 1 && result.generatedTokens <= 96);
  for (const stage of Object.keys(result.timings)) assert.ok(result.timings[stage as keyof typeof result.timings] >= 0);

  // 1. stages in order, 2. tokens, 3. the instruction before conditioning, 4. one event per step
  const stages = events.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage);
  assert.deepEqual(stages, ['prepare', 'vision', 'generate', 'condition', 'encode', 'diffuse', 'decode']);
  const instructionAt = events.findIndex((e) => e.type === 'expressive-instruction');
  const conditionAt = events.findIndex((e) => e.type === 'stage' && e.stage === 'condition');
  assert.ok(instructionAt > 0 && instructionAt < conditionAt);
  assert.equal(events.filter((e) => e.type === 'token').length, result.generatedTokens);
  const steps = events.filter((e) => e.type === 'step') as Extract<EditProgress, { type: 'step' }>[];
  assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4]);
  assert.deepEqual([...steps[0].latentShape], [1, 4, 16, 16]);
  // the image's rows 24 to 97 of 128: latent rows 3 to 12 (previews show these, not the padding)
  assert.deepEqual(steps[0].latentRegion, { left: 0, top: 3, width: 16, height: 10 });
});

test('maxNewTokens (the server\'s warm-up) stops generation early, still runs every model, and never raises the manifest\'s limit', async () => {
  const tokens: number[] = [];
  const short = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { ...quick, steps: 1, seed: 1 } }, {
    maxNewTokens: 2,
    onProgress: (e) => e.type === 'token' && tokens.push(e.maxNewTokens),
  });
  assert.ok(short.generatedTokens >= 1 && short.generatedTokens <= 2, `${short.generatedTokens} tokens`);
  assert.deepEqual([...new Set(tokens)], [2]);
  assert.ok(short.timings.decode > 0 && short.png.length > 0);
  const full = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { ...quick, steps: 1, seed: 1 } });
  const capped = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { ...quick, steps: 1, seed: 1 } }, { maxNewTokens: 10_000 });
  assert.deepEqual(capped.generatedIds, full.generatedIds);
  assert.ok(full.generatedTokens > 2, 'the tiny bundle generates more than 2 tokens for this instruction');
});

test('the image keeps its aspect ratio on the edit canvas: padded to the multiple, not stretched', async () => {
  // 301x173 at 128: the region is 128x74 (173 * 128 / 301 = 73.6), centred on a 128x128 canvas
  const result = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { ...quick, seed: 1 } });
  assert.deepEqual(result.editRegion, { left: 0, top: 24, width: 128, height: 74 });
  assert.ok(Math.abs(result.editRegion.width / result.editRegion.height - 301 / 173) < 1 / 74);
  assert.equal(result.parameters.sizeMode, 'fit');
  const meta = await sharp(result.png).metadata();
  assert.deepEqual([meta.width, meta.height], [301, 173]);
});

test('size mode native edits at the image\'s own size (floored to 8, padded to 64), within the edit size limit', async () => {
  const result = await pipeline.editAsync({ image: photo, instruction: 'make it look like autumn', parameters: { steps: 2, seed: 1, sizeMode: 'native' } });
  assert.equal(result.parameters.sizeMode, 'native');
  assert.deepEqual([result.editWidth, result.editHeight, result.editRegion], [320, 192, { left: 8, top: 8, width: 296, height: 168 }]);
  assert.deepEqual([result.width, result.height], [301, 173]);
  const big = await samplePhotoAsync(1100, 300);
  await assert.rejects(
    pipeline.editAsync({ image: big, instruction: 'x', parameters: { steps: 1, sizeMode: 'native' } }),
    (error: any) => error.code === 'MGIE_ERR_IMAGE_TOO_LARGE' && /size mode "native"/.test(error.message),
  );
  assert.throws(() => pipeline.editSize(1100, 300, pipeline.resolveParameters({ sizeMode: 'native' })), /edit size limit is 1024/);
});

test('the same seed gives a byte-identical PNG; another seed does not', async () => {
  const request = { image: photo, instruction: 'turn the day into night', parameters: { ...quick, seed: 13331 } };
  const first = await pipeline.editAsync(request);
  const second = await pipeline.editAsync(request);
  assert.ok(first.png.equals(second.png), 'same seed, same bytes');
  assert.equal(first.expressiveInstruction, second.expressiveInstruction);
  const other = await pipeline.editAsync({ ...request, parameters: { ...quick, seed: 13332 } });
  assert.ok(!first.png.equals(other.png), 'another seed changes the result');
});

test('without a seed one is drawn and reported', async () => {
  const result = await pipeline.editAsync({ image: photo, instruction: 'add snow', parameters: quick });
  assert.ok(Number.isInteger(result.parameters.seed) && result.parameters.seed >= 0 && result.parameters.seed <= 0xffffffff);
});

test('the instruction changes the result (it reaches the diffusion through the MLLM and edit head)', async () => {
  const a = await pipeline.editAsync({ image: photo, instruction: 'make the frame red', parameters: { ...quick, seed: 5 } });
  const b = await pipeline.editAsync({ image: photo, instruction: 'give him a beard', parameters: { ...quick, seed: 5 } });
  assert.ok(!a.png.equals(b.png));
});

test('all three schedulers run; the deterministic ones ignore nothing but the seed-drawn start', async () => {
  for (const scheduler of ['euler-ancestral', 'euler', 'ddim'] as const) {
    const result = await pipeline.editAsync({ image: photo, instruction: 'darken the image', parameters: { ...quick, seed: 3, scheduler } });
    assert.equal(result.parameters.scheduler, scheduler);
  }
});

test('given initial noise replaces the seeded draw (for comparisons with a reference run); a wrong size is refused', async () => {
  const request = { image: photo, instruction: 'add a rainbow', parameters: { ...quick, seed: 21, scheduler: 'ddim' as const } };
  const seeded = await pipeline.editAsync(request);
  assert.equal(seeded.generatedIds.length, seeded.generatedTokens);
  const count = 4 * (seeded.editWidth / 8) * (seeded.editHeight / 8);
  // DDIM draws nothing after the start, so the seed's own first draw reproduces the seeded edit exactly
  const same = await pipeline.editAsync(request, { initialNoise: new TorchGenerator(21).randn(count) });
  assert.ok(same.png.equals(seeded.png));
  assert.deepEqual(same.generatedIds, seeded.generatedIds);
  const other = await pipeline.editAsync(request, { initialNoise: new TorchGenerator(22).randn(count) });
  assert.ok(!other.png.equals(seeded.png));
  await assert.rejects(pipeline.editAsync(request, { initialNoise: new Float32Array(count - 1) }), new RegExp(`initial noise has ${count - 1} values; this edit's latents have ${count}`));
});

test('guidance off runs the conditional branch only, and differs from guided', async () => {
  const guided = await pipeline.editAsync({ image: photo, instruction: 'remove the text', parameters: { ...quick, seed: 9 } });
  const unguided = await pipeline.editAsync({ image: photo, instruction: 'remove the text', parameters: { ...quick, seed: 9, guidanceScale: 1 } });
  assert.ok(!guided.png.equals(unguided.png));
});

test('a transparent input keeps its alpha channel', async () => {
  const result = await pipeline.editAsync({ image: await samplePhotoAsync(96, 80, { alpha: true }), instruction: 'make more brightness', parameters: { ...quick, seed: 2 } });
  const { data, info } = await sharp(result.png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 4);
  assert.equal(data[3], 0); // left quarter transparent
  assert.equal(data[(info.width - 1) * 4 + 3], 255);
});

test('cancelling stops the edit before the next model run', async () => {
  const controller = new AbortController();
  let stepsSeen = 0;
  await assert.rejects(
    pipeline.editAsync(
      { image: photo, instruction: 'make the face happy', parameters: { steps: 50, size: 128, seed: 4 } },
      {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type === 'step' && ++stepsSeen === 2) controller.abort();
        },
      },
    ),
    (error: any) => error.code === 'MGIE_ERR_CANCELLED',
  );
  assert.equal(stepsSeen, 2);
});

test('cancelling during generation stops there too', async () => {
  const controller = new AbortController();
  let tokens = 0;
  await assert.rejects(
    pipeline.editAsync({ image: photo, instruction: 'make cottage a mansion', parameters: quick }, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'token' && ++tokens === 1) controller.abort();
      },
    }),
    (error: any) => error.code === 'MGIE_ERR_CANCELLED',
  );
  assert.equal(tokens, 1);
});

test('bad parameters are refused with the allowed range', async () => {
  const cases: [object, RegExp][] = [
    [{ steps: 0 }, /steps must be a whole number from 1 to 200/],
    [{ steps: 2.5 }, /steps must be a whole number/],
    [{ size: 100 }, /size must be a multiple of 64 from 64 to 1024/],
    [{ size: 2048 }, /size must be a multiple of 64/],
    [{ guidanceScale: Number.NaN }, /guidance must be a number/],
    [{ imageGuidanceScale: -1 }, /image guidance must be a number/],
    [{ seed: -1 }, /seed must be a whole number from 0 to 4294967295/],
    [{ scheduler: 'heun' }, /scheduler must be one of euler-ancestral, euler, ddim/],
    [{ sizeMode: 'stretch' }, /sizeMode must be one of fit, native, got "stretch"/],
  ];
  for (const [parameters, message] of cases) {
    await assert.rejects(pipeline.editAsync({ image: photo, instruction: 'x', parameters }), (error: any) => error.code === 'MGIE_ERR_BAD_PARAMETER' && message.test(error.message));
  }
});

test('empty, over-long and special-token instructions are refused', async () => {
  await assert.rejects(pipeline.editAsync({ image: photo, instruction: '  ' }), /instruction is empty/);
  await assert.rejects(pipeline.editAsync({ image: photo, instruction: 'a'.repeat(1001) }), /limit is 1000/);
  await assert.rejects(pipeline.editAsync({ image: photo, instruction: 'make it [IMG0] red' }), /reserved token "\[IMG0\]"/);
  await assert.rejects(pipeline.editAsync({ image: photo, instruction: 'x <im_patch>' }), /reserved token "<im_patch>"/);
});

test('the instruction limit counts characters as a person does (code points), not UTF-16 units', () => {
  // 🍂 is two UTF-16 units: 600 of them were "1200 characters" and refused.
  assert.equal(pipeline.checkInstruction('🍂'.repeat(600)), '🍂'.repeat(600));
  assert.equal(pipeline.checkInstruction('é'.repeat(1000)), 'é'.repeat(1000));
  assert.throws(() => pipeline.checkInstruction('🍂'.repeat(1001)), /The instruction is 1001 characters long; the limit is 1000/);
  assert.equal(countCharacters('a🍂👍🏽'), 4, 'a skin-tone emoji is two code points');
});
