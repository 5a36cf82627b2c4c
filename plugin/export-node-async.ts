// Exports one node as a PNG whose long side is at most maxSide px.
import { computeExportConstraint } from './compute-export-constraint.ts';
import type { CanvasNode } from './figma-api.ts';
import { readPngSize } from './private/read-png-size.ts';
import type { ExportedImage } from './types.ts';

export async function exportNodeAsync(node: CanvasNode, maxSide: number): Promise<ExportedImage> {
  if (typeof node.exportAsync !== 'function') throw new TypeError(`"${node.name}" cannot be exported`);
  const constraint = computeExportConstraint(node.width, node.height, maxSide);
  // useAbsoluteBounds: the PNG maps exactly onto the node's box (field notes), so a result placed over
  // or beside it lines up.
  const png = await node.exportAsync({ format: 'PNG', useAbsoluteBounds: true, constraint });
  // Figma rounds the scaled size itself: trust the PNG's own header, estimate only if it is unreadable.
  const size = readPngSize(png) ?? estimateSize(node.width, node.height, constraint);
  return { nodeId: node.id, name: node.name, png, width: size.width, height: size.height };
}

function estimateSize(width: number, height: number, constraint: ExportSettingsConstraints): { width: number; height: number } {
  const scale =
    constraint.type === 'SCALE' ? constraint.value : constraint.type === 'WIDTH' ? constraint.value / width : constraint.value / height;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}
