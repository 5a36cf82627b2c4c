// plugin/main.ts as Figma runs it: the global `figma` (the typed mock plus ui, clientStorage, showUI
// and figma.on), create-figma-plugin's real emit/on, and the UI's messages as Figma delivers them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOTHING_SELECTED } from '../../plugin/describe-selection.ts';
import { DEFAULT_SETTINGS, type PlaceResultRequest, type PluginSettings, SETTINGS_KEY } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance } from './figma-mock.ts';

const figma = makeFigma();
const sentToUi: unknown[][] = [];
const figmaEvents = new Map<string, () => void>();
const storage = new Map<string, unknown>([[SETTINGS_KEY, { token: 'saved-token', recentInstructions: ['add snow'] }]]);
const shownUi: Array<{ html: string; options: unknown }> = [];
let deliverToMain: (message: unknown) => void = () => {
  throw new Error('main did not listen to figma.ui.onmessage');
};

Object.assign(figma, {
  editorType: 'figma',
  command: '',
  ui: {
    postMessage: (message: unknown[]) => sentToUi.push(message),
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

test('opens the UI with the saved settings merged over the defaults', () => {
  assert.equal(shownUi.length, 1);
  const match = shownUi[0].html.match(/const __SHOW_UI_DATA__=(.*?);\/\* ui\.js \*\//);
  const data = JSON.parse(match?.[1] ?? 'null') as { settings: PluginSettings };
  assert.deepEqual(data.settings, { ...DEFAULT_SETTINGS, token: 'saved-token', recentInstructions: ['add snow'] });
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
  let before = sentToUi.length;
  deliverToMain(['PLACE_RESULT', request]);
  await settle();
  const placed = sentSince(before, 'RESULT_PLACED')?.[1] as { jobId: string; nodeId: string; sourceNodeId: string };
  assert.deepEqual([placed.jobId, placed.sourceNodeId], ['job-7', '7:1']);
  assert.equal(figma.currentPage.selection[0].id, placed.nodeId);
  assert.ok(sentSince(before, 'PROVENANCE_OF_SELECTION'), 'the UI learns the new selection carries provenance');

  before = sentToUi.length;
  deliverToMain(['PLACE_RESULT', { ...request, jobId: 'job-8', provenance: makeProvenance({ sourceNodeId: 'gone:1' }) }]);
  await settle();
  assert.deepEqual(sentSince(before, 'RESULT_NOT_PLACED'), ['RESULT_NOT_PLACED', { jobId: 'job-8', reason: 'The original layer was deleted or is not a layer. Result not placed.' }]);
});

test('SAVE_SETTINGS goes to clientStorage; NOTIFY becomes a Figma toast', async () => {
  const settings: PluginSettings = { ...DEFAULT_SETTINGS, token: 'new-token' };
  deliverToMain(['SAVE_SETTINGS', settings]);
  await settle();
  assert.deepEqual(storage.get(SETTINGS_KEY), settings);
  deliverToMain(['NOTIFY', { message: 'Copied', error: false }]);
  assert.deepEqual(figma.calls.notify.at(-1), { message: 'Copied', options: { error: false } });
});
