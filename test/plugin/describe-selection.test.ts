import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeSelection, NOTHING_SELECTED } from '../../plugin/describe-selection.ts';
import { IMAGE_FILL, makeNode } from './figma-mock.ts';

test('nothing selected: no items and the advice to select something', () => {
  assert.deepEqual(describeSelection([]), { items: [], problem: 'Select a frame, group or image to edit.' });
  assert.equal(NOTHING_SELECTED, 'Select a frame, group or image to edit.');
});

test('editable nodes become items with id, name and size, in selection order, without a problem', () => {
  const a = makeNode({ id: '1:2', name: 'Hero', width: 1440, height: 900 });
  // a photo in Figma is a rectangle filled with an image: a layer to edit, not a region shape
  const b = makeNode({ id: '1:3', name: 'Photo', type: 'RECTANGLE', width: 300, height: 200, fills: [IMAGE_FILL] });
  assert.deepEqual(describeSelection([a, b]), {
    items: [
      { nodeId: '1:2', name: 'Hero', width: 1440, height: 900 },
      { nodeId: '1:3', name: 'Photo', width: 300, height: 200 },
    ],
  });
});

test('only unsupported nodes: no items, and a message naming each with its reason', () => {
  const line = makeNode({ name: 'Divider', type: 'LINE', width: 200, height: 0 });
  const widget = makeNode({ name: 'Poll', type: 'WIDGET', exportable: false });
  const result = describeSelection([line, widget]);
  assert.deepEqual(result.items, []);
  assert.equal(result.problem, `"Divider" has no area, "Poll" cannot be exported. ${NOTHING_SELECTED}`);
});

test('mixed selection: the editable nodes are items, the problem names the others', () => {
  const frame = makeNode({ id: '2:1', name: 'Card', width: 320, height: 240 });
  const empty = makeNode({ name: 'Empty frame', width: 0, height: 0 });
  const result = describeSelection([empty, frame]);
  assert.deepEqual(result.items, [{ nodeId: '2:1', name: 'Card', width: 320, height: 240 }]);
  assert.equal(result.problem, '"Empty frame" has no area. Only the other layers will be edited.');
});

test('many unsupported nodes: three are named, the rest counted', () => {
  const lines = Array.from({ length: 5 }, (_, i) => makeNode({ name: `Line ${i + 1}`, type: 'LINE', height: 0 }));
  const result = describeSelection(lines);
  assert.equal(
    result.problem,
    `"Line 1" has no area, "Line 2" has no area, "Line 3" has no area and 2 more cannot be edited. ${NOTHING_SELECTED}`,
  );
});
