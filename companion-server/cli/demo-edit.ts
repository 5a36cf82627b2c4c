// `npm run demo`: one demo edit with the CLI on a sample image, no server needed.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { reportCliError } from './report-cli-error.ts';
import { runEditCommandAsync } from './run-edit-command.ts';

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../out');
const input = path.join(outDir, 'demo-input.png');
const output = path.join(outDir, 'demo-edit.png');

// A small landscape drawn here, so the demo needs no downloaded picture.
const landscape = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
  <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#6fb7ff"/><stop offset="1" stop-color="#dff1ff"/></linearGradient></defs>
  <rect width="640" height="480" fill="url(#sky)"/>
  <circle cx="520" cy="90" r="48" fill="#ffd84d"/>
  <path d="M0 330 L140 200 L260 320 L380 170 L640 340 L640 480 L0 480 Z" fill="#6b8f5e"/>
  <rect y="380" width="640" height="100" fill="#4f7a3a"/>
  <rect x="110" y="300" width="26" height="90" fill="#6b4a2b"/><circle cx="123" cy="280" r="52" fill="#2f8a3b"/>
  <rect x="470" y="310" width="22" height="80" fill="#6b4a2b"/><circle cx="481" cy="292" r="44" fill="#3a9a45"/>
</svg>`;

await mkdir(outDir, { recursive: true });
await writeFile(input, await sharp(Buffer.from(landscape)).png().toBuffer());
console.log(`Demo: editing ${input} with "make it look like autumn".`);
try {
  await runEditCommandAsync({ image: input, instruction: 'make it look like autumn', out: output, json: false, parameters: { seed: 13331 } });
} catch (error) {
  process.exitCode = reportCliError(error);
}
