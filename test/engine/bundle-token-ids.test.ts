// Resolving the manifest's tokens against the tokenizer (no model loads): each one must be a token,
// named by its manifest field when it is not, and inside the decoder's vocabulary, the last id
// included; and the size the loader reports counts the bundle's own files only.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { folderBytesAsync, loadBundleTokenizerAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { copyTinyBundleAsync, editManifestAsync } from '../helpers/tiny-bundle.ts';

test('a manifest token the tokenizer lacks is refused, naming the manifest field', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  const { tokens } = JSON.parse(await readFile(path.join(dir, 'mgie-bundle.json'), 'utf8'));
  for (const field of ['bos', 'eos', 'imPatch', 'imStart', 'imEnd']) {
    await editManifestAsync(dir, (m) => (m.tokens = { ...tokens, [field]: '<missing>' }));
    await assert.rejects(loadBundleTokenizerAsync(dir), (error: any) => {
      assert.equal(error.code, 'MGIE_ERR_BUNDLE_TOKENIZER');
      assert.equal(error.message, `tokenizer.json has no token "<missing>" (manifest tokens.${field}). Export the tokenizer with MGIE's added tokens.`);
      return true;
    });
  }
});

test('a token id equal to llm.vocabSize is already outside the decoder\'s vocabulary', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  // The tiny tokenizer's ids run 0..1010, [IMG7] last: a vocabulary of 1010 ends one short of it.
  await editManifestAsync(dir, (m) => (m.llm.vocabSize = 1010));
  await assert.rejects(loadBundleTokenizerAsync(dir), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BUNDLE_TOKENIZER');
    assert.equal(error.message, 'tokenizer.json: token "[IMG7]" has id 1010, outside the decoder\'s vocabulary of 1010 (llm.vocabSize).');
    return true;
  });
  await editManifestAsync(dir, (m) => (m.llm.vocabSize = 1011));
  assert.equal((await loadBundleTokenizerAsync(dir)).tokenIds.img[7], 1010);
});

test('the folder size counts the files in the bundle folder, not its subfolders', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await mkdir(path.join(dir, 'notes'));
  await writeFile(path.join(dir, 'notes', 'big.txt'), 'x'.repeat(100_000));
  let expected = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isFile()) expected += (await stat(path.join(dir, entry.name))).size;
  assert.equal(await folderBytesAsync(dir), expected);
});
