// Chains, variations and masked results on the canvas: every chain step placed beside the previous one,
// several results beside one source in a row without overlaps, provenance kept, names that tell them apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createChainAnchors } from '../../plugin/create-chain-anchors.ts';
import { PLACEMENT_GAP, placeResultAsync } from '../../plugin/place-result-async.ts';
import { nameResultLayer, nameResultLayerOf } from '../../plugin/private/name-result-layer.ts';
import { readProvenance } from '../../plugin/read-provenance.ts';
import { type PlaceResultRequest, PROVENANCE_KEY, type Provenance } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance, type MockNode } from './figma-mock.ts';

const CHAIN = ['make it autumn', 'add fog', 'warmer light'];

function setUp() {
  const figma = makeFigma();
  const parent = makeParent();
  const source = makeNode({ id: '1:1', name: 'Landscape', x: 200, y: 100, width: 768, height: 512, parent });
  figma.register(source);
  return { figma, parent, source };
}

function request(provenance: Partial<Provenance>, overrides: Partial<PlaceResultRequest> = {}): PlaceResultRequest {
  return { jobId: 'job-chain', png: fakePng(768, 512), width: 768, height: 512, provenance: makeProvenance({ sourceNodeId: '1:1', ...provenance }), placement: 'beside', ...overrides };
}

const chainStep = (step: number): Partial<Provenance> => ({ instruction: CHAIN[0], chain: CHAIN, chainStep: step });

/** What main does for each PLACE_RESULT: place beside the chain's last step if any, then remember it. */
async function placeLikeMain(figma: ReturnType<typeof makeFigma>, anchors: ReturnType<typeof createChainAnchors>, placeRequest: PlaceResultRequest) {
  const outcome = await placeResultAsync(figma, placeRequest, { besideNodeId: anchors.anchorFor(placeRequest) });
  assert.ok(outcome.placed);
  anchors.remember(placeRequest, outcome.nodeId);
  return figma.calls.createRectangle.at(-1) as MockNode;
}

test('every-step: each step goes beside the previous step, one gap apart, in one row above each other in the layers', async () => {
  const { figma, parent, source } = setUp();
  const anchors = createChainAnchors();
  const steps: MockNode[] = [];
  for (const step of [1, 2, 3]) steps.push(await placeLikeMain(figma, anchors, request(chainStep(step))));
  const xs = steps.map((rect) => rect.x);
  assert.deepEqual(xs, [200 + 768 + PLACEMENT_GAP, 200 + 2 * (768 + PLACEMENT_GAP), 200 + 3 * (768 + PLACEMENT_GAP)]);
  assert.ok(steps.every((rect) => rect.y === 100 && rect.width === 768 && rect.height === 512));
  assert.deepEqual(parent.children, [source, ...steps]);
  assert.deepEqual(steps.map((rect) => rect.name), ['make it autumn · step 1 of 3', 'add fog · step 2 of 3', 'warmer light · step 3 of 3']);
  assert.deepEqual(steps.map((rect) => readProvenance(rect)?.chainStep), [1, 2, 3]);
  assert.deepEqual(readProvenance(steps[2])?.chain, CHAIN);
  assert.equal(figma.calls.commitUndo, 3);
});

test('every-step: the previous step moved away or deleted: the next goes beside the source, past what is there', async () => {
  const { figma } = setUp();
  const anchors = createChainAnchors();
  const first = await placeLikeMain(figma, anchors, request(chainStep(1)));
  // the designer drags step 1 into another frame
  makeParent().insertChild(0, first);
  const second = await placeLikeMain(figma, anchors, request(chainStep(2)));
  assert.equal(second.x, 200 + 768 + PLACEMENT_GAP);
  second.remove();
  const third = await placeLikeMain(figma, anchors, request(chainStep(3)));
  assert.equal(third.x, 200 + 768 + PLACEMENT_GAP);
});

