// The provenance to offer "variation" and "edit again" for: only when exactly one node is selected.
import type { CanvasNode } from './figma-api.ts';
import { readProvenance } from './read-provenance.ts';
import type { Provenance } from './types.ts';

export function findProvenanceOfSelection(selection: ReadonlyArray<CanvasNode>): { nodeId: string; provenance: Provenance } | null {
  if (selection.length !== 1) return null;
  const node = selection[0];
  const provenance = readProvenance(node);
  return provenance === undefined ? null : { nodeId: node.id, provenance };
}
