// Which selected nodes can be sent for editing, and what to tell the designer about the others.
//
// Regions (find-region-of-selection.ts): one frame, group or image selected with vector shapes (rectangle,
// ellipse, polygon, star, vector, boolean) lying over it is ONE item, the frame, edited only under the
// shapes; its regionShapeNames name them and regionLabel() says it ("Editing Hero · only under Circle").
// When shapes are selected with a frame they are not over, or with several frames, every layer is edited
// whole and the problem text says how to make a region.
import type { CanvasNode } from './figma-api.ts';
import { findRegionOfSelection, listNames } from './find-region-of-selection.ts';
import { whyNotEditable } from './private/why-not-editable.ts';
import type { SelectionDescription, SelectionItem } from './types.ts';

export { whyNotEditable };

export const NOTHING_SELECTED = 'Select a frame, group or image to edit.';
const NAMED_AT_MOST = 3;

export function describeSelection(selection: ReadonlyArray<CanvasNode>): SelectionDescription {
  if (selection.length === 0) return { items: [], problem: NOTHING_SELECTED };
  const { region, hint } = findRegionOfSelection(selection);
  const items: SelectionItem[] = [];
  const refused: string[] = [];
  for (const node of selection) {
    if (region !== undefined && region.shapes.includes(node)) continue;
    const why = whyNotEditable(node);
    if (why !== undefined) refused.push(`"${node.name}" ${why}`);
    else if (region === undefined || node === region.target) items.push(itemOf(node, region?.target === node ? region.shapes : undefined));
  }
  const problems: string[] = [];
  if (refused.length > 0) {
    const named = refused.slice(0, NAMED_AT_MOST).join(', ');
    const more = refused.length > NAMED_AT_MOST ? ` and ${refused.length - NAMED_AT_MOST} more cannot be edited` : '';
    const advice = items.length === 0 ? ` ${NOTHING_SELECTED}` : ' Only the other layers will be edited.';
    problems.push(`${named}${more}.${advice}`);
  }
  if (hint !== undefined) problems.push(hint);
  return problems.length === 0 ? { items } : { items, problem: problems.join(' ') };
}

function itemOf(node: CanvasNode, regionShapes: CanvasNode[] | undefined): SelectionItem {
  const item: SelectionItem = { nodeId: node.id, name: node.name, width: node.width, height: node.height };
  if (regionShapes !== undefined) item.regionShapeNames = regionShapes.map((shape) => shape.name);
  return item;
}

/** What the UI shows for an item: "Hero", or for a region "Editing Hero · only under Circle". */
export function regionLabel(item: SelectionItem): string {
  if (item.regionShapeNames === undefined || item.regionShapeNames.length === 0) return item.name;
  return `Editing ${item.name} · only under ${listNames(item.regionShapeNames.map((name) => ({ name })), false)}`;
}
