// Placing never takes over the designer's selection or view. With afterPlacing 'select', a burst of
// results (a batch over several layers) is selected together and brought into view once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPlacedResultSelector, SELECT_PLACED_DELAY_MS, type Timers } from '../../plugin/create-placed-result-selector.ts';
import { placeResultAsync } from '../../plugin/place-result-async.ts';
import { DEFAULT_SETTINGS, type PlaceResultRequest } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance } from './figma-mock.ts';

/** Timers the test runs by hand: `advance(ms)` fires what is due. */
function manualTimers(): Timers & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; callback: () => void }>();
  return {
    setTimeout(callback, ms) {
      due.set(next, { at: now + ms, callback });
      return next++;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    advance(ms) {
      now += ms;
      for (const [id, timer] of [...due]) {
        if (timer.at <= now) {
          due.delete(id);
          timer.callback();
        }
      }
    },
    pending: () => due.size,
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function request(sourceNodeId: string, overrides: Partial<PlaceResultRequest> = {}): PlaceResultRequest {
  return { jobId: `job-${sourceNodeId}`, png: fakePng(640, 480), width: 640, height: 480, provenance: makeProvenance({ sourceNodeId }), placement: 'beside', ...overrides };
}

test('the default is stay: placing a batch of three changes neither the selection nor the view', async () => {
  assert.equal(DEFAULT_SETTINGS.afterPlacing, 'stay');
  const figma = makeFigma();
  const parent = makeParent();
  const sources = [0, 1, 2].map((i) => makeNode({ id: `${i + 1}:1`, x: 0, y: i * 600, width: 640, height: 480, parent }));
  figma.register(...sources);
  const selected = [sources[1]];
  figma.currentPage.selection = selected;
  for (const source of sources) assert.equal((await placeResultAsync(figma, request(source.id))).placed, true);
  for (const source of sources) assert.equal((await placeResultAsync(figma, request(source.id, { placement: 'replace-fills' }))).placed, true);
  assert.equal(figma.currentPage.selection, selected);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, []);
});

test('select: results placed in a row are selected together and scrolled to once, after the quiet delay', async () => {
  const figma = makeFigma();
  const timers = manualTimers();
  const selector = createPlacedResultSelector(figma, timers);
  const placed = [1, 2, 3].map((i) => makeNode({ id: `9:${i}`, parent: figma.page }));
  figma.register(...placed);
  const before = [makeNode()];
  figma.currentPage.selection = before;
  selector.add('9:1');
  timers.advance(SELECT_PLACED_DELAY_MS - 1);
  selector.add('9:2');
  timers.advance(SELECT_PLACED_DELAY_MS - 1);
  selector.add('9:3');
  await settle();
  // still inside the burst: nothing yet
  assert.equal(figma.currentPage.selection, before);
  assert.equal(timers.pending(), 1);
  timers.advance(SELECT_PLACED_DELAY_MS);
  await settle();
  assert.deepEqual(figma.currentPage.selection, placed);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, [placed]);
  assert.equal(SELECT_PLACED_DELAY_MS, 300);
});

test('select: a later batch is its own selection; a node placed twice is selected once', async () => {
  const figma = makeFigma();
  const timers = manualTimers();
  const selector = createPlacedResultSelector(figma, timers);
  const [a, b] = [makeNode({ id: '8:1', parent: figma.page }), makeNode({ id: '8:2', parent: figma.page })];
  figma.register(a, b);
  selector.add('8:1');
  selector.add('8:1');
  timers.advance(SELECT_PLACED_DELAY_MS);
  await settle();
  selector.add('8:2');
  timers.advance(SELECT_PLACED_DELAY_MS);
  await settle();
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, [[a], [b]]);
  assert.deepEqual(figma.currentPage.selection, [b]);
});

test('select: results deleted meanwhile or on another page are left out; none left means nothing changes', async () => {
  const figma = makeFigma();
  const timers = manualTimers();
  const selector = createPlacedResultSelector(figma, timers);
  const kept = makeNode({ id: '7:1', parent: figma.page });
  const deleted = makeNode({ id: '7:2', parent: figma.page });
  const elsewhere = makeNode({ id: '7:3', parent: makeParent('PAGE') });
  figma.register(kept, deleted, elsewhere);
  for (const id of ['7:1', '7:2', '7:3']) selector.add(id);
  deleted.remove();
  await selector.flushAsync();
  assert.deepEqual(figma.currentPage.selection, [kept]);
  assert.equal(timers.pending(), 0);

  const before = figma.currentPage.selection;
  selector.add('7:3');
  selector.add('404:1');
  await selector.flushAsync();
  assert.equal(figma.currentPage.selection, before);
  assert.deepEqual(figma.calls.scrollAndZoomIntoView, [[kept]]);
  assert.deepEqual(figma.calls.setCurrentPageAsync, []);
});
