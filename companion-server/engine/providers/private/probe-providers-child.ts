// Runs in a child process of probeProvidersAsync: starting a GPU provider can print native warnings
// (Dawn, dlopen) straight to stderr or, with a broken driver, crash the process. Here that costs
// nothing: the parent reads this process's stdout (one JSON line) and stderr, and survives a crash.
import { runProbeModelAsync } from '../../onnx-runtime.ts';
import { buildProbeModel, PROBE_MARKER } from './build-probe-model.ts';

const model = buildProbeModel();
const results: Record<string, { ok: true } | { ok: false; message: string }> = {};
for (const provider of process.argv.slice(2)) {
  // Native libraries write to the same stderr: a marker tells the parent whose lines follow
  // (writes to a pipe are synchronous in Node, so the order holds).
  process.stderr.write(`${PROBE_MARKER}${provider}\n`);
  try {
    await runProbeModelAsync(model, provider);
    results[provider] = { ok: true };
  } catch (error) {
    results[provider] = { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
