import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findProvenanceOfSelection } from '../../plugin/find-provenance-of-selection.ts';
import { placeResultAsync } from '../../plugin/place-result-async.ts';
import { readProvenance } from '../../plugin/read-provenance.ts';
import { PROVENANCE_KEY } from '../../plugin/types.ts';
import { fakePng, makeFigma, makeNode, makeParent, makeProvenance } from './figma-mock.ts';

test('provenance written by placement reads back equal', async () => {
  const figma = makeFigma();
  const source = makeNode({ id: '1:1', parent: makeParent() });
  figma.register(source);
  const provenance = makeProvenance();
  const outcome = await placeResultAsync(figma, { jobId: 'job-1', png: fakePng(512, 512), width: 512, height: 512, provenance, placement: 'beside' });
  assert.ok(outcome.placed);
  const placed = figma.calls.createRectangle[0];
  assert.deepEqual(readProvenance(placed), provenance);
  assert.equal(readProvenance(source), undefined);
});

test('missing, malformed or incomplete provenance reads as undefined', () => {
  const node = makeNode();
  assert.equal(readProvenance(node), undefined);
  for (const bad of [
    '{not json',
    'null',
    '[]',
    '"text"',
    JSON.stringify({ ...makeProvenance(), instruction: 3 }),
    JSON.stringify({ ...makeProvenance(), seed: -1 }),
    JSON.stringify({ ...makeProvenance(), createdAt: 'yesterday' }),
    JSON.stringify({ ...makeProvenance(), parameters: { steps: 20 } }),
    JSON.stringify({ ...makeProvenance(), sourceNodeId: undefined }),
  ]) {
    node.setPluginData(PROVENANCE_KEY, bad);
    assert.equal(readProvenance(node), undefined, bad);
  }
});

test('provenance of the selection: only for exactly one node carrying valid provenance', () => {
  const withProvenance = makeNode({ id: '9:9' });
  withProvenance.setPluginData(PROVENANCE_KEY, JSON.stringify(makeProvenance()));
  const plain = makeNode();
  assert.deepEqual(findProvenanceOfSelection([withProvenance]), { nodeId: '9:9', provenance: makeProvenance() });
  assert.equal(findProvenanceOfSelection([plain]), null);
  assert.equal(findProvenanceOfSelection([]), null);
  assert.equal(findProvenanceOfSelection([withProvenance, plain]), null);
});
