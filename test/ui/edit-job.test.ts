// The UI's bookkeeping of an edit: server events -> job state, progress and time left, plain-language errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerLimits, ServerMessage } from '../../companion-server/protocol/messages.ts';
import { checkInstruction, describeServerError } from '../../ui/describe-problem.ts';
import { chooseExportSide } from '../../ui/image/fit-image-async.ts';
import { applyServerMessage, type EditJob } from '../../ui/jobs/edit-job.ts';
import { estimateProgress, formatSecondsLeft } from '../../ui/jobs/estimate-progress.ts';
import { reconnectDelayMs } from '../../ui/connection/reconnect-delay.ts';
import { normalizeSettings } from '../../ui/normalize-settings.ts';
import { DEFAULT_SETTINGS, REFERENCE_PARAMETERS } from '../../plugin/types.ts';
import { toWireParameters } from '../../ui/to-wire-parameters.ts';

const job: EditJob = { clientJobId: 'c1', sourceNodeId: '1:1', sourceName: 'Hero', instruction: 'make it autumn', requested: {}, phase: 'queued', submittedAt: 0 };

function run(messages: ServerMessage[], start: EditJob[] = [job]): EditJob[] {
  return messages.reduce((jobs, message, index) => applyServerMessage(jobs, message, 1000 * (index + 1), describeServerError), start);
}

test('server events move a job from queued to running, with the expressive instruction and steps', () => {
  const [accepted] = run([{ type: 'accepted', jobId: 'j1', clientJobId: 'c1', position: 2 }]);
  assert.deepEqual([accepted.jobId, accepted.phase, accepted.position], ['j1', 'queued', 2]);
  const [running] = run(
    [
      { type: 'started', jobId: 'j1' },
      { type: 'stage', jobId: 'j1', stage: 'generate' },
      { type: 'tokens', jobId: 'j1', generated: 5, max: 96 },
      { type: 'instruction', jobId: 'j1', text: 'Leaves turn orange.' },
      { type: 'stage', jobId: 'j1', stage: 'diffuse' },
      { type: 'step', jobId: 'j1', step: 10, steps: 100 },
    ],
    [accepted],
  );
  assert.deepEqual(
    [running.phase, running.stage, running.expressiveInstruction, running.step, running.startedAt, running.stageStartedAt],
    ['running', 'diffuse', 'Leaves turn orange.', { step: 10, steps: 100 }, 1000, 5000],
  );
  // a re-announce after a reconnect keeps a running job running
  assert.equal(run([{ type: 'accepted', jobId: 'j1', clientJobId: 'c1', position: 0 }], [running])[0].phase, 'running');
  // events for someone else's job change nothing
  assert.deepEqual(run([{ type: 'step', jobId: 'other', step: 1, steps: 2 }], [running]), [running]);
});

test('a refused submit (no jobId yet) and a failed job get plain-language errors', () => {
  const [refused] = run([{ type: 'error', clientJobId: 'c1', code: 'MGIE_ERR_RATE_LIMITED', message: 'rate limited' }]);
  assert.equal(refused.phase, 'failed');
  assert.match(refused.error ?? '', /Too many edits sent too fast/);
  assert.match(describeServerError('MGIE_ERR_IMAGE_TOO_LARGE', 'The image is 9000x9000.'), /^Image too large: The image is 9000x9000\./);
  assert.match(describeServerError('MGIE_ERR_TIMEOUT', ''), /fewer steps/);
  assert.equal(run([{ type: 'cancelled', jobId: 'j1' }], [{ ...job, jobId: 'j1' }])[0].phase, 'cancelled');
  const limits = { maxInstructionLength: 10 } as Parameters<typeof checkInstruction>[1];
  assert.match(checkInstruction('  ', limits) ?? '', /Type what to change/);
  assert.match(checkInstruction('x'.repeat(11), limits) ?? '', /at most 10/);
  assert.equal(checkInstruction('autumn', limits), undefined);
  // Characters as the designer counts them: ten emoji are ten, not twenty UTF-16 units.
  assert.equal(checkInstruction('🍂'.repeat(10), limits), undefined);
  assert.match(checkInstruction('🍂'.repeat(11), limits) ?? '', /The instruction is 11 characters; the server takes at most 10/);
});

