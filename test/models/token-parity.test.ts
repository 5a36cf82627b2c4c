// The runtime's tokenizer against the ids the checkpoint's Python tokenizer produced (token-parity.json,
// written by the exporter into a converted bundle): one check per bundle that has the file.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { loadBundleTokenizerAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';

const PARITY_FILE = 'token-parity.json';
const bundlesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.bundles');

interface TokenParity {
  producer: string;
  cases: Array<{ instruction: string; ids: number[] }>;
}

function bundlesWithParityFile(): string[] {
  const candidates = existsSync(bundlesDir) ? readdirSync(bundlesDir).map((name) => path.join(bundlesDir, name)) : [];
  return candidates.filter((dir) => existsSync(path.join(dir, PARITY_FILE)));
}

// A bundle named on purpose is checked or the run fails: a typo in the path must not pass as a skip.
const requested = process.env.MGIE_BUNDLE_DIR ? path.resolve(process.env.MGIE_BUNDLE_DIR) : undefined;
const bundles = [...new Set([...bundlesWithParityFile(), ...(requested ? [requested] : [])])];

if (bundles.length === 0) {
  test('token parity with the Python tokenizer', { skip: `no bundle has ${PARITY_FILE} (the exporter writes one: models/README.md)` }, () => {});
}

for (const dir of bundles) {
  test(`token parity: ${path.basename(dir)} tokenizes every reference prompt as its Python tokenizer did`, async () => {
    assert.ok(existsSync(dir), `MGIE_BUNDLE_DIR=${dir} does not exist: point it at a bundle folder the exporter wrote`);
    assert.ok(existsSync(path.join(dir, PARITY_FILE)), `${dir} has no ${PARITY_FILE}: export the bundle again with the exporter (models/README.md), which writes it`);
    const parity = JSON.parse(await readFile(path.join(dir, PARITY_FILE), 'utf8')) as TokenParity;
    assert.ok(parity.cases.length > 0, `${PARITY_FILE} has no cases`);
    const { manifest, tokenizer, tokenIds } = await loadBundleTokenizerAsync(dir);
    const mismatches: string[] = [];
    for (const { instruction, ids } of parity.cases) {
      const ours = buildPromptIds(instruction, manifest, tokenizer, tokenIds).ids;
      const at = ours.findIndex((id, i) => id !== ids[i]);
      if (at >= 0 || ours.length !== ids.length) {
        const i = at >= 0 ? at : Math.min(ours.length, ids.length);
        mismatches.push(`"${instruction}": first difference at position ${i}: runtime ${ours.slice(i, i + 5).join(' ')} vs ${parity.producer} ${ids.slice(i, i + 5).join(' ')}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });
}
