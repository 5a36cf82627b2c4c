// The engine call behind one job, as its extras ask (submit-extras.ts): one edit (with the designer's
// expressive instruction or a mask), N variations in one batched run, or a chain of edits. Jobs with
// several results hand all but the last to `sendEarlier` as they are made; the last is the job's result.
import type { EditParameters } from '../engine/edit-parameters.ts';
import type { EditOptions, EditResult, MgiePipeline } from '../engine/mgie-pipeline.ts';
import type { ResultHeader } from '../protocol/messages.ts';
import type { FinishedEdit } from './run-edit-job.ts';
import type { SubmitExtras } from './submit-extras.ts';

export interface ExtrasJob {
  instruction: string;
  image: Uint8Array;
  mask?: Uint8Array;
  parameters: EditParameters;
  extras?: SubmitExtras;
}

export async function editWithExtrasAsync(
  pipeline: MgiePipeline,
  job: ExtrasJob,
  options: Pick<EditOptions, 'signal' | 'onProgress'>,
  headerOf: (result: EditResult, instruction: string, more: Partial<ResultHeader>) => ResultHeader,
  sendEarlier: (finished: FinishedEdit) => void,
): Promise<FinishedEdit> {
  const { extras, parameters, mask } = job;
  if (extras?.chain !== undefined) {
    // The engine's editChainAsync, step by step here, so that each step's picture goes out when it is made.
    // Its checks ran at submit (every instruction, before the job waited); the seed was drawn then, once.
    const instructions = [job.instruction, ...extras.chain];
    const of = instructions.length;
    let image = job.image;
    let finished: FinishedEdit | undefined;
    for (const [k, instruction] of instructions.entries()) {
      if (finished) sendEarlier(finished);
      options.onProgress?.({ type: 'chain-step', step: k + 1, steps: of, instruction });
      const result = await pipeline.editAsync({ image, instruction, parameters, mask }, options);
      finished = { header: headerOf(result, instruction, { chainStep: k + 1, of }), png: result.png };
      image = result.png;
    }
    return finished!;
  }
  const result = await pipeline.editAsync(
    { image: job.image, instruction: job.instruction, parameters, mask, expressiveInstruction: extras?.expressiveInstruction, variations: extras?.variations },
    options,
  );
  if (result.variations === undefined) return { header: headerOf(result, job.instruction, {}), png: result.png };
  const of = result.variations.length;
  const all = result.variations.map(({ seed, png }, v) => ({ header: headerOf(result, job.instruction, { variation: v + 1, of, seed }), png }));
  for (const earlier of all.slice(0, -1)) sendEarlier(earlier);
  return all[all.length - 1];
}
