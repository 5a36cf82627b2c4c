// `mgie edit` for the designer, as a user runs it: --expressive, --mask, --variations, repeated --instruction.
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type MgieRun, runMgieAsync } from '../helpers/run-mgie.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

let dir: string;
let input: string;
const quick = ['--steps', '2', '--size', '128', '--seed', '21', '--json'];

before(async () => {
  await tinyBundleDirAsync();
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-designer-'));
  input = path.join(dir, 'in.png');
  await writeFile(input, await samplePhotoAsync(120, 90));
});
after(() => rm(dir, { recursive: true, force: true }));

function mgie(...args: string[]): Promise<MgieRun> {
  return runMgieAsync(args);
}

async function pixelsAsync(file: string): Promise<Buffer> {
  return sharp(await readFile(file)).ensureAlpha().raw().toBuffer();
}

test('--expressive: the same text and seed give the same picture, and the text is reported as given', async () => {
  const text = 'The leaves will be orange. The sky will be pale.';
  const outs = [path.join(dir, 'expressive-a.png'), path.join(dir, 'expressive-b.png')];
  const textFile = path.join(dir, 'expressive.txt');
  await writeFile(textFile, `${text}\n`);
  const first = await mgie('edit', '--image', input, '--instruction', 'make it autumn', '--expressive', text, '--out', outs[0], ...quick);
  const second = await mgie('edit', '--image', input, '--instruction', 'make it autumn', '--expressive-file', textFile, '--out', outs[1], ...quick);
  for (const run of [first, second]) {
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.expressiveInstruction, text);
    assert.equal(summary.expressiveInstructionSource, 'given');
  }
  assert.deepEqual(await readFile(outs[0]), await readFile(outs[1]));
  const refused = await mgie('edit', '--image', input, '--instruction', 'x', '--expressive', 'Red [IMG3] now.', '--out', path.join(dir, 'never.png'), ...quick);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /expressive instruction contains the reserved token "\[IMG3\]"/);
});

test('--mask: black keeps the input pixel for pixel; a mask of another shape is refused before the model loads', async () => {
  const maskFile = path.join(dir, 'mask.png');
  const grey = Buffer.alloc(120 * 90);
  for (let y = 0; y < 90; y++) for (let x = 60; x < 120; x++) grey[y * 120 + x] = 255;
  await writeFile(maskFile, await sharp(grey, { raw: { width: 120, height: 90, channels: 1 } }).png().toBuffer());
  const out = path.join(dir, 'masked.png');
  const run = await mgie('edit', '--image', input, '--instruction', 'make it red', '--mask', maskFile, '--out', out, ...quick);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout).masked, true);
  const [edited, original] = await Promise.all([pixelsAsync(out), pixelsAsync(input)]);
  let changedRight = 0;
  for (let y = 0; y < 90; y++) {
    for (let x = 0; x < 120; x++) {
      const i = 4 * (y * 120 + x);
      const same = edited.readUInt32LE(i) === original.readUInt32LE(i);
      if (x < 60) assert.ok(same, `kept pixel ${x},${y} changed`);
      else if (!same) changedRight++;
    }
  }
  assert.ok(changedRight > 0);
  const square = path.join(dir, 'square-mask.png');
  await writeFile(square, await sharp({ create: { width: 50, height: 50, channels: 3, background: '#fff' } }).png().toBuffer());
  const refused = await mgie('edit', '--image', input, '--instruction', 'make it red', '--mask', square, '--out', out, ...quick);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /mask is 50x50 pixels but the image is 120x90/);
  assert.doesNotMatch(refused.stderr, /not meaningful/, 'refused before the bundle loaded');
  const missing = await mgie('edit', '--image', input, '--instruction', 'make it red', '--mask', path.join(dir, 'nope.png'), '--out', out, ...quick);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot read the mask .*nope\.png \(ENOENT\)/);
});

test('--variations 3 writes OUT-1 .. OUT-3 with seeds seed .. seed+2; OUT-1 is the plain edit', async () => {
  const out = path.join(dir, 'variation.png');
  const run = await mgie('edit', '--image', input, '--instruction', 'add fog', '--variations', '3', '--out', out, ...quick);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  const files = [1, 2, 3].map((k) => path.join(dir, `variation-${k}.png`));
  assert.deepEqual(summary.variations, files.map((file, k) => ({ seed: 21 + k, out: file })));
  await assert.rejects(access(out), 'OUT itself is not written');
  const plain = path.join(dir, 'plain.png');
  assert.equal((await mgie('edit', '--image', input, '--instruction', 'add fog', '--out', plain, ...quick)).code, 0);
  assert.deepEqual(await readFile(files[0]), await readFile(plain));
  assert.notDeepEqual(await readFile(files[1]), await readFile(files[0]));
  const tooMany = await mgie('edit', '--image', input, '--instruction', 'add fog', '--variations', '9', '--out', out, ...quick);
  assert.equal(tooMany.code, 2);
  assert.match(tooMany.stderr, /--variations must be a whole number from 1 to 8, got "9"/);
});

test('--instruction repeated runs a chain: OUT is the last step, --save-steps writes each step', async () => {
  const out = path.join(dir, 'chain.png');
  const run = await mgie('edit', '--image', input, '--instruction', 'make it autumn', '--instruction', 'add fog', '--save-steps', '--out', out, ...quick);
  assert.equal(run.code, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.deepEqual(summary.chain.map((step: { instruction: string; out: string }) => [step.instruction, step.out]), [
    ['make it autumn', path.join(dir, 'chain-step1.png')],
    ['add fog', path.join(dir, 'chain-step2.png')],
  ]);
  for (const step of summary.chain) assert.equal(typeof step.expressiveInstruction, 'string');
  assert.deepEqual(await readFile(out), await readFile(path.join(dir, 'chain-step2.png')));
  // Step 2 is the edit of step 1's picture.
  const again = path.join(dir, 'again.png');
  assert.equal((await mgie('edit', '--image', path.join(dir, 'chain-step1.png'), '--instruction', 'add fog', '--out', again, ...quick)).code, 0);
  assert.deepEqual(await readFile(again), await readFile(out));
});

test('flags that do not go together exit 2 saying why', async () => {
  const out = path.join(dir, 'never.png');
  const cases: Array<[string[], RegExp]> = [
    [['--instruction', 'a', '--instruction', 'b', '--expressive', 'x'], /--expressive is for one instruction/],
    [['--instruction', 'a', '--instruction', 'b', '--variations', '2'], /--variations is for one instruction, not a chain/],
    [['--instruction', 'a', '--save-steps'], /--save-steps is for a chain/],
    [['--instruction', 'a', '--expressive', 'x', '--expressive-file', 'f.txt'], /Give the expressive instruction once/],
    [['--instruction', 'a', '--variations', 'two'], /--variations must be a whole number, got "two"/],
  ];
  for (const [flags, message] of cases) {
    const run = await mgie('edit', '--image', input, ...flags, '--out', out);
    assert.equal(run.code, 2, flags.join(' '));
    assert.match(run.stderr, message);
  }
});
