// Where a result placed "beside" lands: one gap right of its source, at the source's row, on no
// sibling. The existing tests put the source near the page origin, where a start ignoring the source's x
// is pushed past the source itself and lands right by luck; here sources sit far from it (and at
// negative x), and random layouts check the rule itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLACEMENT_GAP, placeResultAsync } from '../../plugin/place-result-async.ts';
import { findFreePosition, type Box } from '../../plugin/private/find-free-position.ts';
import type { PlaceResultRequest } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance, type MockNode } from './figma-mock.ts';

const request = (): PlaceResultRequest => ({ jobId: 'job-1', png: fakePng(400, 300), width: 400, height: 300, provenance: makeProvenance(), placement: 'beside' });

async function placeBesideAsync(source: { x: number; y: number; width: number; height: number }, siblings: Box[] = []) {
  const figma = makeFigma();
  const parent = makeParent('FRAME');
  for (const box of siblings) makeNode({ ...box, parent });
  const node = makeNode({ id: '1:1', ...source, parent });
  figma.register(node);
  const outcome = await placeResultAsync(figma, request());
  assert.equal(outcome.placed, true);
  return { rect: figma.calls.createRectangle[0], parent, node };
}

const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('beside: one gap right of the source wherever the source is, not from the page\'s left edge', async () => {
  for (const source of [
    { x: 5000, y: 300, width: 400, height: 300 },
    { x: 1234.5, y: -20, width: 64, height: 64 },
    { x: -800, y: 40, width: 200, height: 100 },
    { x: 0, y: 0, width: 10, height: 10 },
  ]) {
    const { rect } = await placeBesideAsync(source);
    assert.deepEqual([rect.x, rect.y, rect.width, rect.height], [source.x + source.width + PLACEMENT_GAP, source.y, source.width, source.height], JSON.stringify(source));
  }
});

test('beside: a layer at the page\'s left edge is not covered when the source is far to the right', async () => {
  const source = { x: 3000, y: 100, width: 400, height: 300 };
  const atLeftEdge = { x: 0, y: 100, width: 900, height: 300 };
  const { rect } = await placeBesideAsync(source, [atLeftEdge]);
  assert.ok(!overlaps(rect, atLeftEdge));
  assert.equal(rect.x, 3424);
});

test('findFreePosition: on random layouts the spot is right of the source by at least the gap, on its row, and free', () => {
  // a small LCG so failures reproduce
  let state = 2024;
  const random = (): number => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const int = (min: number, max: number): number => Math.floor(min + random() * (max - min + 1));
  for (let round = 0; round < 500; round++) {
    const source = { x: int(-5000, 5000), y: int(-3000, 3000), width: int(1, 800), height: int(1, 600) };
    const obstacles: Box[] = [source];
    for (let i = int(0, 12); i > 0; i--) {
      // most near the source's row and to its right, where they matter; some at the page's left edge
      const x = random() < 0.2 ? int(0, 200) : source.x + int(-200, 3000);
      obstacles.push({ x, y: source.y + int(-700, 700), width: int(1, 900), height: int(1, 700) });
    }
    const spot = findFreePosition(source, source, obstacles, PLACEMENT_GAP);
    const placed = { ...spot, width: source.width, height: source.height };
    const context = JSON.stringify({ source, obstacles, spot });
    assert.equal(spot.y, source.y, context);
    assert.ok(spot.x >= source.x + source.width + PLACEMENT_GAP, `left of where it may go: ${context}`);
    for (const obstacle of obstacles) assert.ok(!overlaps(placed, obstacle), `over ${JSON.stringify(obstacle)}: ${context}`);
  }
});

test('beside on a page of many layers: the placed rectangle overlaps none of its siblings', async () => {
  const siblings: Box[] = [
    { x: 0, y: 0, width: 300, height: 2000 }, // a tall column at the page's left edge
    { x: 2424, y: 150, width: 100, height: 100 },
    { x: 2600, y: 0, width: 50, height: 50 },
    { x: 3100, y: 390, width: 20, height: 20 },
  ];
  const { rect, parent, node } = await placeBesideAsync({ x: 2000, y: 100, width: 400, height: 300 }, siblings);
  for (const sibling of parent.children as MockNode[]) {
    if (sibling === rect) continue;
    assert.ok(!overlaps(rect, sibling), `over the sibling at ${sibling.x},${sibling.y}`);
  }
  assert.ok(rect.x >= node.x + node.width + PLACEMENT_GAP);
  assert.equal(rect.y, node.y);
});
