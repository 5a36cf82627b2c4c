// Writes LLaMA's real tokenizer (32,000 pieces) with LLaVA's and MGIE's 11 added tokens at ids 32000..32010 into a
// folder, for bundles made with `python -m models.export --random-init`: real-size random bundles then tokenize
// prompts exactly as the real MGIE 7B does, and the [IMG] ids sit where the checkpoint puts them.
// The pieces come from llama-tokenizer-js (a devDependency), with the scores recovered by
// test/helpers/llama-vocabulary.ts; the conversion is the exporter's own (tokenizer_json.py), so this is the
// tokenizer prepare_tokenizer_dir would write from LLaMA's tokenizer.model (test/models/llama-vocabulary.test.ts).
// Usage: npx tsx models/export/write-llama-tokenizer.ts [OUT_DIR]   (default .bundles/llama-tokenizer)
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADDED_TOKEN_IDS, llamaSentencePieces, PYTHON, REPO } from '../../test/helpers/llama-vocabulary.ts';

const out = path.resolve(process.argv[2] ?? path.join(REPO, '.bundles', 'llama-tokenizer'));
const scratch = await mkdtemp(path.join(tmpdir(), 'mgie-llama-tokenizer-'));
try {
  const pieces = path.join(scratch, 'pieces.json');
  const added = path.join(scratch, 'added_tokens.json');
  await writeFile(pieces, JSON.stringify(llamaSentencePieces().pieces));
  await writeFile(added, JSON.stringify(ADDED_TOKEN_IDS));
  execFileSync(PYTHON, ['-m', 'models.export.tokenizer_json', '--pieces', pieces, '--added-tokens', added, '--out', out], {
    cwd: REPO,
    stdio: 'inherit',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  console.log(`LLaMA tokenizer (32,000 pieces + 11 added tokens) written to ${out}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
