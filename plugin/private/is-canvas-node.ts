// getNodeByIdAsync also finds pages and the document; only layers can be placed beside, selected or shown.
import type { CanvasNode, CanvasParent, NonSceneNode } from '../figma-api.ts';

export function isCanvasNode(node: CanvasNode | NonSceneNode | null): node is CanvasNode {
  return node !== null && node.type !== 'DOCUMENT' && node.type !== 'PAGE';
}

/** The page a layer is on, or null when it hangs in no page (removed). */
export function pageOf(node: CanvasNode): CanvasParent | null {
  let parent = node.parent;
  while (parent !== null && parent.type !== 'PAGE') parent = parent.parent;
  return parent;
}
