// `mgie edit --seed 0`: the flag parses to seed 0 (not "no seed"), and the command, run as a user runs
// it, reports seed 0 and writes the same picture every time, another one than --seed 1 or no --seed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { parseEditOptions } from '../../companion-server/cli/parse-edit-options.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../companion-server/cli/mgie.js');
let dir: string;
let input: string;

before(async () => {
  await tinyBundleDirAsync();
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-seed-zero-'));
  input = path.join(dir, 'in.png');
  await writeFile(input, await samplePhotoAsync(96, 64));
});
after(() => rm(dir, { recursive: true, force: true }));

test('parseEditOptions: --seed 0 is seed 0, kept among the parameters', () => {
  const options = parseEditOptions(['--image', 'a.png', '--instruction', 'x', '--out', 'b.png', '--seed', '0']);
  assert.ok(Object.hasOwn(options.parameters, 'seed'));
  assert.equal(options.parameters.seed, 0);
  assert.ok(!Object.hasOwn(parseEditOptions(['--image', 'a.png', '--instruction', 'x', '--out', 'b.png']).parameters, 'seed'));
});

function editAsync(out: string, ...seedArgs: string[]): Promise<{ seed: number; png: Buffer }> {
  const args = [bin, 'edit', '--image', input, '--instruction', 'make the frame red', '--out', out, '--steps', '2', '--size', '64', '--json', ...seedArgs];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`mgie edit failed: ${stderr}`));
      readFile(out).then((png) => resolve({ seed: JSON.parse(stdout).seed, png }), reject);
    });
  });
}

test('mgie edit --seed 0: reports seed 0 and writes the same PNG twice; --seed 1 and no --seed differ', async () => {
  const first = await editAsync(path.join(dir, 'zero-1.png'), '--seed', '0');
  const second = await editAsync(path.join(dir, 'zero-2.png'), '--seed', '0');
  assert.equal(first.seed, 0);
  assert.equal(second.seed, 0);
  assert.ok(first.png.equals(second.png), '--seed 0 twice, same bytes');
  const one = await editAsync(path.join(dir, 'one.png'), '--seed', '1');
  assert.ok(!first.png.equals(one.png));
  const drawn = await editAsync(path.join(dir, 'drawn.png'));
  assert.notEqual(drawn.seed, 0);
  assert.ok(!first.png.equals(drawn.png));
});
