// What the UI asks main to export for an edit: the editable part of the selection (a region: the frame
// and its mask), or one node by id (a variation re-exports the original, whole). Failures throw an Error
// whose message is for the designer.
import { describeSelection, whyNotEditable } from './describe-selection.ts';
import { exportNodeAsync } from './export-node-async.ts';
import { exportRegionForEditAsync } from './export-region-for-edit-async.ts';
import type { CanvasNode, FigmaApi } from './figma-api.ts';
import { findRegionOfSelection } from './find-region-of-selection.ts';
import type { ExportedImage } from './types.ts';

export async function exportSelectionForEditAsync(figma: FigmaApi, maxSide: number): Promise<ExportedImage[]> {
  const selection = figma.currentPage.selection;
  const { region } = findRegionOfSelection(selection);
  if (region !== undefined) return [await exportRegionForEditAsync(figma, region, maxSide)];
  const nodes = selection.filter((node) => whyNotEditable(node) === undefined);
  if (nodes.length === 0) throw new Error(describeSelection(selection).problem);
  const images: ExportedImage[] = [];
  for (const node of nodes) images.push(await exportNodeAsync(node, maxSide));
  return images;
}

export async function exportNodeForEditAsync(figma: FigmaApi, nodeId: string, maxSide: number): Promise<ExportedImage> {
  const node = await figma.getNodeByIdAsync(nodeId);
  if (node === null || node.type === 'DOCUMENT' || node.type === 'PAGE') {
    throw new Error('The original layer was deleted. Select a layer and edit it instead.');
  }
  const canvasNode = node as CanvasNode;
  const why = whyNotEditable(canvasNode);
  if (why !== undefined) throw new Error(`"${canvasNode.name}" ${why}. Select another layer.`);
  return exportNodeAsync(canvasNode, maxSide);
}