test('chain anchors: per job, only from step 2 on, and only a step placed earlier in the same job', () => {
  const anchors = createChainAnchors();
  assert.equal(anchors.anchorFor(request(chainStep(2))), undefined);
  anchors.remember(request(chainStep(1)), '5:1');
  assert.equal(anchors.anchorFor(request(chainStep(2))), '5:1');
  assert.equal(anchors.anchorFor(request(chainStep(3))), '5:1', 'a step that failed to place is skipped');
  assert.equal(anchors.anchorFor(request(chainStep(1))), undefined);
  assert.equal(anchors.anchorFor(request(chainStep(2), { jobId: 'other-job' })), undefined);
  // a result that is not a chain step leaves no anchor
  anchors.remember(request({}, { jobId: 'plain' }), '6:1');
  assert.equal(anchors.anchorFor(request(chainStep(2), { jobId: 'plain' })), undefined);
  // old jobs are forgotten, recent ones kept
  for (let i = 0; i < 25; i++) anchors.remember(request(chainStep(1), { jobId: `job-${i}` }), `7:${i}`);
  assert.equal(anchors.anchorFor(request(chainStep(2))), undefined);
  assert.equal(anchors.anchorFor(request(chainStep(2), { jobId: 'job-24' })), '7:24');
});

test('final: only the last step is placed, beside the source, named after its own instruction', async () => {
  const { figma } = setUp();
  const anchors = createChainAnchors();
  const last = await placeLikeMain(figma, anchors, request(chainStep(3)));
  assert.deepEqual([last.x, last.name], [200 + 768 + PLACEMENT_GAP, 'warmer light · step 3 of 3']);
});

test('variations: several beside one source line up without overlapping, each named and stored with its number', async () => {
  const { figma, parent } = setUp();
  // a sibling in the way of the second spot
  makeNode({ name: 'Note', x: 200 + 2 * (768 + PLACEMENT_GAP) + 10, y: 300, width: 100, height: 100, parent });
  const placed: MockNode[] = [];
  for (const variation of [1, 2, 3, 4]) {
    const outcome = await placeResultAsync(figma, request({ instruction: 'make the sky a sunset', variation, variations: 4 }, { jobId: 'job-var' }));
    assert.ok(outcome.placed);
    placed.push(figma.calls.createRectangle.at(-1) as MockNode);
  }
  const boxes = [...(parent.children as MockNode[])];
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
      assert.ok(!overlap, `"${a.name}" overlaps "${b.name}"`);
    }
  }
  assert.ok(placed.every((rect) => rect.y === 100));
  assert.deepEqual(placed.map((rect) => rect.name), [1, 2, 3, 4].map((n) => `make the sky a sunset · variation ${n}`));
  assert.deepEqual(placed.map((rect) => [readProvenance(rect)?.variation, readProvenance(rect)?.variations]), [[1, 4], [2, 4], [3, 4], [4, 4]]);
});

test('masked results are placed like any other, with masked stored; the other new fields are kept too', async () => {
  const { figma, source } = setUp();
  const provenance = makeProvenance({ sourceNodeId: '1:1', masked: true, expressiveInstructionSource: 'given' });
  const beside = await placeResultAsync(figma, { jobId: 'job-m', png: fakePng(768, 512), width: 768, height: 512, provenance, placement: 'beside' });
  assert.ok(beside.placed);
  const rect = figma.calls.createRectangle[0];
  assert.deepEqual([rect.x, rect.y, rect.width, rect.height], [200 + 768 + PLACEMENT_GAP, 100, 768, 512]);
  assert.deepEqual(JSON.parse(rect.getPluginData(PROVENANCE_KEY)), provenance);
  assert.deepEqual(readProvenance(rect), provenance);
  const replaced = await placeResultAsync(figma, { jobId: 'job-m', png: fakePng(768, 512), width: 768, height: 512, provenance, placement: 'replace-fills' });
  assert.ok(replaced.placed);
  assert.equal(readProvenance(source)?.masked, true);
});

test('names: the suffix survives a long instruction; one variation of one or a one-step chain adds nothing', () => {
  const long = 'w'.repeat(80);
  assert.equal(nameResultLayerOf(makeProvenance({ instruction: long, variation: 2, variations: 3 })), `${'w'.repeat(60)}… · variation 2`);
  assert.equal(nameResultLayerOf(makeProvenance({ instruction: 'add snow', variation: 1, variations: 1 })), 'add snow');
  assert.equal(nameResultLayerOf(makeProvenance({ instruction: 'add snow', chain: ['add snow'], chainStep: 1 })), 'add snow');
  assert.equal(nameResultLayerOf(makeProvenance({ instruction: '  ', chain: ['  ', 'add fog'], chainStep: 1 })), 'MGIE edit · step 1 of 2');
  assert.equal(nameResultLayer('add snow'), 'add snow');
});
