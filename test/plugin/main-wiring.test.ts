// plugin/main.ts as Figma runs it: the global `figma` (the typed mock plus ui, clientStorage, showUI
// and figma.on), create-figma-plugin's real emit/on, and the UI's messages as Figma delivers them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { NOTHING_SELECTED } from '../../plugin/describe-selection.ts';
import { SELECT_PLACED_DELAY_MS } from '../../plugin/create-placed-result-selector.ts';
import { PLACEMENT_GAP } from '../../plugin/place-result-async.ts';
import { NODE_GONE } from '../../plugin/show-node-on-canvas-async.ts';
import { DEFAULT_SETTINGS, type ExportedImage, type PlaceResultRequest, type PluginSettings, SETTINGS_KEY } from '../../plugin/types.ts';
import { fakePng, makeContainer, makeFigma, makeNode, makeParent, makeProvenance } from './figma-mock.ts';

const figma = makeFigma();
const sentToUi: unknown[][] = [];
const figmaEvents = new Map<string, () => void>();
// The saved window size is larger than MAX_WINDOW_SIZE allows (a bigger screen, an older build).
const storage = new Map<string, unknown>([[SETTINGS_KEY, { token: 'saved-token', recentInstructions: ['add snow'], windowSize: { width: 5000, height: 500 } }]]);
const shownUi: Array<{ html: string; options: unknown }> = [];
const uiResizes: Array<[number, number]> = [];
let deliverToMain: (message: unknown) => void = () => {
  throw new Error('main did not listen to figma.ui.onmessage');
};

Object.assign(figma, {
  editorType: 'figma',
  command: '',
  ui: {
    postMessage: (message: unknown[]) => sentToUi.push(message),
    resize: (width: number, height: number) => uiResizes.push([width, height]),
    set onmessage(handler: (message: unknown) => void) {
      deliverToMain = handler;
    },
  },
  on: (event: string, handler: () => void) => figmaEvents.set(event, handler),
  clientStorage: {
    getAsync: async (key: string) => storage.get(key),
    setAsync: async (key: string, value: unknown) => void storage.set(key, value),
  },
  showUI: (html: string, options: unknown) => shownUi.push({ html, options }),
});
Object.assign(globalThis, { figma, __html__: '/* ui.js */' });
// Imported only now: create-figma-plugin's events module hooks figma.ui.onmessage when it loads.
const { default: runPlugin } = await import('../../plugin/main.ts');
await runPlugin();

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
function sentSince(index: number, name: string): unknown[] | undefined {
  return sentToUi.slice(index).find((message) => message[0] === name);
}

