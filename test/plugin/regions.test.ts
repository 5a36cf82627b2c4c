// Regions: a frame (or group, or image) selected with vector shapes over it is one item, edited only under
// the shapes. Its export carries a mask PNG of the image's exact pixel size, white under the shapes and
// black elsewhere, drawn by (mock) Figma from a temporary frame that is removed again, and the image
// itself is exported without the shapes. Real sizes: a 1440x900 hero exported at 1024 px wide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { describeSelection, regionLabel } from '../../plugin/describe-selection.ts';
import { exportSelectionForEditAsync } from '../../plugin/export-for-edit-async.ts';
import { findRegionOfSelection } from '../../plugin/find-region-of-selection.ts';
import { readPngSize } from '../../plugin/private/read-png-size.ts';
import { fakePng, IMAGE_FILL, makeContainer, makeFigma, makeNode, type MockFigma, type MockNode } from './figma-mock.ts';

const MAX_SIDE = 1024;
/** 1440 px wide exported at 1024: every canvas px is 1024/1440 image px. */
const SCALE = 1024 / 1440;

/** A hero frame at (1000, 500) on the page, 1440x900, and a 400 px circle over it at (200, 100) inside it. */
function setUp() {
  const figma = makeFigma();
  const hero = makeContainer({ id: '10:1', name: 'Hero', x: 1000, y: 500, width: 1440, height: 900, parent: figma.page });
  const circle = makeNode({ id: '10:2', name: 'Circle', type: 'ELLIPSE', x: 1200, y: 600, width: 400, height: 400, parent: figma.page, fills: [solid(1, 0, 0)] });
  return { figma, hero, circle };
}

const solid = (r: number, g: number, b: number): SolidPaint => ({ type: 'SOLID', color: { r, g, b } });

async function grey(png: Uint8Array): Promise<{ width: number; height: number; at: (x: number, y: number) => number[] }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, at: (x, y) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)] };
}

/** Every pixel whose centre lies in `inside` (canvas px, relative to the frame) must be white, all others black. */
async function assertMask(png: Uint8Array, width: number, height: number, inside: (x: number, y: number) => boolean): Promise<void> {
  const mask = await grey(png);
  assert.deepEqual([mask.width, mask.height], [width, height]);
  let wrong = 0;
  let white = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const expected = inside((x + 0.5) / SCALE, (y + 0.5) / SCALE) ? 255 : 0;
      if (expected === 255) white++;
      if (mask.at(x, y).some((v) => v !== expected)) wrong++;
    }
  }
  assert.equal(wrong, 0, `${wrong} mask pixels are wrong`);
  assert.ok(white > 0 && white < width * height, 'the mask has both parts');
}

const inCircle = (x: number, y: number): boolean => (x - 400) ** 2 + (y - 300) ** 2 <= 200 ** 2;

test('one frame and a shape over it: ONE item for the frame, naming the shape, without a problem', () => {
  const { hero, circle } = setUp();
  for (const selection of [[hero, circle], [circle, hero]]) {
    const description = describeSelection(selection);
    assert.deepEqual(description, { items: [{ nodeId: '10:1', name: 'Hero', width: 1440, height: 900, regionShapeNames: ['Circle'] }] });
    assert.equal(regionLabel(description.items[0]), 'Editing Hero · only under Circle');
  }
  assert.equal(regionLabel({ nodeId: '1:1', name: 'Card', width: 1, height: 1 }), 'Card');
});

