// "Show on canvas": select a layer and bring it into view, switching page when it is on another one.
import type { FigmaApi } from './figma-api.ts';
import { isCanvasNode, pageOf } from './private/is-canvas-node.ts';

export const NODE_GONE = 'That layer was deleted, so it cannot be shown.';

/** false (after telling the designer) when the layer no longer exists. */
export async function showNodeOnCanvasAsync(figma: FigmaApi, nodeId: string): Promise<boolean> {
  const node = await figma.getNodeByIdAsync(nodeId);
  const page = isCanvasNode(node) ? pageOf(node) : null;
  if (!isCanvasNode(node) || page === null) {
    figma.notify(NODE_GONE);
    return false;
  }
  // Figma refuses a selection of layers that are not on the current page.
  if (page.id !== figma.currentPage.id) await figma.setCurrentPageAsync(page);
  figma.currentPage.selection = [node];
  figma.viewport.scrollAndZoomIntoView([node]);
  return true;
}
