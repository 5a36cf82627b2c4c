/**
 * The size the model edits at: the long side scaled to `size`, each side rounded to the nearest
 * multiple of `multiple` (at least one multiple), so any aspect ratio works.
 */
export function editDimensions(width: number, height: number, size: number, multiple: number): { width: number; height: number } {
  const scale = size / Math.max(width, height);
  const round = (side: number): number => Math.max(multiple, Math.round((side * scale) / multiple) * multiple);
  return { width: round(width), height: round(height) };
}