test('progress keeps moving through the stages; time left comes from measured steps or the last edit', () => {
  const queued = estimateProgress({ ...job, position: 3 }, 0);
  assert.deepEqual(queued, { fraction: 0, label: 'Waiting: 3 edits ahead' });
  const running: EditJob = { ...job, phase: 'running', stage: 'generate', stageStartedAt: 0, tokens: { generated: 48, max: 96 } };
  const generating = estimateProgress(running, 500);
  assert.equal(generating.label, 'Imagining the edit');
  assert.equal(generating.secondsLeft, undefined, 'no estimate before any measurement');
  const diffusing = estimateProgress({ ...running, stage: 'diffuse', step: { step: 25, steps: 100 }, stageStartedAt: 10_000 }, 15_000);
  assert.ok(diffusing.fraction > generating.fraction && diffusing.fraction < 1);
  assert.equal(diffusing.label, 'Editing: step 25 of 100');
  assert.equal(diffusing.secondsLeft, 16, '0.2 s per step: 75 steps + 3 for decoding');
  const past = { timings: { prepare: 100, vision: 200, generate: 2000, condition: 100, encode: 200, diffuse: 8000, decode: 400 }, steps: 100 };
  const fromPast = estimateProgress({ ...running, stage: 'vision', stageStartedAt: 0 }, 100, past);
  assert.equal(fromPast.secondsLeft, Math.round((100 + 2000 + 100 + 200 + 8000 + 400) / 1000));
  assert.equal(formatSecondsLeft(42), 'about 42 s left');
  assert.equal(formatSecondsLeft(150), 'about 3 min left');
});

test('reconnect delays grow from half a second to 15 s, with jitter', () => {
  assert.equal(reconnectDelayMs(0, () => 0.5), 500);
  assert.equal(reconnectDelayMs(3, () => 0.5), 4000);
  assert.equal(reconnectDelayMs(20, () => 0.5), 15_000);
  assert.equal(reconnectDelayMs(0, () => 0), 400);
  assert.equal(reconnectDelayMs(0, () => 1), 600);
});

test('settings from clientStorage: missing or mistyped fields fall back to the defaults', () => {
  assert.deepEqual(normalizeSettings(undefined), DEFAULT_SETTINGS);
  const stored = normalizeSettings({ token: 'abc', parameters: { preset: 'custom', steps: '12', size: 256 }, placement: 'sideways', recentInstructions: ['a', 3, 'b'] });
  assert.equal(stored.token, 'abc');
  assert.deepEqual([stored.parameters.preset, stored.parameters.steps, stored.parameters.size], ['custom', DEFAULT_SETTINGS.parameters.steps, 256]);
  assert.equal(stored.placement, 'beside');
  assert.deepEqual(stored.recentInstructions, ['a', 'b']);
});

test('presets: Default sends nothing (model defaults, server-drawn seed), Reference the paper demo, Custom what was set', () => {
  const custom = { ...REFERENCE_PARAMETERS, preset: 'custom' as const, steps: 30, size: 256, guidanceScale: 5, imageGuidanceScale: 1.2 };
  assert.deepEqual(toWireParameters({ ...custom, preset: 'default' }), {});
  // Reference edits at the image's own size, as the MGIE notebook does (its demo inputs are 512x512)
  assert.deepEqual(toWireParameters({ ...custom, preset: 'reference' }), {
    steps: 100, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 512, sizeMode: 'native', seed: 13331, scheduler: 'euler-ancestral',
  });
  assert.deepEqual(toWireParameters({ ...custom, sizeMode: 'fit', seedMode: 'fixed', seed: 9 }), { steps: 30, guidanceScale: 5, imageGuidanceScale: 1.2, size: 256, sizeMode: 'fit', seed: 9 });
  assert.deepEqual(toWireParameters({ ...custom, sizeMode: 'native', seedMode: 'random', seed: 9 }), { steps: 30, guidanceScale: 5, imageGuidanceScale: 1.2, size: 256, sizeMode: 'native' });
  assert.equal(DEFAULT_SETTINGS.parameters.sizeMode, 'fit', 'Custom starts from fit');
  assert.equal(normalizeSettings({ parameters: { preset: 'custom' } }).parameters.sizeMode, 'fit', 'settings stored before size modes');
  assert.equal(normalizeSettings({ parameters: { sizeMode: 'native' } }).parameters.sizeMode, 'native');
});

test('a native-size edit is exported at most at the edit size limit (a multiple of 64), which the server edits natively', () => {
  const limits = { maxImageSide: 8192, maxImagePixels: 40_000_000, maxEditSize: 1024 } as ServerLimits;
  const wide = [{ width: 3000, height: 2000 }];
  assert.equal(chooseExportSide(wide, limits), 4096, 'fit: as large as Figma and the server allow');
  assert.equal(chooseExportSide(wide, limits, { sizeMode: 'fit' }), 4096);
  assert.equal(chooseExportSide(wide, limits, { sizeMode: 'native' }), 1024);
  assert.equal(chooseExportSide(wide, { ...limits, maxEditSize: 1000 }, { sizeMode: 'native' }), 960);
});
