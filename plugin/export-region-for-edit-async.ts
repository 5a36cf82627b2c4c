// Regions: the frame exported without the shapes that mark the region, and the mask they make, both at
// the same pixel size.
import { computeExportConstraint } from './compute-export-constraint.ts';
import { exportNodeAsync } from './export-node-async.ts';
import { exportRegionMaskAsync } from './export-region-mask-async.ts';
import type { FigmaApi } from './figma-api.ts';
import type { Region } from './find-region-of-selection.ts';
import { readPngSize } from './private/read-png-size.ts';
import type { ExportedImage } from './types.ts';

// One region export at a time: two overlapping ones (Edit pressed twice) would each note the other's
// hidden shapes as hidden and leave them so.
let previous: Promise<unknown> = Promise.resolve();

export function exportRegionForEditAsync(figma: FigmaApi, region: Region, maxSide: number): Promise<ExportedImage> {
  const run = previous.then(() => exportAsync(figma, region, maxSide));
  previous = run.catch(() => undefined);
  return run;
}

async function exportAsync(figma: FigmaApi, region: Region, maxSide: number): Promise<ExportedImage> {
  const { target, shapes } = region;
  // 1. the picture under the shapes: shapes inside the frame would be drawn into its export
  const wasVisible = shapes.map((shape) => shape.visible);
  let image: ExportedImage;
  try {
    for (const shape of shapes) shape.visible = false;
    image = await exportNodeAsync(target, maxSide);
  } finally {
    shapes.forEach((shape, i) => {
      shape.visible = wasVisible[i];
    });
  }
  // 2. the mask, with the same constraint so Figma scales it the same way
  const mask = await exportRegionMaskAsync(figma, region, computeExportConstraint(target.width, target.height, maxSide));
  const size = readPngSize(mask);
  if (size === undefined || size.width !== image.width || size.height !== image.height) {
    const got = size === undefined ? 'unreadable' : `${size.width}×${size.height}`;
    throw new Error(`The region mask came out ${got}, not ${image.width}×${image.height} like "${target.name}". Try again.`);
  }
  return { ...image, mask };
}
