// The values readProvenance accepts, at their edges: seeds are whole numbers from 0 to 2^32 - 1, the
// parameters are numbers (not numeric strings), and every field is checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readProvenance } from '../../plugin/read-provenance.ts';
import { type Provenance, PROVENANCE_KEY } from '../../plugin/types.ts';
import { makeNode, makeProvenance } from './figma-mock.ts';

function read(value: unknown): Provenance | undefined {
  const node = makeNode();
  node.setPluginData(PROVENANCE_KEY, JSON.stringify(value));
  return readProvenance(node);
}

test('seeds from 0 to 2^32 - 1 read back; 2^32 and fractions do not', () => {
  for (const seed of [0, 1, 0xffffffff]) {
    const provenance = makeProvenance({ seed, parameters: { ...makeProvenance().parameters, seed } });
    assert.deepEqual(read(provenance), provenance, `seed ${seed}`);
  }
  for (const seed of [0x100000000, 1.5, '42']) {
    assert.equal(read({ ...makeProvenance(), seed }), undefined, `seed ${seed}`);
    assert.equal(read({ ...makeProvenance(), parameters: { ...makeProvenance().parameters, seed } }), undefined, `parameters.seed ${seed}`);
  }
});

test('every parameter must be there with its own type: numbers are not numeric strings', () => {
  const parameters = makeProvenance().parameters;
  for (const key of ['steps', 'guidanceScale', 'imageGuidanceScale', 'size'] as const) {
    assert.equal(read({ ...makeProvenance(), parameters: { ...parameters, [key]: String(parameters[key]) } }), undefined, key);
    assert.equal(read({ ...makeProvenance(), parameters: { ...parameters, [key]: undefined } }), undefined, key);
  }
  assert.equal(read({ ...makeProvenance(), parameters: { ...parameters, scheduler: 7 } }), undefined);
  for (const notRecord of ['steps=20', 20, [20, 7.5, 1.5, 512, 42, 'euler'], null]) {
    assert.equal(read({ ...makeProvenance(), parameters: notRecord }), undefined, JSON.stringify(notRecord));
  }
});

test('every top-level text field must be a string', () => {
  for (const key of ['instruction', 'expressiveInstruction', 'model', 'sourceNodeId', 'createdAt'] as const) {
    assert.equal(read({ ...makeProvenance(), [key]: 1 }), undefined, key);
  }
  assert.deepEqual(read({ ...makeProvenance(), instruction: '' }), makeProvenance({ instruction: '' }));
});

test('the designer-feature fields are optional, and read back when present with their types', () => {
  const full = makeProvenance({ expressiveInstructionSource: 'given', masked: true, chain: ['make it autumn', 'add fog'], chainStep: 2, variation: 3, variations: 4 });
  assert.deepEqual(read(full), full);
  assert.deepEqual(read(makeProvenance({ expressiveInstructionSource: 'model', masked: false })), makeProvenance({ expressiveInstructionSource: 'model', masked: false }));
  // older results carry none of them
  assert.deepEqual(read(makeProvenance()), makeProvenance());
});

test('the designer-feature fields are refused with a wrong type or out of range', () => {
  const base = makeProvenance();
  for (const extra of [
    { expressiveInstructionSource: 'user' },
    { expressiveInstructionSource: 1 },
    { masked: 'yes' },
    { masked: 1 },
    { chain: 'make it autumn', chainStep: 1 },
    { chain: [], chainStep: 1 },
    { chain: ['a', 2], chainStep: 1 },
    { chain: ['a', 'b'], chainStep: 3 },
    { chain: ['a', 'b'], chainStep: 0 },
    { chain: ['a', 'b'], chainStep: 1.5 },
    { chain: ['a', 'b'], chainStep: '1' },
    // one without the other
    { chain: ['a', 'b'] },
    { chainStep: 1 },
    { variation: 2 },
    { variations: 4 },
    { variation: 5, variations: 4 },
    { variation: 0, variations: 4 },
    { variation: 2, variations: 0 },
    { variation: '2', variations: 4 },
    { variation: 2, variations: 4.5 },
  ]) {
    assert.equal(read({ ...base, ...extra }), undefined, JSON.stringify(extra));
  }
});