test('every vector type marks a region, LINE does not; an image (a shape filled with one) is the edited layer', () => {
  const { hero } = setUp();
  for (const type of ['RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'VECTOR', 'BOOLEAN_OPERATION'] as const) {
    const shape = makeNode({ name: type, type, x: 1100, y: 600, width: 50, height: 50 });
    assert.deepEqual(describeSelection([hero, shape]).items[0].regionShapeNames, [type], type);
  }
  const line = makeNode({ name: 'Divider', type: 'LINE', x: 1100, y: 600, width: 300, height: 0 });
  assert.deepEqual(describeSelection([hero, line]), { items: [{ nodeId: '10:1', name: 'Hero', width: 1440, height: 900 }], problem: '"Divider" has no area. Only the other layers will be edited.' });

  const photo = makeNode({ id: '11:1', name: 'Photo', type: 'RECTANGLE', width: 800, height: 600, fills: [IMAGE_FILL] });
  const star = makeNode({ name: 'Star', type: 'STAR', x: 700, y: 500, width: 200, height: 200 });
  assert.deepEqual(describeSelection([photo, star]).items, [{ nodeId: '11:1', name: 'Photo', width: 800, height: 600, regionShapeNames: ['Star'] }]);
  // a group is a target too
  const group = makeNode({ id: '12:1', name: 'Group 1', type: 'GROUP', hasFills: false, width: 300, height: 300 });
  const smallStar = makeNode({ name: 'Star', type: 'STAR', x: 100, y: 100, width: 50, height: 50 });
  assert.deepEqual(describeSelection([group, smallStar]).items.map((item) => item.regionShapeNames), [['Star']]);
});

test('several shapes: named in selection order, three and more counted', () => {
  const { hero, circle } = setUp();
  const star = makeNode({ name: 'Star', type: 'STAR', x: 1500, y: 900, width: 100, height: 100 });
  const blob = makeNode({ name: 'Blob', type: 'VECTOR', x: 1600, y: 900, width: 100, height: 100 });
  const item = describeSelection([circle, hero, star, blob]).items[0];
  assert.deepEqual(item.regionShapeNames, ['Circle', 'Star', 'Blob']);
  assert.equal(regionLabel(item), 'Editing Hero · only under Circle, Star and 1 more');
  assert.equal(regionLabel({ ...item, regionShapeNames: ['Circle', 'Star'] }), 'Editing Hero · only under Circle and Star');
});

test('a shape that is not over the frame: every layer edited whole, and the problem says the rule', () => {
  const { hero, circle } = setUp();
  // touching the frame's right edge (x 2440) is not over it
  const away = makeNode({ name: 'Dot', type: 'ELLIPSE', x: 2440, y: 600, width: 40, height: 40 });
  const description = describeSelection([hero, circle, away]);
  assert.deepEqual(description.items.map((item) => [item.name, item.regionShapeNames]), [['Hero', undefined], ['Circle', undefined], ['Dot', undefined]]);
  assert.equal(description.problem, '"Dot" is not over "Hero", so each layer is edited whole. To edit only under a shape, place it over "Hero".');
});

test('shapes with two frames, or with text: no region; a hint only where a frame could take one', () => {
  const { hero, circle } = setUp();
  const other = makeNode({ name: 'Footer', x: 0, y: 2000, width: 1440, height: 300 });
  const description = describeSelection([hero, other, circle]);
  assert.equal(description.items.length, 3);
  assert.equal(description.problem, 'To edit only under "Circle", select it with just one frame, group or image.');
  const title = makeNode({ name: 'Title', type: 'TEXT', x: 1200, y: 600, width: 300, height: 40 });
  assert.deepEqual(describeSelection([title, circle]), {
    items: [
      { nodeId: title.id, name: 'Title', width: 300, height: 40 },
      { nodeId: '10:2', name: 'Circle', width: 400, height: 400 },
    ],
  });
  // only shapes: each is edited whole, as before
  assert.equal(describeSelection([circle, makeNode({ name: 'Box', type: 'RECTANGLE' })]).items.length, 2);
  assert.deepEqual(findRegionOfSelection([circle]), {});
});

test('export: one image of the frame with a mask of its exact pixel size, white under the circle, black elsewhere', async () => {
  const { figma, hero, circle } = setUp();
  figma.currentPage.selection = [hero, circle];
  const [image, ...rest] = await exportSelectionForEditAsync(figma, MAX_SIDE);
  assert.equal(rest.length, 0);
  assert.deepEqual([image.nodeId, image.name, image.width, image.height], ['10:1', 'Hero', 1024, 640]);
  assert.deepEqual(hero.exportCalls, [{ format: 'PNG', useAbsoluteBounds: true, constraint: { type: 'WIDTH', value: 1024 } }]);
  assert.equal(circle.exportCalls.length, 0);
  assert.ok(image.mask);
  assert.deepEqual(readPngSize(image.mask), { width: 1024, height: 640 });
  await assertMask(image.mask, 1024, 640, inCircle);
  const mask = await grey(image.mask);
  assert.deepEqual(mask.at(Math.round(400 * SCALE), Math.round(300 * SCALE)), [255, 255, 255]);
  assert.deepEqual(mask.at(0, 0), [0, 0, 0]);
});

test('the temporary mask frame is removed, no undo step is committed, the shape is untouched', async () => {
  const { figma, hero, circle } = setUp();
  figma.currentPage.selection = [hero, circle];
  const pageBefore = [...figma.page.children];
  await exportSelectionForEditAsync(figma, MAX_SIDE);
  const [frame] = figma.calls.createFrame;
  assert.ok(frame.removed);
  assert.deepEqual(figma.page.children, pageBefore);
  assert.equal(figma.calls.commitUndo, 0);
  assert.deepEqual([circle.x, circle.y, circle.visible, circle.fills], [1200, 600, true, [solid(1, 0, 0)]]);
  assert.deepEqual([frame.width, frame.height, frame.clipsContent], [1440, 900, true]);
});

test('shapes inside the frame count, are hidden while the frame is exported and shown again after', async () => {
  const { figma, hero } = setUp();
  const badge = makeNode({ id: '10:3', name: 'Badge', type: 'RECTANGLE', x: 40, y: 60, width: 360, height: 180, parent: hero, fills: [solid(0, 0, 1)] });
  // a shape the designer had hidden stays hidden, but still marks the region
  const hidden = makeNode({ id: '10:4', name: 'Hidden', type: 'RECTANGLE', x: 1000, y: 500, width: 20, height: 20, parent: hero, visible: false });
  const seen: boolean[][] = [];
  const exportHero = hero.exportAsync?.bind(hero);
  hero.exportAsync = async (settings) => {
    seen.push([badge.visible, hidden.visible]);
    return exportHero!(settings);
  };
  figma.currentPage.selection = [hero, badge, hidden];
  assert.deepEqual(describeSelection(figma.currentPage.selection).items[0].regionShapeNames, ['Badge', 'Hidden']);
  const [image] = await exportSelectionForEditAsync(figma, MAX_SIDE);
  assert.deepEqual(seen, [[false, false]]);
  assert.deepEqual([badge.visible, hidden.visible], [true, false]);
  // both are white in the mask, the hidden one too
  await assertMask(image.mask!, 1024, 640, (x, y) => (x >= 40 && x < 400 && y >= 60 && y < 240) || (x >= 1000 && x < 1020 && y >= 500 && y < 520));
});

test('the mask is pure white under the shape: its opacity, effects, stroke and mask flag do not grey or hide it', async () => {
  const { figma, hero, circle } = setUp();
  Object.assign(circle, {
    opacity: 0.4,
    isMask: true,
    strokes: [solid(0, 1, 0)],
    effects: [{ type: 'DROP_SHADOW', color: { r: 0, g: 0, b: 0, a: 0.5 }, offset: { x: 4, y: 4 }, radius: 8, visible: true, blendMode: 'NORMAL' }],
  } satisfies Partial<MockNode>);
  figma.currentPage.selection = [hero, circle];
  const [image] = await exportSelectionForEditAsync(figma, MAX_SIDE);
  await assertMask(image.mask!, 1024, 640, inCircle);
  const copy = figma.calls.createFrame[0].children[0] as MockNode;
  assert.deepEqual([copy.opacity, copy.isMask, copy.strokes, copy.effects], [1, false, [solid(1, 1, 1)], []]);
  // the original keeps its looks
  assert.deepEqual([circle.opacity, circle.isMask], [0.4, true]);
});

test('a rotated shape, partly outside the frame: the mask follows its real footprint, clipped to the frame', async () => {
  const { figma, hero } = setUp();
  // 200x100 turned 90° about its top-left corner at (1500, 700): it covers x 1400..1500, y 700..900 on the
  // page, i.e. x 400..500, y 200..400 in the frame
  const bar = makeNode({ name: 'Bar', type: 'RECTANGLE', x: 1500, y: 700, width: 200, height: 100, rotation: 90, fills: [solid(0, 0, 0)] });
  // from x 2300 on the page to 2600: the frame ends at 2440
  const edge = makeNode({ name: 'Edge', type: 'RECTANGLE', x: 2300, y: 500, width: 300, height: 100, fills: [solid(0, 0, 0)] });
  figma.currentPage.selection = [hero, bar, edge];
  const [image] = await exportSelectionForEditAsync(figma, MAX_SIDE);
  await assertMask(image.mask!, 1024, 640, (x, y) => (x >= 400 && x < 500 && y >= 200 && y < 400) || (x >= 1300 && y < 100));
});

test('a frame inside another frame, the shape beside it on the page: positions compare on the page', async () => {
  const figma = makeFigma();
  const section = makeContainer({ name: 'Page section', x: -3000, y: 2000, width: 4000, height: 3000, parent: figma.page });
  const hero = makeContainer({ id: '20:1', name: 'Hero', x: 500, y: 400, width: 1440, height: 900, parent: section });
  // the hero is at (-2500, 2400) on the page; the circle sits on the page over its (400, 300) centre
  const circle = makeNode({ name: 'Circle', type: 'ELLIPSE', x: -2300, y: 2500, width: 400, height: 400, parent: figma.page });
  figma.currentPage.selection = [hero, circle];
  const [image] = await exportSelectionForEditAsync(figma, MAX_SIDE);
  await assertMask(image.mask!, 1024, 640, inCircle);
});

test('when exporting fails, the shapes are shown again and the mask frame is removed', async () => {
  const { figma, hero } = setUp();
  const badge = makeNode({ name: 'Badge', type: 'RECTANGLE', x: 40, y: 60, width: 100, height: 100, parent: hero });
  hero.exportAsync = async () => {
    throw new Error('Export failed');
  };
  figma.currentPage.selection = [hero, badge];
  await assert.rejects(exportSelectionForEditAsync(figma, MAX_SIDE), /Export failed/);
  assert.equal(badge.visible, true);
  assert.equal(figma.calls.createFrame.length, 0);

  const second = setUp();
  const createFrame = second.figma.createFrame.bind(second.figma);
  second.figma.createFrame = () => {
    const frame = createFrame();
    frame.exportAsync = async () => {
      throw new Error('Mask export failed');
    };
    return frame;
  };
  second.figma.currentPage.selection = [second.hero, second.circle];
  await assert.rejects(exportSelectionForEditAsync(second.figma, MAX_SIDE), /Mask export failed/);
  assert.ok((second.figma as MockFigma).calls.createFrame[0].removed);
  assert.ok(!second.figma.page.children.includes(second.figma.calls.createFrame[0]));
});

test('a mask that does not come out at the image size is refused in words, not sent', async () => {
  const { figma, hero, circle } = setUp();
  const createFrame = figma.createFrame.bind(figma);
  figma.createFrame = () => {
    const frame = createFrame();
    frame.exportAsync = async () => fakePng(1024, 639);
    return frame;
  };
  figma.currentPage.selection = [hero, circle];
  await assert.rejects(exportSelectionForEditAsync(figma, MAX_SIDE), { message: 'The region mask came out 1024×639, not 1024×640 like "Hero". Try again.' });
});

test('two region exports at once (Edit pressed twice) leave the inner shapes visible', async () => {
  const { figma, hero } = setUp();
  const badge = makeNode({ name: 'Badge', type: 'RECTANGLE', x: 40, y: 60, width: 100, height: 100, parent: hero });
  figma.currentPage.selection = [hero, badge];
  const [first, second] = await Promise.all([exportSelectionForEditAsync(figma, MAX_SIDE), exportSelectionForEditAsync(figma, MAX_SIDE)]);
  assert.ok(first[0].mask && second[0].mask);
  assert.equal(badge.visible, true);
});
