// 2x3 affine transforms as Figma writes them ([[a, c, tx], [b, d, ty]]: x' = a·x + c·y + tx,
// y' = b·x + d·y + ty), and the page-space box of a node from its absoluteTransform and size.

export type Affine = [[number, number, number], [number, number, number]];

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `outer` after `inner`: maps a point through inner, then outer. */
export function multiplyAffine(outer: Affine, inner: Affine): Affine {
  const [[a, c, e], [b, d, f]] = outer;
  const [[A, C, E], [B, D, F]] = inner;
  return [
    [a * A + c * B, a * C + c * D, a * E + c * F + e],
    [b * A + d * B, b * C + d * D, b * E + d * F + f],
  ];
}

export function invertAffine(transform: Affine): Affine {
  const [[a, c, e], [b, d, f]] = transform;
  const det = a * d - b * c;
  if (det === 0) throw new RangeError('a transform without area cannot be inverted');
  return [
    [d / det, -c / det, (c * f - d * e) / det],
    [-b / det, a / det, (b * e - a * f) / det],
  ];
}

/** The axis-aligned box, in page coordinates, around a node's (possibly rotated) width x height. */
export function pageBoxOf(node: { absoluteTransform: Affine; width: number; height: number }): Box {
  const [[a, c, e], [b, d, f]] = node.absoluteTransform;
  const corners = [
    [0, 0],
    [node.width, 0],
    [0, node.height],
    [node.width, node.height],
  ].map(([x, y]) => [a * x + c * y + e, b * x + d * y + f]);
  const xs = corners.map(([x]) => x);
  const ys = corners.map(([, y]) => y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

/** Whether two boxes share area; boxes that only touch do not (as in find-free-position). */
export function boxesIntersect(p: Box, q: Box): boolean {
  return p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height;
}
