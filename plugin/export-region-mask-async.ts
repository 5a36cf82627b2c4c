// Regions: the mask the server edits under (white edits, black keeps), drawn by Figma itself because the
// sandbox has no canvas: a temporary frame the target's size filled black, white copies of the shapes at
// their place relative to the target, exported with the target's constraint so the PNG has the image's
// pixel size, then removed. No undo step is committed: the frame comes and goes within this call, so it
// leaves nothing to undo (as in place-result-async, commitUndo only follows a change the designer keeps).
import type { CanvasNode, FigmaApi } from './figma-api.ts';
import type { Region } from './find-region-of-selection.ts';
import { invertAffine, multiplyAffine } from './private/affine-transform.ts';

const BLACK: SolidPaint = { type: 'SOLID', color: { r: 0, g: 0, b: 0 } };
const WHITE: SolidPaint = { type: 'SOLID', color: { r: 1, g: 1, b: 1 } };

export async function exportRegionMaskAsync(figma: FigmaApi, region: Region, constraint: ExportSettingsConstraints): Promise<Uint8Array> {
  const { target, shapes } = region;
  const frame = figma.createFrame();
  try {
    frame.name = 'MGIE region mask (temporary)';
    frame.resize(target.width, target.height);
    frame.fills = [BLACK];
    frame.clipsContent = true;
    // A point in the target's own coordinates is where it lands in the frame (both start at 0,0).
    const pageToTarget = invertAffine(target.absoluteTransform);
    for (const shape of shapes) {
      if (typeof shape.clone !== 'function') throw new Error(`"${shape.name}" cannot be copied to make the region mask.`);
      const copy = shape.clone();
      frame.appendChild(copy);
      copy.relativeTransform = multiplyAffine(pageToTarget, shape.absoluteTransform);
      paintWhite(copy);
    }
    return await frame.exportAsync({ format: 'PNG', useAbsoluteBounds: true, constraint });
  } finally {
    frame.remove();
  }
}

/** Everything the shape covers, stroke included, in plain white: no shadow, blur or opacity greys it. */
function paintWhite(copy: CanvasNode): void {
  copy.visible = true;
  if (copy.fills !== undefined) copy.fills = [WHITE];
  if (copy.strokes !== undefined && copy.strokes.length > 0) copy.strokes = [WHITE];
  if (copy.effects !== undefined) copy.effects = [];
  if (copy.opacity !== undefined) copy.opacity = 1;
  // A shape used as a Figma mask would clip the frame instead of showing.
  if (copy.isMask === true) copy.isMask = false;
}
