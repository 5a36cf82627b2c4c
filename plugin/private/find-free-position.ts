// Where a box of a given size goes to the right of a source box without overlapping any sibling:
// start `gap` right of the source, and while anything overlaps, jump `gap` past the rightmost overlap.
// Siblings share their parent's coordinate system, so their x/y/width/height compare directly
// (rotation is ignored: width/height are the unrotated size).

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function findFreePosition(source: Box, size: { width: number; height: number }, obstacles: ReadonlyArray<Box>, gap: number): { x: number; y: number } {
  const y = source.y;
  let x = source.x + source.width + gap;
  // x only grows, each time past at least one obstacle, so this ends after at most obstacles.length jumps.
  for (;;) {
    const box = { x, y, width: size.width, height: size.height };
    const hits = obstacles.filter((o) => overlaps(box, o));
    if (hits.length === 0) return { x, y };
    x = Math.max(...hits.map((o) => o.x + o.width)) + gap;
  }
}

/** Strict overlap: boxes that only touch do not overlap. */
function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
