// `npm run demo`: one demo edit with the CLI on the sample picture, no server needed.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportCliError } from './report-cli-error.ts';
import { runEditCommandAsync } from './run-edit-command.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// The same picture the README's curl example sends (examples/landscape.svg, rendered once to PNG).
const input = path.join(repo, 'examples', 'landscape.png');
const outDir = path.join(repo, 'out');
const output = path.join(outDir, 'demo-edit.png');

await mkdir(outDir, { recursive: true });
console.log(`Demo: editing ${input} with "make it look like autumn".`);
try {
  await runEditCommandAsync({ image: input, instruction: 'make it look like autumn', out: output, json: false, parameters: { seed: 13331 } });
} catch (error) {
  process.exitCode = reportCliError(error);
}
