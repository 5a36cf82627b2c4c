// Which selected nodes can be sent for editing, and what to tell the designer about the others.
import type { CanvasNode } from './figma-api.ts';
import type { SelectionDescription } from './types.ts';

export const NOTHING_SELECTED = 'Select a frame, group or image to edit.';
const NAMED_AT_MOST = 3;

/** Why a node cannot be edited, or undefined when it can. */
export function whyNotEditable(node: CanvasNode): string | undefined {
  if (typeof node.exportAsync !== 'function') return 'cannot be exported';
  if (!(node.width > 0 && node.height > 0)) return 'has no area';
  return undefined;
}

export function describeSelection(selection: ReadonlyArray<CanvasNode>): SelectionDescription {
  if (selection.length === 0) return { items: [], problem: NOTHING_SELECTED };
  const items: SelectionDescription['items'] = [];
  const refused: string[] = [];
  for (const node of selection) {
    const why = whyNotEditable(node);
    if (why === undefined) items.push({ nodeId: node.id, name: node.name, width: node.width, height: node.height });
    else refused.push(`"${node.name}" ${why}`);
  }
  if (refused.length === 0) return { items };
  const named = refused.slice(0, NAMED_AT_MOST).join(', ');
  const more = refused.length > NAMED_AT_MOST ? ` and ${refused.length - NAMED_AT_MOST} more cannot be edited` : '';
  const advice = items.length === 0 ? ` ${NOTHING_SELECTED}` : ' Only the other layers will be edited.';
  return { items, problem: `${named}${more}.${advice}` };
}
