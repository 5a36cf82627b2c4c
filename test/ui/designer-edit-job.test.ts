// The UI's bookkeeping of the designer features (issue 13): a job with variations collects a strip and
// places nothing by itself; a chain follows its steps and places the final result or every step; what a
// placed result records about how it was made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResultHeader, ServerMessage } from '../../companion-server/protocol/messages.ts';
import { describeServerError } from '../../ui/describe-problem.ts';
import { applyServerMessage, attachResult, type EditJob, type JobResult, representativeResult, resultsToPlace } from '../../ui/jobs/edit-job.ts';
import { provenanceOf } from '../../ui/jobs/result-provenance.ts';

const base: EditJob = { clientJobId: 'c1', jobId: 'j1', sourceNodeId: '1:1', sourceName: 'Hero', instruction: 'add snow', requested: { seed: 7 }, phase: 'running', submittedAt: 0 };
const parameters = { steps: 3, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 64, sizeMode: 'fit' as const, seed: 7, scheduler: 'euler-ancestral' };

function result(change: Partial<ResultHeader>): JobResult {
  const header: ResultHeader = {
    type: 'result', jobId: 'j1', clientJobId: 'c1', instruction: 'add snow', expressiveInstruction: 'Snow covers the ground.', expressiveInstructionSource: 'model',
    masked: false, parameters, width: 96, height: 64, model: 'mgie-tiny', timings: {}, cached: false, ...change,
  };
  return { header, url: `blob:${header.variation ?? header.chainStep ?? 0}`, png: new Uint8Array([header.variation ?? header.chainStep ?? 0]), parameters: header.parameters };
}

function apply(job: EditJob, messages: ServerMessage[]): EditJob {
  return messages.reduce((jobs, message, index) => applyServerMessage(jobs, message, 1000 * (index + 1), describeServerError), [job])[0];
}

test('variations: results join the strip in order whatever order they arrive in; the last one finishes the job, nothing is placed by itself', () => {
  let job: EditJob = { ...base, variations: 3 };
  const third = attachResult(job, result({ variation: 3, of: 3, seed: 9 }));
  assert.deepEqual([third.finished, third.duplicate], [false, false]);
  job = third.job;
  job = attachResult(job, result({ variation: 1, of: 3, seed: 7 })).job;
  // delivered again after a reconnect: changes nothing
  const again = attachResult(job, result({ variation: 1, of: 3, seed: 7 }));
  assert.deepEqual([again.duplicate, again.job], [true, job]);
  const last = attachResult(job, result({ variation: 2, of: 3, seed: 8 }));
  assert.equal(last.finished, true);
  assert.deepEqual(last.job.variationResults?.map((r) => [r.header.variation, r.header.seed]), [[1, 7], [2, 8], [3, 9]]);
  assert.equal(last.job.result, undefined, 'no result is the job\'s until the designer picks one');
  assert.deepEqual(resultsToPlace(last.job, 'final'), []);
  assert.deepEqual(resultsToPlace(last.job, 'every-step'), []);
  assert.equal(representativeResult(last.job)?.header.variation, 1, 'a re-run starts from variation 1');
});

test('a placed variation records its own seed (seed + k - 1) and which of how many it was', () => {
  const picked = result({ variation: 2, of: 3, seed: 8 });
  const provenance = provenanceOf({ ...base, variations: 3 }, picked, new Date(0));
  assert.deepEqual([provenance.seed, provenance.parameters.seed, provenance.variation, provenance.variations], [8, 8, 2, 3]);
  assert.equal(provenance.chain, undefined);
  assert.deepEqual([provenance.expressiveInstructionSource, provenance.masked, provenance.sourceNodeId], ['model', false, '1:1']);
});

test('a chain follows its steps: chain-step starts a step afresh, each step keeps its instruction, expressive text and picture', () => {
  let job: EditJob = { ...base, chain: ['add snow', 'make it night'] };
  job = apply(job, [
    { type: 'chain-step', jobId: 'j1', step: 1, of: 2, instruction: 'add snow' },
    { type: 'stage', jobId: 'j1', stage: 'diffuse' },
    { type: 'step', jobId: 'j1', step: 3, steps: 3 },
    { type: 'instruction', jobId: 'j1', text: 'Snow covers the ground.' },
  ]);
  assert.deepEqual(job.chainStep, { step: 1, of: 2 });
  const first = attachResult(job, result({ chainStep: 1, of: 2 }));
  assert.equal(first.finished, false);
  assert.equal(first.job.result, undefined, 'step 1 is not the chain\'s result');
  job = apply(first.job, [
    { type: 'chain-step', jobId: 'j1', step: 2, of: 2, instruction: 'make it night' },
  ]);
  // the previous step's progress no longer applies to this one
  assert.deepEqual([job.stage, job.step, job.expressiveInstruction], [undefined, undefined, undefined]);
  job = apply(job, [{ type: 'instruction', jobId: 'j1', text: 'The sky turns dark.' }]);
  assert.deepEqual(job.chainSteps?.map((s) => [s.step, s.instruction, s.expressiveInstruction, s.result?.url]), [
    [1, 'add snow', 'Snow covers the ground.', 'blob:1'],
    [2, 'make it night', 'The sky turns dark.', undefined],
  ]);
  const last = attachResult(job, result({ chainStep: 2, of: 2, instruction: 'make it night', expressiveInstruction: 'The sky turns dark.' }));
  assert.equal(last.finished, true);
  assert.equal(last.job.result?.header.chainStep, 2);
  assert.deepEqual(resultsToPlace(last.job, 'final').map((r) => r.header.chainStep), [2]);
  assert.deepEqual(resultsToPlace(last.job, 'every-step').map((r) => r.header.chainStep), [1, 2], 'every step, in order');
  assert.equal(attachResult(last.job, result({ chainStep: 1, of: 2 })).duplicate, true);

  // each placed step says which step of which chain it is, `instruction` being the chain's first
  const step2 = provenanceOf(last.job, last.job.result!, new Date(0));
  assert.deepEqual([step2.instruction, step2.chain, step2.chainStep, step2.expressiveInstruction], ['add snow', ['add snow', 'make it night'], 2, 'The sky turns dark.']);
  assert.equal(provenanceOf(last.job, last.job.chainSteps![0].result!).chainStep, 1);
});

test('a plain result is the job\'s and placed; given wording and masks are recorded from the result header', () => {
  const given = result({ expressiveInstruction: 'Snow on everything.', expressiveInstructionSource: 'given', masked: true });
  const { job, finished, duplicate } = attachResult({ ...base, givenExpressiveInstruction: 'Snow on everything.' }, given);
  assert.deepEqual([finished, duplicate, job.expressiveInstruction], [true, false, 'Snow on everything.']);
  assert.deepEqual(resultsToPlace(job, 'every-step'), [given]);
  const provenance = provenanceOf(job, given);
  assert.deepEqual([provenance.expressiveInstruction, provenance.expressiveInstructionSource, provenance.masked, provenance.seed], ['Snow on everything.', 'given', true, 7]);
  assert.equal(attachResult(job, given).duplicate, true);
  // a server before protocol 2 says neither: the provenance leaves them out rather than guess
  const old = result({ expressiveInstructionSource: undefined, masked: undefined });
  const oldProvenance = provenanceOf(base, old);
  assert.equal('expressiveInstructionSource' in oldProvenance, false);
  assert.equal('masked' in oldProvenance, false);
});
