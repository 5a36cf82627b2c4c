import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeExportConstraint } from '../../plugin/compute-export-constraint.ts';
import { exportNodeAsync } from '../../plugin/export-node-async.ts';
import { readPngSize } from '../../plugin/private/read-png-size.ts';
import { fakePng, makeNode } from './figma-mock.ts';

test('the long side is capped at maxSide; smaller nodes export at scale 1', () => {
  assert.deepEqual(computeExportConstraint(800, 600, 2048), { type: 'SCALE', value: 1 });
  assert.deepEqual(computeExportConstraint(2048, 2048, 2048), { type: 'SCALE', value: 1 });
  assert.deepEqual(computeExportConstraint(5000, 1000, 2048), { type: 'WIDTH', value: 2048 });
  assert.deepEqual(computeExportConstraint(1000, 5000, 2048), { type: 'HEIGHT', value: 2048 });
  assert.deepEqual(computeExportConstraint(3000, 3000, 1024), { type: 'WIDTH', value: 1024 });
  assert.throws(() => computeExportConstraint(10, 10, 0), RangeError);
  assert.throws(() => computeExportConstraint(10, 10, Number.NaN), RangeError);
});

test('a small node is exported as PNG with absolute bounds at scale 1', async () => {
  const node = makeNode({ id: '3:1', name: 'Logo', width: 640, height: 480 });
  const image = await exportNodeAsync(node, 2048);
  assert.deepEqual(node.exportCalls, [{ format: 'PNG', useAbsoluteBounds: true, constraint: { type: 'SCALE', value: 1 } }]);
  assert.deepEqual({ ...image, png: undefined }, { nodeId: '3:1', name: 'Logo', png: undefined, width: 640, height: 480 });
  assert.deepEqual(readPngSize(image.png), { width: 640, height: 480 });
});

test('a wide node 5000x1000 with maxSide 2048 is exported with WIDTH 2048, its size read from the PNG', async () => {
  const node = makeNode({ width: 5000, height: 1000 });
  const image = await exportNodeAsync(node, 2048);
  assert.deepEqual(node.exportCalls[0].constraint, { type: 'WIDTH', value: 2048 });
  assert.deepEqual([image.width, image.height], [2048, 410]);
});

test('a tall node is exported with a HEIGHT constraint', async () => {
  const node = makeNode({ width: 1000, height: 5000 });
  const image = await exportNodeAsync(node, 2048);
  assert.deepEqual(node.exportCalls[0].constraint, { type: 'HEIGHT', value: 2048 });
  assert.deepEqual([image.width, image.height], [410, 2048]);
});

test('when the bytes are not a readable PNG the size is estimated from the constraint', async () => {
  const node = makeNode({ width: 5000, height: 1000 });
  node.exportAsync = async () => new Uint8Array([1, 2, 3]);
  const image = await exportNodeAsync(node, 1000);
  assert.deepEqual([image.width, image.height], [1000, 200]);
});

test('a node that cannot be exported is refused', async () => {
  await assert.rejects(exportNodeAsync(makeNode({ name: 'Poll', exportable: false }), 2048), /"Poll" cannot be exported/);
});

test('readPngSize reads the IHDR size and rejects non-PNG bytes', () => {
  assert.deepEqual(readPngSize(fakePng(4097, 12)), { width: 4097, height: 12 });
  assert.equal(readPngSize(new Uint8Array(40)), undefined);
  assert.equal(readPngSize(fakePng(1, 1).subarray(0, 20)), undefined);
});
