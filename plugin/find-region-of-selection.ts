// Regions: a selection of one frame, group or image plus vector shapes lying over it (their boxes
// intersect it) means "edit this frame, only under the shapes". The shapes are then not edited
// themselves; they become the mask. Shapes inside the frame count too. A selection that almost fits
// (a shape beside the frame, shapes with several frames) is edited layer by layer as before, with a hint
// that says the rule.
import type { CanvasNode } from './figma-api.ts';
import { boxesIntersect, pageBoxOf } from './private/affine-transform.ts';
import { whyNotEditable } from './private/why-not-editable.ts';

/** Vector layers that can mark a region. LINE is left out: it has no area to edit under. */
export const REGION_SHAPE_TYPES: ReadonlySet<SceneNode['type']> = new Set(['RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'VECTOR', 'BOOLEAN_OPERATION']);
/** Layers a region can limit, besides images (shapes filled with an image). */
const REGION_TARGET_TYPES: ReadonlySet<SceneNode['type']> = new Set(['FRAME', 'GROUP', 'COMPONENT', 'INSTANCE']);

export interface Region {
  /** The layer that is exported and edited. */
  target: CanvasNode;
  /** The shapes over it, in selection order: white in the mask. */
  shapes: CanvasNode[];
}

export type RegionOfSelection = { region: Region; hint?: undefined } | { region?: undefined; hint?: string };

/** A rectangle or other shape filled with an image is a picture to edit, not a region shape. */
export function isImageLayer(node: CanvasNode): boolean {
  return Array.isArray(node.fills) && (node.fills as ReadonlyArray<Paint>).some((paint) => paint.type === 'IMAGE' && paint.visible !== false);
}

function isRegionShape(node: CanvasNode): boolean {
  return REGION_SHAPE_TYPES.has(node.type) && !isImageLayer(node) && whyNotEditable(node) === undefined;
}

function isRegionTarget(node: CanvasNode): boolean {
  return REGION_TARGET_TYPES.has(node.type) || isImageLayer(node);
}

export function findRegionOfSelection(selection: ReadonlyArray<CanvasNode>): RegionOfSelection {
  const shapes = selection.filter(isRegionShape);
  // Layers that are not shapes; those that cannot be edited at all are reported by describeSelection.
  const others = selection.filter((node) => !isRegionShape(node) && whyNotEditable(node) === undefined);
  if (shapes.length === 0 || others.length === 0) return {};
  const targets = others.filter(isRegionTarget);
  if (others.length > 1 || targets.length === 0) {
    if (targets.length === 0) return {};
    const them = shapes.length === 1 ? 'it' : 'them';
    return { hint: `To edit only under ${listNames(shapes)}, select ${them} with just one frame, group or image.` };
  }
  const target = targets[0];
  const box = pageBoxOf(target);
  const away = shapes.filter((shape) => !boxesIntersect(pageBoxOf(shape), box));
  if (away.length > 0) {
    const verb = away.length === 1 ? 'is' : 'are';
    return { hint: `${listNames(away)} ${verb} not over "${target.name}", so each layer is edited whole. To edit only under a shape, place it over "${target.name}".` };
  }
  return { region: { target, shapes } };
}

/** "Circle", "Circle and Star", "Circle, Star and 2 more". */
export function listNames(nodes: ReadonlyArray<{ name: string }>, quote = true): string {
  const names = nodes.map((node) => (quote ? `"${node.name}"` : node.name));
  if (names.length <= 2) return names.join(' and ');
  return `${names[0]}, ${names[1]} and ${names.length - 2} more`;
}
