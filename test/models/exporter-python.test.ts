// The exporter's Python checks that need torch (test/models/python/check_*.py): run where torch is
// installed (models/export/VERIFICATION.md says how to get it without PyPI), skipped with the reason elsewhere.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const checksDir = path.join(repo, 'test/models/python');
const python = process.env.PYTHON ?? 'python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const env = { ...process.env, PYTHONPATH: [repo, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) };

for (const file of readdirSync(checksDir).filter((name) => /^check_.*\.py$/.test(name))) {
  test(`exporter check ${file}`, { skip: !hasTorch && `${python} has no torch (source an environment made as models/export/VERIFICATION.md says)` }, () => {
    const out = execFileSync(python, [path.join(checksDir, file)], { cwd: repo, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /checks passed: \d+/);
  });
}
