import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLACEMENT_GAP, placeResultAsync } from '../../plugin/place-result-async.ts';
import { PROVENANCE_KEY, type PlaceResultRequest } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance } from './figma-mock.ts';

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

test('beside: a rectangle of the source size, gap to its right, same parent, just above the source', async () => {
  const { figma, parent, source } = setUp();
  const outcome = await placeResultAsync(figma, request());
  const rect = figma.calls.createRectangle[0];
  assert.deepEqual(outcome, { placed: true, nodeId: rect.id, sourceNodeId: '1:1' });
  assert.equal(PLACEMENT_GAP, 24);
  assert.equal(rect.parent, parent);
  assert.deepEqual(parent.children, [source, rect]);
  // the PNG is 512x384 but the rectangle keeps the source's 400x300
  assert.deepEqual(rect.resizeCalls, [[400, 300]]);
  assert.deepEqual([rect.x, rect.y, rect.width, rect.height], [100 + 400 + 24, 50, 400, 300]);
});

test('beside: the fill is one IMAGE paint, FILL, with the hash createImage returned for the PNG', async () => {
  const { figma } = setUp();
  const png = fakePng(400, 300);
  await placeResultAsync(figma, request({ png, width: 400, height: 300 }));
  assert.deepEqual(figma.calls.createImage, [png]);
  assert.deepEqual(figma.calls.createRectangle[0].fills, [{ type: 'IMAGE', imageHash: 'hash-1', scaleMode: 'FILL' }]);
});

test('beside: moved past overlapping siblings, repeatedly, ignoring ones that do not overlap', async () => {
  const { figma, parent } = setUp();
  // overlaps the first spot (x 524..924)
  makeNode({ name: 'A', x: 600, y: 100, width: 100, height: 100, parent });
  // overlaps the second spot (x 724..1124)
  makeNode({ name: 'B', x: 900, y: 0, width: 200, height: 60, parent });
  // same x range but below the source's rows: no overlap
  makeNode({ name: 'C', x: 1100, y: 350, width: 500, height: 500, parent });
  // touching the right edge of the final spot (x 1124..1524): not an overlap
  makeNode({ name: 'D', x: 1124 + 400, y: 50, width: 10, height: 10, parent });
  await placeResultAsync(figma, request());
  const rect = figma.calls.createRectangle[0];
  // 524 hits A (ends 700) -> 724 hits B (ends 1100) -> 1124 is free
  assert.deepEqual([rect.x, rect.y], [1124, 50]);
  // siblings in another parent do not count
  const other = makeParent();
  makeNode({ x: 524, y: 50, width: 1000, height: 1000, parent: other });
  const second = setUp();
  await placeResultAsync(second.figma, request());
  assert.equal(second.figma.calls.createRectangle[0].x, 524);
});

test('beside: named after the instruction, one line, trimmed, at most 60 characters plus an ellipsis', async () => {
  const cases: Array<[string, string]> = [
    ['  make the sky a sunset \n', 'make the sky a sunset'],
    ['a'.repeat(60), 'a'.repeat(60)],
    ['b'.repeat(61), `${'b'.repeat(60)}…`],
    [`${'🌅'.repeat(70)}`, `${'🌅'.repeat(60)}…`],
    ['   ', 'MGIE edit'],
  ];
  for (const [instruction, name] of cases) {
    const { figma } = setUp();
    await placeResultAsync(figma, request({ provenance: makeProvenance({ instruction }) }));
    assert.equal(figma.calls.createRectangle[0].name, name);
  }
});

test('beside: provenance stored, the selection and the view left alone, exactly one commitUndo', async () => {
  const { figma, source } = setUp();
  figma.currentPage.selection = [source];
  const provenance = makeProvenance();
  await placeResultAsync(figma, request({ provenance, afterPlacing: 'select' }));
  const rect = figma.calls.createRectangle[0];
  assert.deepEqual(JSON.parse(rect.getPluginData(PROVENANCE_KEY)), provenance);
  // even with 'select': selecting is done once per batch by main (create-placed-result-selector)
  assert.deepEqual(figma.currentPage.selection, [source]);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, []);
  assert.equal(figma.calls.commitUndo, 1);
  assert.deepEqual(figma.calls.notify, []);
});

test('replace-fills: the source gets the image fill and the provenance, one commitUndo, no new node', async () => {
  const { figma, source } = setUp();
  const provenance = makeProvenance();
  const outcome = await placeResultAsync(figma, request({ placement: 'replace-fills', provenance }));
  assert.deepEqual(outcome, { placed: true, nodeId: '1:1', sourceNodeId: '1:1' });
  assert.deepEqual(source.fills, [{ type: 'IMAGE', imageHash: 'hash-1', scaleMode: 'FILL' }]);
  assert.deepEqual(JSON.parse(source.getPluginData(PROVENANCE_KEY)), provenance);
  assert.equal(figma.calls.createRectangle.length, 0);
  assert.equal(figma.calls.commitUndo, 1);
  assert.deepEqual([source.x, source.y, source.width, source.height], [100, 50, 400, 300]);
});

test('replace-fills on a node without fills is refused with a notification', async () => {
  const { figma, source } = setUp({ name: 'Group 1', type: 'GROUP', hasFills: false });
  const outcome = await placeResultAsync(figma, request({ placement: 'replace-fills' }));
  assert.equal(outcome.placed, false);
  assert.equal(source.fills, undefined);
  assert.equal(figma.calls.notify.length, 1);
  assert.match(figma.calls.notify[0].message, /"Group 1" has no fills/);
  assert.equal(figma.calls.commitUndo, 0);
});

test('results over 4096 px are refused with a notification, without throwing, creating or committing anything', async () => {
  for (const overrides of [
    { png: fakePng(5000, 1000), width: 5000, height: 1000 },
    { png: fakePng(1000, 4097), width: 1000, height: 4097 },
    // the UI claims 4096 but the PNG says otherwise
    { png: fakePng(8192, 4096), width: 4096, height: 2048 },
  ]) {
    const { figma } = setUp();
    const outcome = await placeResultAsync(figma, request(overrides));
    assert.equal(outcome.placed, false);
    assert.equal(figma.calls.notify.length, 1);
    const { message, options } = figma.calls.notify[0];
    assert.match(message, /at most 4096 px/);
    assert.ok(message.length <= 100, message);
    assert.deepEqual(options, { error: true });
    assert.deepEqual(figma.calls.createImage, []);
    assert.deepEqual(figma.calls.createRectangle, []);
    assert.equal(figma.calls.commitUndo, 0);
  }
  // exactly 4096 is accepted
  const { figma } = setUp();
  assert.equal((await placeResultAsync(figma, request({ png: fakePng(4096, 4096), width: 4096, height: 4096 }))).placed, true);
});

test('a deleted source or an image Figma cannot read are refused without commitUndo', async () => {
  const gone = setUp();
  const missing = await placeResultAsync(gone.figma, request({ provenance: makeProvenance({ sourceNodeId: '404:1' }) }));
  assert.equal(missing.placed, false);
  assert.match(gone.figma.calls.notify[0].message, /deleted/);

  const unreadable = setUp();
  unreadable.figma.createImage = () => {
    throw new Error('Image type is unsupported');
  };
  const outcome = await placeResultAsync(unreadable.figma, request());
  assert.deepEqual(outcome, { placed: false, reason: 'Figma could not read the result image: Image type is unsupported' });
  assert.equal(unreadable.figma.calls.createRectangle.length, 0);
  assert.equal(gone.figma.calls.commitUndo + unreadable.figma.calls.commitUndo, 0);
});
