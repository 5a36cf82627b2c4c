// An edit's noise is torch's for its seed, end to end over real sessions: the initial latents are
// torch.randn(1, 4, h, w, generator=torch.Generator().manual_seed(seed)) * init_noise_sigma, and each
// Euler Ancestral step adds the generator's next draw of that shape, as diffusers' InstructPix2Pix
// pipeline draws them (goldens: test/fixtures/compute-torch-randn-golden.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { combineGuidance } from '../../companion-server/engine/diffusion/guidance.ts';
import { type EditProgress, MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { float32Data, type ModelSession, type Tensor } from '../../companion-server/engine/onnx-runtime.ts';
import { EulerAncestralScheduler } from '../../companion-server/engine/schedulers/euler-ancestral-scheduler.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

interface PipelineDraws {
  seed: string;
  shape: number[];
  steps: number;
  draws: number[][];
}
const golden = JSON.parse(readFileSync(new URL('../fixtures/torch-randn-golden.json', import.meta.url), 'utf8')) as { pipeline: PipelineDraws[] };
const tinyDraws = (seed: string): Float32Array[] => {
  const found = golden.pipeline.find((p) => p.seed === seed && p.shape.join('x') === '1x4x8x8')!;
  return found.draws.map((bits) => new Float32Array(Uint32Array.from(bits).buffer));
};

let pipeline: MgiePipeline;
let photo: Buffer;

before(async () => {
  pipeline = await MgiePipeline.loadAsync(await tinyBundleDirAsync());
  photo = await samplePhotoAsync(64, 64); // a 64x64 edit: latents [1, 4, 8, 8]
});
after(() => pipeline.releaseAsync());

interface Recorded {
  /** Each UNet call's `sample` input and `noise_pred` output (copies). */
  calls: { sample: Float32Array; noisePred: Float32Array }[];
  /** The latents after each step (copies). */
  steps: Float32Array[];
}

/** Runs an edit with a spy over the UNet session: it records what the real session saw and returned. */
async function recordEditAsync(parameters: object, initialNoise?: Float32Array): Promise<Recorded> {
  const sessions = pipeline.bundle.sessions;
  const unet = sessions.unet;
  const recorded: Recorded = { calls: [], steps: [] };
  const spy = {
    runAsync: async (feeds: Record<string, Tensor>) => {
      const out = await unet.runAsync(feeds);
      recorded.calls.push({ sample: float32Data(feeds.sample).slice(), noisePred: float32Data(out.noise_pred).slice() });
      return out;
    },
  } as unknown as ModelSession;
  sessions.unet = spy;
  try {
    const onProgress = (e: EditProgress) => {
      if (e.type === 'step') recorded.steps.push(e.latents.slice());
    };
    const result = await pipeline.editAsync({ image: photo, instruction: 'make the frame red', parameters }, { onProgress, initialNoise });
    assert.deepEqual([result.editWidth, result.editHeight], [64, 64]);
  } finally {
    sessions.unet = unet;
  }
  return recorded;
}

const bits = (values: Float32Array): number[] => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

/**
 * Replays the run with the engine's own step math and the golden noise: each step's result must equal,
 * bit for bit, `stepWithNoise(eps_k, k, latents_k, noise[k])` with eps_k combined from what the UNet returned.
 */
function assertStepNoise(recorded: Recorded, start: Float32Array, noise: Float32Array[], steps: number, label: string): void {
  const scheduler = new EulerAncestralScheduler(pipeline.manifest.diffusion.scheduler, steps);
  const scales = pipeline.resolveParameters({});
  assert.equal(recorded.calls.length, steps);
  let latents = start;
  for (let k = 0; k < steps; k++) {
    const eps = combineGuidance(recorded.calls[k].noisePred, 3, scales);
    const expected = scheduler.stepWithNoise(eps, k, latents, noise[k]).prevSample;
    assert.deepEqual(bits(recorded.steps[k]), bits(expected), `${label}: step ${k + 1} added torch's draw ${k} of the step noise`);
    latents = recorded.steps[k];
  }
}

for (const seed of ['13331', '0']) {
  test(`seed ${seed}, Euler Ancestral: initial latents are torch's randn x init_noise_sigma, and step k adds torch's draw k + 1`, async () => {
    const draws = tinyDraws(seed);
    const steps = draws.length - 1;
    const recorded = await recordEditAsync({ steps, size: 64, seed: Number(seed), scheduler: 'euler-ancestral' });
    const scheduler = new EulerAncestralScheduler(pipeline.manifest.diffusion.scheduler, steps);
    const initial = Float32Array.from(draws[0], (v) => v * scheduler.initNoiseSigma);
    // The UNet's first input: scale_model_input(initial latents) in the noisy half of the first batch item.
    const firstInput = recorded.calls[0].sample.subarray(0, initial.length);
    assert.deepEqual(bits(firstInput), bits(scheduler.scaleModelInput(initial, 0)), 'the initial latents');
    assertStepNoise(recorded, initial, draws.slice(1), steps, `seed ${seed}`);
  });
}

test('with initial noise given, nothing is drawn for the latents: step k adds torch\'s draw k (diffusers\' latents= with a generator)', async () => {
  const draws = tinyDraws('13331');
  const steps = draws.length - 1;
  const given = Float32Array.from({ length: draws[0].length }, (_, i) => Math.sin(i + 1));
  const recorded = await recordEditAsync({ steps, size: 64, seed: 13331, scheduler: 'euler-ancestral' }, given);
  const scheduler = new EulerAncestralScheduler(pipeline.manifest.diffusion.scheduler, steps);
  const initial = Float32Array.from(given, (v) => v * scheduler.initNoiseSigma);
  assert.deepEqual(bits(recorded.calls[0].sample.subarray(0, initial.length)), bits(scheduler.scaleModelInput(initial, 0)));
  assertStepNoise(recorded, initial, draws, steps, 'initial noise given');
});

test('DDIM draws only the initial latents: the seeded edit equals the edit given torch\'s first draw as initial noise', async () => {
  const request = { image: photo, instruction: 'turn the day into night', parameters: { steps: 3, size: 64, seed: 0, scheduler: 'ddim' as const } };
  const seeded = await pipeline.editAsync(request);
  const given = await pipeline.editAsync(request, { initialNoise: tinyDraws('0')[0] });
  assert.ok(seeded.png.equals(given.png));
});
