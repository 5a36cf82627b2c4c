// The bookkeeping behind "the result first" (issue 13): values clamped to the server's limits, the fix
// each error offers, batches as one history entry, and the time a batch's waiting edits will take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import type { ServerLimits } from '../../companion-server/protocol/messages.ts';
import { clampToLimits } from '../../ui/clamp-to-limits.ts';
import { describeServerError, fixForJob } from '../../ui/describe-problem.ts';
import { applyServerMessage, type EditJob } from '../../ui/jobs/edit-job.ts';
import { estimateGroupSecondsLeft, estimateProgress } from '../../ui/jobs/estimate-progress.ts';
import { historyEntries } from '../../ui/jobs/history-entries.ts';

const LIMITS: ServerLimits = {
  ...DEFAULT_LIMITS,
  maxImageBytes: 20_000_000,
  maxImagePixels: DEFAULT_LIMITS.maxInputPixels,
  maxImageSide: DEFAULT_LIMITS.maxInputSide,
  maxQueuedPerClient: 10,
  maxFrameBytes: 40_000_000,
};

const base: EditJob = { clientJobId: 'c1', sourceNodeId: '1:1', sourceName: 'Hero', instruction: 'Watercolor', requested: { steps: 20 }, phase: 'queued', submittedAt: 0 };
const source = { nodeId: '1:1', name: 'Hero', png: new Uint8Array([137, 80, 78, 71]), width: 10, height: 10 };

test('clampToLimits: steps and size lowered to what the server advertises (size to a multiple of 64), the rest untouched', () => {
  const small = { ...LIMITS, maxSteps: 8, maxEditSize: 200 };
  assert.deepEqual(clampToLimits({ steps: 500, size: 2048, guidanceScale: 7.5, seed: 3 }, small), {
    parameters: { steps: 8, size: 192, guidanceScale: 7.5, seed: 3 },
    lowered: ['steps 500 → 8', 'size 2048 → 192 px'],
  });
  // at the limits exactly, and the 'default' preset (nothing sent): nothing changes
  assert.deepEqual(clampToLimits({ steps: 8, size: 192 }, small).lowered, []);
  assert.deepEqual(clampToLimits({}, small), { parameters: {}, lowered: [] });
  // a limit under one multiple still leaves the smallest edit size
  assert.equal(clampToLimits({ size: 512 }, { ...LIMITS, maxEditSize: 50 }).parameters.size, 64);
});

test('fixForJob: every error names the button that fixes it', () => {
  const failed = (code: string | undefined, withSource = true): EditJob => ({
    ...base,
    phase: 'failed',
    error: 'x',
    errorCode: code,
    ...(withSource ? { source } : {}),
  });
  assert.equal(fixForJob(failed('MGIE_ERR_BUSY')), 'retry');
  assert.equal(fixForJob(failed('MGIE_ERR_RUNTIME')), 'retry');
  assert.equal(fixForJob(failed(undefined)), 'retry', 'lost with the connection or a restart');
  assert.equal(fixForJob(failed(undefined, false)), undefined, 'nothing to send again');
  assert.equal(fixForJob(failed('MGIE_ERR_UNAUTHORIZED')), 'open-settings');
  assert.equal(fixForJob(failed('MGIE_ERR_FORBIDDEN')), 'open-settings');
  assert.equal(fixForJob(failed('MGIE_ERR_BAD_PARAMETER')), 'open-parameters');
  assert.equal(fixForJob(failed('MGIE_ERR_TIMEOUT')), 'open-parameters', 'fewer steps or a smaller size');
  assert.equal(fixForJob({ ...base, phase: 'cancelled', source }), 'retry');
  const result = { url: 'blob:x' };
  assert.equal(fixForJob({ ...base, phase: 'done', error: 'Not placed: no fills', placement: 'replace-fills', result }), 'place-beside');
  assert.equal(fixForJob({ ...base, phase: 'done', error: 'Not placed: layer deleted', placement: 'beside', result }), undefined);
  assert.equal(fixForJob({ ...base, phase: 'done', result }), undefined);
});

test('a server error keeps its code on the job, for the fix', () => {
  const [failed] = applyServerMessage([{ ...base, jobId: 'j1' }], { type: 'error', jobId: 'j1', code: 'MGIE_ERR_BAD_PARAMETER', message: 'steps must be...' }, 5, describeServerError);
  assert.deepEqual([failed.phase, failed.errorCode], ['failed', 'MGIE_ERR_BAD_PARAMETER']);
});

test('historyEntries: a batch is one entry in submit order, newest first; single edits appear once finished', () => {
  const jobs: EditJob[] = [
    { ...base, clientJobId: 'b1', batchId: 'B', phase: 'done', sourceName: 'Icon' },
    { ...base, clientJobId: 'b2', batchId: 'B', phase: 'running', sourceName: 'Hero' },
    { ...base, clientJobId: 'b3', batchId: 'B', phase: 'queued', sourceName: 'Banner' },
    { ...base, clientJobId: 's-running', phase: 'running' },
    { ...base, clientJobId: 's-cancelled', phase: 'cancelled' },
  ];
  const entries = historyEntries([jobs[3], jobs[0], jobs[1], jobs[2], jobs[4]]);
  assert.deepEqual(
    entries.map((entry) => (entry.kind === 'batch' ? entry.jobs.map((job) => job.sourceName) : entry.job.clientJobId)),
    [['Icon', 'Hero', 'Banner'], 's-cancelled'],
  );
});

test('estimateGroupSecondsLeft: what the running edit has left plus a whole edit per waiting one, from the last edit', () => {
  const past = { timings: { prepare: 100, vision: 100, generate: 1000, condition: 100, encode: 100, diffuse: 2000, decode: 600 }, steps: 20 };
  // 4 s per 20-step edit; a 40-step edit diffuses twice as long: 6 s
  const running: EditJob = { ...base, clientJobId: 'r', phase: 'running', stage: 'diffuse', step: { step: 10, steps: 20 }, stageStartedAt: 0 };
  const waiting: EditJob[] = [
    { ...base, clientJobId: 'w1' },
    { ...base, clientJobId: 'w2', requested: { steps: 40 } },
  ];
  const runningLeft = estimateProgress(running, 1000, past).secondsLeft ?? 0;
  assert.equal(estimateGroupSecondsLeft([running, ...waiting], 1000, past), Math.round(runningLeft + 4 + 6));
  assert.equal(estimateGroupSecondsLeft(waiting, 0, past), 10);
  assert.equal(estimateGroupSecondsLeft(waiting, 0, undefined), undefined, 'no finished edit yet: no guess');
  assert.equal(estimateGroupSecondsLeft([{ ...base, phase: 'done' }], 0, past), undefined, 'nothing left');
});
