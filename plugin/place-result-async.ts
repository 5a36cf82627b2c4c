// Puts an edited image on the canvas, beside its source node (or beside the previous step of its chain) or
// as the source node's fill, as one undo step, with its provenance stored on the node. It never changes
// the selection or the view: afterPlacing 'select' is done once per batch by create-placed-result-selector.
// Refusals notify the designer and return a reason; they never throw and never commit an undo step.
// A masked result (Regions) is placed like any other: the server composites it, so outside the mask its
// pixels are the original's.
import type { CanvasNode, FigmaApi } from './figma-api.ts';
import { findFreePosition } from './private/find-free-position.ts';
import { isCanvasNode } from './private/is-canvas-node.ts';
import { nameResultLayerOf } from './private/name-result-layer.ts';
import { readPngSize } from './private/read-png-size.ts';
import { MAX_IMAGE_SIDE, type PlaceResultRequest, PROVENANCE_KEY } from './types.ts';

/** Space between the source node and the result placed beside it, in canvas px. */
export const PLACEMENT_GAP = 24;

export type PlaceResultOutcome = { placed: true; nodeId: string; sourceNodeId: string } | { placed: false; reason: string };

export interface PlaceResultOptions {
  /** Chains: place beside this node (the previous step's result) when it is still in the source's parent. */
  besideNodeId?: string;
}

export async function placeResultAsync(figma: FigmaApi, request: PlaceResultRequest, options: PlaceResultOptions = {}): Promise<PlaceResultOutcome> {
  const refuse = (reason: string): PlaceResultOutcome => {
    figma.notify(reason, { error: true });
    return { placed: false, reason };
  };

  // 1. check the image: figma.createImage throws over 4096 px, and the sandbox cannot downscale
  //    (no canvas), so the UI must; check both the declared size and the PNG's own header.
  const actual = readPngSize(request.png);
  const width = Math.max(request.width, actual?.width ?? 0);
  const height = Math.max(request.height, actual?.height ?? 0);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    return refuse(`Result is ${width}×${height} px; Figma takes at most ${MAX_IMAGE_SIDE} px a side. Not placed.`);
  }

  // 2. find the source node
  const { sourceNodeId } = request.provenance;
  const found = await figma.getNodeByIdAsync(sourceNodeId);
  if (!isCanvasNode(found)) return refuse('The original layer was deleted or is not a layer. Result not placed.');
  const source = found;
  if (request.placement === 'replace-fills' && source.fills === undefined) {
    return refuse(`"${truncate(source.name)}" has no fills to replace. Try placing beside it.`);
  }
  const parent = source.parent;
  if (request.placement === 'beside' && parent === null) return refuse('The original layer has no parent. Result not placed.');

  // 3. make the image (before creating any node, so a refusal leaves nothing behind)
  let imageHash: string;
  try {
    imageHash = figma.createImage(request.png).hash;
  } catch (error) {
    return refuse(`Figma could not read the result image: ${error instanceof Error ? error.message : String(error)}`);
  }
  const fills: ImagePaint[] = [{ type: 'IMAGE', imageHash, scaleMode: 'FILL' }];
  const provenanceJson = JSON.stringify(request.provenance);

  // 4a. replace the source's fills
  if (request.placement === 'replace-fills') {
    source.fills = fills;
    source.setPluginData(PROVENANCE_KEY, provenanceJson);
    figma.commitUndo();
    return { placed: true, nodeId: source.id, sourceNodeId };
  }

  // 4b. a rectangle the size of the source (not of the PNG: the export may have been downscaled),
  //     to the right of the source (or of the previous chain step) in the same parent, past any sibling
  //     it would overlap, one layer above it
  if (parent === null) throw new Error('unreachable: parent checked above');
  const anchor = await findAnchorAsync(figma, options.besideNodeId, source);
  const position = findFreePosition(anchor, source, parent.children, PLACEMENT_GAP);
  const rect = figma.createRectangle();
  parent.insertChild(parent.children.indexOf(anchor) + 1, rect);
  rect.resize(source.width, source.height);
  rect.x = position.x;
  rect.y = position.y;
  rect.name = nameResultLayerOf(request.provenance);
  rect.fills = fills;
  rect.setPluginData(PROVENANCE_KEY, provenanceJson);
  figma.commitUndo();
  return { placed: true, nodeId: rect.id, sourceNodeId };
}

/** The previous chain step's node when it still sits beside the source (same parent), else the source. */
async function findAnchorAsync(figma: FigmaApi, besideNodeId: string | undefined, source: CanvasNode): Promise<CanvasNode> {
  if (besideNodeId === undefined || besideNodeId === source.id) return source;
  const node = await figma.getNodeByIdAsync(besideNodeId);
  return isCanvasNode(node) && node.parent === source.parent ? node : source;
}

/** Figma cuts notifications at 100 characters: keep names in them short. */
function truncate(name: string): string {
  const chars = Array.from(name);
  return chars.length <= 30 ? name : `${chars.slice(0, 30).join('')}…`;
}