test('opens the UI at the remembered window size (clamped) with the saved settings merged over the defaults', () => {
  assert.equal(shownUi.length, 1);
  assert.deepEqual(shownUi[0].options, { width: 1200, height: 500, title: 'MGIE', themeColors: true });
  const match = shownUi[0].html.match(/const __SHOW_UI_DATA__=(.*?);\/\* ui\.js \*\//);
  const data = JSON.parse(match?.[1] ?? 'null') as { settings: PluginSettings };
  assert.deepEqual(data.settings, { ...DEFAULT_SETTINGS, token: 'saved-token', recentInstructions: ['add snow'], windowSize: { width: 1200, height: 500 } });
  assert.ok(figmaEvents.has('selectionchange') && figmaEvents.has('currentpagechange'));
});

test('selection changes and REQUEST_SELECTION are answered with the selection and its provenance', async () => {
  const node = makeNode({ id: '5:1', name: 'Card', width: 320, height: 200 });
  figma.currentPage.selection = [node];
  const before = sentToUi.length;
  figmaEvents.get('selectionchange')?.();
  deliverToMain(['REQUEST_SELECTION']);
  assert.deepEqual(sentSince(before, 'SELECTION_CHANGED'), ['SELECTION_CHANGED', { items: [{ nodeId: '5:1', name: 'Card', width: 320, height: 200 }] }]);
  assert.deepEqual(sentSince(before, 'PROVENANCE_OF_SELECTION'), ['PROVENANCE_OF_SELECTION', null]);
});

test('exports answer with the same request id, or EXPORT_FAILED saying why', async () => {
  figma.currentPage.selection = [makeNode({ id: '6:1', name: 'Photo', width: 1000, height: 500 })];
  let before = sentToUi.length;
  deliverToMain(['EXPORT_SELECTION', { requestId: 'r1', maxSide: 512 }]);
  await settle();
  const exported = sentSince(before, 'EXPORTED_IMAGES')?.[1] as { requestId: string; items: Array<{ nodeId: string; width: number; height: number }> };
  assert.equal(exported.requestId, 'r1');
  assert.deepEqual(exported.items.map((item) => [item.nodeId, item.width, item.height]), [['6:1', 512, 256]]);

  figma.currentPage.selection = [];
  before = sentToUi.length;
  deliverToMain(['EXPORT_SELECTION', { requestId: 'r2', maxSide: 512 }]);
  await settle();
  assert.deepEqual(sentSince(before, 'EXPORT_FAILED'), ['EXPORT_FAILED', { requestId: 'r2', message: NOTHING_SELECTED }]);

  before = sentToUi.length;
  deliverToMain(['EXPORT_NODE', { requestId: 'r3', nodeId: '404:1', maxSide: 512 }]);
  await settle();
  assert.match((sentSince(before, 'EXPORT_FAILED')?.[1] as { message: string }).message, /original layer was deleted/);
});

test('PLACE_RESULT places, answers RESULT_PLACED and re-sends the selection; a refusal answers RESULT_NOT_PLACED', async () => {
  const source = makeNode({ id: '7:1', parent: makeParent(), width: 400, height: 300 });
  figma.register(source);
  const request: PlaceResultRequest = { jobId: 'job-7', png: fakePng(400, 300), width: 400, height: 300, provenance: makeProvenance({ sourceNodeId: '7:1' }), placement: 'beside' };
  const designerSelection = [source];
  figma.currentPage.selection = designerSelection;
  const scrolls = figma.calls.scrollAndZoomIntoView.length;
  let before = sentToUi.length;
  deliverToMain(['PLACE_RESULT', request]);
  await new Promise((resolve) => setTimeout(resolve, SELECT_PLACED_DELAY_MS + 50));
  const placed = sentSince(before, 'RESULT_PLACED')?.[1] as { jobId: string; nodeId: string; sourceNodeId: string };
  assert.deepEqual([placed.jobId, placed.sourceNodeId], ['job-7', '7:1']);
  // no afterPlacing means 'stay': the designer's selection and view are theirs
  assert.equal(figma.currentPage.selection, designerSelection);
  assert.equal(figma.calls.scrollAndZoomIntoView.length, scrolls);
  assert.ok(sentSince(before, 'PROVENANCE_OF_SELECTION'), 'the UI learns about provenance even when the selection did not change');

  before = sentToUi.length;
  deliverToMain(['PLACE_RESULT', { ...request, jobId: 'job-8', provenance: makeProvenance({ sourceNodeId: 'gone:1' }) }]);
  await settle();
  assert.deepEqual(sentSince(before, 'RESULT_NOT_PLACED'), ['RESULT_NOT_PLACED', { jobId: 'job-8', reason: 'The original layer was deleted or is not a layer. Result not placed.' }]);
});

test('SAVE_SETTINGS goes to clientStorage; NOTIFY becomes a Figma toast', async () => {
  const settings: PluginSettings = { ...DEFAULT_SETTINGS, token: 'new-token' };
  deliverToMain(['SAVE_SETTINGS', settings]);
  await settle();
  // the window size is main's (the clamped one it opened with), not the one in the UI's copy
  assert.deepEqual(storage.get(SETTINGS_KEY), { ...settings, windowSize: { width: 1200, height: 500 } });
  deliverToMain(['NOTIFY', { message: 'Copied', error: false }]);
  assert.deepEqual(figma.calls.notify.at(-1), { message: 'Copied', options: { error: false } });
});

test('afterPlacing select: a batch of PLACE_RESULT is selected together and scrolled to once', async () => {
  // a frame on the current page, so the results are selectable
  const parent = makeParent('FRAME', figma.page);
  const sources = [1, 2, 3].map((i) => makeNode({ id: `30:${i}`, x: 0, y: i * 1000, width: 800, height: 600, parent }));
  figma.register(...sources);
  const scrolls = figma.calls.scrollAndZoomIntoView.length;
  const before = sentToUi.length;
  for (const source of sources) {
    const request: PlaceResultRequest = { jobId: `job-${source.id}`, png: fakePng(800, 600), width: 800, height: 600, provenance: makeProvenance({ sourceNodeId: source.id }), placement: 'beside', afterPlacing: 'select' };
    deliverToMain(['PLACE_RESULT', request]);
  }
  await settle();
  assert.equal(figma.calls.scrollAndZoomIntoView.length, scrolls, 'not once per layer');
  await new Promise((resolve) => setTimeout(resolve, SELECT_PLACED_DELAY_MS + 50));
  const placedIds = sentToUi.slice(before).filter((message) => message[0] === 'RESULT_PLACED').map((message) => (message[1] as { nodeId: string }).nodeId);
  assert.equal(placedIds.length, 3);
  assert.deepEqual(figma.currentPage.selection.map((node) => node.id), placedIds);
  assert.equal(figma.calls.scrollAndZoomIntoView.length, scrolls + 1);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView.at(-1)?.map((node) => (node as { id: string }).id), placedIds);
});

