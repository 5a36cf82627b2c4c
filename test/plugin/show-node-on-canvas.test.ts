// "Show on canvas": the layer is selected and brought into view, on its own page if the designer has
// moved to another; a deleted layer is a short notice, not an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_GONE, showNodeOnCanvasAsync } from '../../plugin/show-node-on-canvas-async.ts';
import { makeContainer, makeFigma, makeNode, makeParent } from './figma-mock.ts';

test('selects the layer and scrolls and zooms to it, replacing the selection', async () => {
  const figma = makeFigma();
  const frame = makeContainer({ name: 'Section', parent: figma.page, width: 2000, height: 2000 });
  const result = makeNode({ id: '3:1', name: 'make it autumn', parent: frame });
  figma.register(result);
  figma.currentPage.selection = [frame];
  assert.equal(await showNodeOnCanvasAsync(figma, '3:1'), true);
  assert.deepEqual(figma.currentPage.selection, [result]);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, [[result]]);
  assert.deepEqual(figma.calls.setCurrentPageAsync, []);
  assert.deepEqual(figma.calls.notify, []);
});

test('a layer on another page: that page is opened first', async () => {
  const figma = makeFigma();
  const otherPage = makeParent('PAGE');
  const result = makeNode({ id: '4:1', parent: otherPage });
  figma.register(result);
  assert.equal(await showNodeOnCanvasAsync(figma, '4:1'), true);
  assert.deepEqual(figma.calls.setCurrentPageAsync, [otherPage]);
  assert.equal(figma.currentPage.id, otherPage.id);
  assert.deepEqual(figma.currentPage.selection, [result]);
});

test('a deleted layer, a page id or a layer in no page: a notice, nothing selected or scrolled', async () => {
  const figma = makeFigma();
  const deleted = makeNode({ id: '5:1', parent: figma.page });
  const loose = makeNode({ id: '5:2' });
  figma.register(deleted, loose);
  deleted.remove();
  const before = [makeNode()];
  figma.currentPage.selection = before;
  for (const id of ['5:1', '404:1', '5:2']) assert.equal(await showNodeOnCanvasAsync(figma, id), false, id);
  assert.deepEqual(figma.calls.notify.map((call) => call.message), [NODE_GONE, NODE_GONE, NODE_GONE]);
  assert.ok(NODE_GONE.length <= 100);
  assert.equal(figma.currentPage.selection, before);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, []);
});
