// What a placed result records about how it was made (plugin/types.ts Provenance), for one result of a
// job: plain, one variation of several, or one step of a chain.
import type { Provenance } from '../../plugin/types.ts';
import type { EditJob, JobResult } from './edit-job.ts';

export function provenanceOf(job: EditJob, result: JobResult, createdAt: Date = new Date()): Provenance {
  const { header } = result;
  const provenance: Provenance = {
    instruction: header.instruction,
    expressiveInstruction: header.expressiveInstruction,
    // A variation's own seed (seed + k - 1): placing it again from its provenance must give this picture.
    seed: header.seed ?? header.parameters.seed,
    parameters: header.variation !== undefined && header.seed !== undefined ? { ...header.parameters, seed: header.seed } : header.parameters,
    model: header.model,
    sourceNodeId: job.sourceNodeId,
    createdAt: createdAt.toISOString(),
  };
  // Servers before protocol 2 send none of these: leave them out rather than guess.
  if (header.expressiveInstructionSource !== undefined) provenance.expressiveInstructionSource = header.expressiveInstructionSource;
  if (header.masked !== undefined) provenance.masked = header.masked;
  if (header.variation !== undefined && header.of !== undefined) {
    provenance.variation = header.variation;
    provenance.variations = header.of;
  }
  if (header.chainStep !== undefined) {
    // `instruction` is step 1 (as the type says); this result's own instruction is chain[chainStep - 1].
    provenance.chain = job.chain ?? [header.instruction];
    provenance.chainStep = header.chainStep;
    provenance.instruction = provenance.chain[0];
  }
  return provenance;
}
