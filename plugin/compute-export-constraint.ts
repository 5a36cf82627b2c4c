// The export constraint that caps the long side of a node's PNG at maxSide, never upscaling.

export function computeExportConstraint(width: number, height: number, maxSide: number): ExportSettingsConstraints {
  if (!Number.isFinite(maxSide) || maxSide < 1) throw new RangeError(`maxSide must be a number >= 1, got ${maxSide}`);
  const side = Math.floor(maxSide);
  if (width <= side && height <= side) return { type: 'SCALE', value: 1 };
  return width >= height ? { type: 'WIDTH', value: side } : { type: 'HEIGHT', value: side };
}