test('a chain placed every step: the steps of one job line up beside each other', async () => {
  const source = makeNode({ id: '31:1', x: 0, y: 0, width: 512, height: 512, parent: makeParent() });
  figma.register(source);
  const chain = ['make it autumn', 'add fog', 'warmer light'];
  const before = sentToUi.length;
  for (const chainStep of [1, 2, 3]) {
    const provenance = makeProvenance({ sourceNodeId: '31:1', instruction: chain[0], chain, chainStep });
    deliverToMain(['PLACE_RESULT', { jobId: 'job-31', png: fakePng(512, 512), width: 512, height: 512, provenance, placement: 'beside' } satisfies PlaceResultRequest]);
    await settle();
  }
  const placedIds = sentToUi.slice(before).filter((message) => message[0] === 'RESULT_PLACED').map((message) => (message[1] as { nodeId: string }).nodeId);
  const rects = await Promise.all(placedIds.map((id) => figma.getNodeByIdAsync(id)));
  assert.deepEqual(rects.map((rect) => (rect as { x: number }).x), [1, 2, 3].map((n) => n * (512 + PLACEMENT_GAP)));
});

test('SELECT_NODE selects the layer and brings it into view; a deleted one is a notice', async () => {
  const result = makeNode({ id: '32:1', name: 'make it autumn', parent: figma.page });
  figma.register(result);
  deliverToMain(['SELECT_NODE', { nodeId: '32:1' }]);
  await settle();
  assert.deepEqual(figma.currentPage.selection, [result]);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView.at(-1), [result]);
  result.remove();
  deliverToMain(['SELECT_NODE', { nodeId: '32:1' }]);
  await settle();
  assert.equal(figma.calls.notify.at(-1)?.message, NODE_GONE);
});

test('EXPORT_SELECTION of a frame with a shape over it answers one image with its mask', async () => {
  const hero = makeContainer({ id: '33:1', name: 'Hero', x: 0, y: 0, width: 1440, height: 900, parent: figma.page });
  const circle = makeNode({ id: '33:2', name: 'Circle', type: 'ELLIPSE', x: 200, y: 100, width: 400, height: 400, parent: figma.page });
  figma.currentPage.selection = [hero, circle];
  const before = sentToUi.length;
  figmaEvents.get('selectionchange')?.();
  assert.deepEqual(sentSince(before, 'SELECTION_CHANGED'), ['SELECTION_CHANGED', { items: [{ nodeId: '33:1', name: 'Hero', width: 1440, height: 900, regionShapeNames: ['Circle'] }] }]);
  deliverToMain(['EXPORT_SELECTION', { requestId: 'r-mask', maxSide: 1024 }]);
  let exported: { requestId: string; items: ExportedImage[] } | undefined;
  for (let i = 0; i < 100 && exported === undefined; i++) {
    await settle();
    exported = sentSince(before, 'EXPORTED_IMAGES')?.[1] as typeof exported;
  }
  assert.equal(exported?.items.length, 1);
  const [image] = exported!.items;
  assert.deepEqual([image.nodeId, image.width, image.height], ['33:1', 1024, 640]);
  const { info } = await sharp(image.mask!).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [1024, 640]);
});

test('RESIZE_WINDOW resizes within the limits and remembers the size; a later SAVE_SETTINGS keeps it', async () => {
  deliverToMain(['RESIZE_WINDOW', { width: 480, height: 720 }]);
  deliverToMain(['RESIZE_WINDOW', { width: 100, height: 9000 }]);
  deliverToMain(['RESIZE_WINDOW', { width: 520.4, height: 800 }]);
  await settle();
  assert.deepEqual(uiResizes, [[480, 720], [320, 1400], [520, 800]]);
  assert.deepEqual((storage.get(SETTINGS_KEY) as PluginSettings).windowSize, { width: 520, height: 800 });
  // the UI saves its settings with the size it was opened at: main's newer size wins
  deliverToMain(['SAVE_SETTINGS', { ...DEFAULT_SETTINGS, token: 'after-resize', windowSize: { width: 360, height: 600 } }]);
  await settle();
  assert.deepEqual(storage.get(SETTINGS_KEY), { ...DEFAULT_SETTINGS, token: 'after-resize', windowSize: { width: 520, height: 800 } });
});
