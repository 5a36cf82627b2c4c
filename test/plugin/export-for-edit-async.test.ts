import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOTHING_SELECTED } from '../../plugin/describe-selection.ts';
import { exportNodeForEditAsync, exportSelectionForEditAsync } from '../../plugin/export-for-edit-async.ts';
import { makeFigma, makeNode } from './figma-mock.ts';

test('the selection export skips what cannot be edited and keeps selection order', async () => {
  const figma = makeFigma();
  const a = makeNode({ id: '1:1', name: 'A', width: 300, height: 200 });
  const slice = makeNode({ id: '1:2', name: 'Slice', exportable: false });
  const b = makeNode({ id: '1:3', name: 'B', width: 5000, height: 100 });
  figma.currentPage.selection = [b, slice, a];
  const images = await exportSelectionForEditAsync(figma, 2048);
  assert.deepEqual(images.map((image) => [image.nodeId, image.width, image.height]), [['1:3', 2048, 41], ['1:1', 300, 200]]);
  assert.equal(slice.exportCalls.length, 0);
});

test('an empty or uneditable selection fails with the message the designer sees', async () => {
  const figma = makeFigma();
  await assert.rejects(exportSelectionForEditAsync(figma, 2048), { message: NOTHING_SELECTED });
  figma.currentPage.selection = [makeNode({ name: 'Empty', width: 0, height: 10 })];
  await assert.rejects(exportSelectionForEditAsync(figma, 2048), /"Empty" has no area/);
});

test('a node is exported by id (variation), and a deleted or page node is refused in plain words', async () => {
  const figma = makeFigma();
  const source = makeNode({ id: '7:1', name: 'Hero', width: 800, height: 600 });
  figma.register(source);
  const image = await exportNodeForEditAsync(figma, '7:1', 512);
  assert.deepEqual([image.nodeId, image.width, image.height], ['7:1', 512, 384]);
  await assert.rejects(exportNodeForEditAsync(figma, '404:1', 512), /original layer was deleted/);
  figma.register(makeNode({ id: '8:1', name: 'Slice', exportable: false }));
  await assert.rejects(exportNodeForEditAsync(figma, '8:1', 512), /"Slice" cannot be exported\. Select another layer/);
});
