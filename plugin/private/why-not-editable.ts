// Whether a node can be exported for an edit at all.
import type { CanvasNode } from '../figma-api.ts';

/** Why a node cannot be edited, or undefined when it can. */
export function whyNotEditable(node: CanvasNode): string | undefined {
  if (typeof node.exportAsync !== 'function') return 'cannot be exported';
  if (!(node.width > 0 && node.height > 0)) return 'has no area';
  return undefined;
}
