// Prints, as JSON, the runtime's prompt ids for each instruction given on the command line, and the ids
// of the tokens the reference pipeline needs: what compare_with_runtime.py feeds the PyTorch reference,
// so that both sides start from the same ids (tokenizer parity itself is token-parity.json's job).
// Usage: npx tsx models/export/prompt-ids.ts BUNDLE_DIR "instruction" ["instruction" ...]
import { loadBundleTokenizerAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { buildPromptIds } from '../../companion-server/engine/prompt/build-prompt.ts';

const [bundleDir, ...instructions] = process.argv.slice(2);
if (!bundleDir || instructions.length === 0) {
  process.stderr.write('Usage: npx tsx models/export/prompt-ids.ts BUNDLE_DIR "instruction" ["instruction" ...]\n');
  process.exit(2);
}
const { manifest, tokenizer, tokenIds } = await loadBundleTokenizerAsync(bundleDir);
const prompts = instructions.map((instruction) => ({ instruction, ids: buildPromptIds(instruction, manifest, tokenizer, tokenIds).ids }));
process.stdout.write(`${JSON.stringify({ tokenIds: { imPatch: tokenIds.imPatch, eos: tokenIds.eos, img0: tokenIds.img[0] }, prompts })}\n`);
