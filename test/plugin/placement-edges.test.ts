// Edges of result placement that place-result-async.test.ts and result-placement.test.ts leave open:
// PNGs whose header says more (or nothing), refusals that depend on the placement mode, nodes that are
// not layers, touching boxes, and names cut at a space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeResultAsync } from '../../plugin/place-result-async.ts';
import { findFreePosition } from '../../plugin/private/find-free-position.ts';
import { nameResultLayer } from '../../plugin/private/name-result-layer.ts';
import type { PlaceResultRequest } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance, type MockNode } from './figma-mock.ts';

function setUp(sourceOptions: Parameters<typeof makeNode>[0] = {}) {
  const figma = makeFigma();
  const parent = makeParent('FRAME');
  const source = makeNode({ id: '1:1', name: 'Hero', x: 100, y: 50, width: 400, height: 300, parent, ...sourceOptions });
  figma.register(source);
  return { figma, parent, source };
}

function request(overrides: Partial<PlaceResultRequest> = {}): PlaceResultRequest {
  return { jobId: 'job-1', png: fakePng(512, 384), width: 512, height: 384, provenance: makeProvenance(), placement: 'beside', ...overrides };
}

test('bytes without a PNG header are judged by the declared size alone (Figma decides whether it reads them)', async () => {
  const { figma } = setUp();
  const png = new Uint8Array([1, 2, 3, 4]);
  const outcome = await placeResultAsync(figma, request({ png, width: 300, height: 200 }));
  assert.equal(outcome.placed, true);
  assert.deepEqual(figma.calls.createImage, [png]);
  const refused = setUp();
  const tooTall = await placeResultAsync(refused.figma, request({ png, width: 300, height: 4097 }));
  assert.deepEqual(tooTall, { placed: false, reason: 'Result is 300×4097 px; Figma takes at most 4096 px a side. Not placed.' });
});

test('the larger of the declared and the PNG header\'s height counts, and the refusal says it', async () => {
  const { figma } = setUp();
  const outcome = await placeResultAsync(figma, request({ png: fakePng(1000, 5000), width: 1000, height: 100 }));
  assert.deepEqual(outcome, { placed: false, reason: 'Result is 1000×5000 px; Figma takes at most 4096 px a side. Not placed.' });
  assert.deepEqual(figma.calls.notify, [{ message: 'Result is 1000×5000 px; Figma takes at most 4096 px a side. Not placed.', options: { error: true } }]);
});

test('beside needs no fills: a group is placed beside', async () => {
  const { figma } = setUp({ type: 'GROUP', hasFills: false });
  const outcome = await placeResultAsync(figma, request());
  assert.equal(outcome.placed, true);
  assert.deepEqual(figma.calls.notify, []);
});

test('beside needs a parent: a source without one is refused; replace-fills does not need one', async () => {
  const orphan = makeNode({ id: '1:1', name: 'Loose' });
  const figma = makeFigma();
  figma.register(orphan);
  const outcome = await placeResultAsync(figma, request());
  assert.deepEqual(outcome, { placed: false, reason: 'The original layer has no parent. Result not placed.' });
  assert.deepEqual(figma.calls.notify, [{ message: 'The original layer has no parent. Result not placed.', options: { error: true } }]);
  assert.deepEqual(figma.calls.createImage, []);
  assert.equal(figma.calls.commitUndo, 0);

  const replaced = await placeResultAsync(figma, request({ placement: 'replace-fills' }));
  assert.deepEqual(replaced, { placed: true, nodeId: '1:1', sourceNodeId: '1:1' });
  assert.equal(figma.calls.commitUndo, 1);
});

test('a provenance pointing at the document or a page is refused like a deleted layer', async () => {
  for (const type of ['DOCUMENT', 'PAGE'] as const) {
    const figma = makeFigma();
    const node = { ...makeParent(type), id: '1:1', name: 'Page 1', fills: [] } as unknown as MockNode;
    figma.register(node);
    for (const placement of ['beside', 'replace-fills'] as const) {
      const outcome = await placeResultAsync(figma, request({ placement }));
      assert.deepEqual(outcome, { placed: false, reason: 'The original layer was deleted or is not a layer. Result not placed.' }, `${type} ${placement}`);
    }
    assert.deepEqual(figma.calls.createImage, []);
  }
});

test('a long layer name is cut to 30 characters (code points) in the no-fills notification; 30 fit whole', async () => {
  const thirty = 'x'.repeat(29) + '🌅';
  const exact = setUp({ name: thirty, type: 'GROUP', hasFills: false });
  await placeResultAsync(exact.figma, request({ placement: 'replace-fills' }));
  assert.equal(exact.figma.calls.notify[0].message, `"${thirty}" has no fills to replace. Try placing beside it.`);

  const long = setUp({ name: `${'🌅'.repeat(30)}tail`, type: 'GROUP', hasFills: false });
  await placeResultAsync(long.figma, request({ placement: 'replace-fills' }));
  assert.equal(long.figma.calls.notify[0].message, `"${'🌅'.repeat(30)}…" has no fills to replace. Try placing beside it.`);
});

test('findFreePosition keeps at least the gap from every sibling it moves past, not only the nearest', () => {
  const source = { x: 0, y: 0, width: 100, height: 100 };
  // Both overlap the first spot (124..224); their right edges are 10 px apart, less than the gap.
  const obstacles = [
    { x: 124, y: 0, width: 10, height: 100 },
    { x: 124, y: 0, width: 20, height: 100 },
  ];
  assert.deepEqual(findFreePosition(source, source, obstacles, 24), { x: 144 + 24, y: 0 });
});

test('findFreePosition: boxes that only touch, on any side, do not overlap', () => {
  const source = { x: 0, y: 100, width: 100, height: 100 };
  const spot = { x: 124, y: 100 };
  const touching = [
    { x: 24, y: 100, width: 100, height: 100 }, // ends where the spot starts
    { x: 224, y: 100, width: 50, height: 100 }, // starts where the spot ends
    { x: 124, y: 0, width: 100, height: 100 }, // ends where the spot's row starts
    { x: 124, y: 200, width: 100, height: 50 }, // starts where the spot's row ends
  ];
  assert.deepEqual(findFreePosition(source, source, touching, 24), spot);
  // well above or below the row, even across the spot's columns
  assert.deepEqual(findFreePosition(source, source, [{ x: 100, y: -500, width: 400, height: 300 }, { x: 100, y: 400, width: 400, height: 10 }], 24), spot);
  // one pixel into the spot on any side is an overlap
  for (const box of [
    { x: 25, y: 100, width: 100, height: 100 },
    { x: 223, y: 100, width: 50, height: 100 },
    { x: 124, y: 1, width: 100, height: 100 },
    { x: 124, y: 199, width: 100, height: 50 },
  ]) {
    assert.notDeepEqual(findFreePosition(source, source, [box], 24), spot, JSON.stringify(box));
  }
});

test('nameResultLayer: runs of whitespace become one space; a cut never ends in a space before the ellipsis', () => {
  assert.equal(nameResultLayer('make   it\t\tred\n\n  now'), 'make it red now');
  const words = `${'a'.repeat(59)} bbbbbbbb`;
  assert.equal(nameResultLayer(words), `${'a'.repeat(59)}…`);
  assert.equal(nameResultLayer(`  ${'c'.repeat(61)}`), `${'c'.repeat(60)}…`);
});
