// Chains placed step by step (chainPlacement 'every-step'): each step's result goes beside the previous
// step's, so the chain reads left to right as source, step 1, step 2... A chain is one job, so the last
// placed step is remembered per job id, in memory (a few jobs back is plenty: steps arrive in a row).
import type { PlaceResultRequest } from './types.ts';

const JOBS_REMEMBERED = 20;

export interface ChainAnchors {
  /** The node to place this request beside instead of its source, if an earlier step of its chain was placed. */
  anchorFor(request: PlaceResultRequest): string | undefined;
  remember(request: PlaceResultRequest, placedNodeId: string): void;
}

export function createChainAnchors(): ChainAnchors {
  const lastPlaced = new Map<string, { step: number; nodeId: string }>();
  return {
    anchorFor({ jobId, provenance }) {
      const step = provenance.chainStep;
      if (step === undefined || step < 2) return undefined;
      const last = lastPlaced.get(jobId);
      return last !== undefined && last.step < step ? last.nodeId : undefined;
    },
    remember({ jobId, provenance }, placedNodeId) {
      if (provenance.chainStep === undefined) return;
      lastPlaced.delete(jobId);
      lastPlaced.set(jobId, { step: provenance.chainStep, nodeId: placedNodeId });
      // Maps iterate in insertion order: the first key is the job placed longest ago.
      if (lastPlaced.size > JOBS_REMEMBERED) lastPlaced.delete(lastPlaced.keys().next().value as string);
    },
  };
}
