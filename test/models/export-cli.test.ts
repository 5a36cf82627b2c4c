// `python -m models.export` before the heavy packages are installed: --help and argument errors need only
// the standard library, and a missing package says which one and how to install it. This machine's python3
// has no torch, which is exactly the case; the tests that need "no packages" run python with -S (no
// site-packages) so they hold on a machine that has them too.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const python = process.env.PYTHON ?? 'python3';
const noPython = (() => {
  try {
    execFileSync(python, ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
})();
const skip = noPython ? `${python} is not installed` : false;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-export-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function exporter(args: string[], options: { pythonFlags?: string[]; pythonPath?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, PYTHONPATH: options.pythonPath ?? '', PYTHONDONTWRITEBYTECODE: '1' };
  return new Promise((resolve) => {
    execFile(python, [...(options.pythonFlags ?? []), '-m', 'models.export', ...args], { cwd: repo, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('python3 -m models.export --help works with the standard library alone', { skip }, async () => {
  // -S: no site-packages, so not even numpy is importable
  for (const pythonFlags of [[], ['-S']]) {
    const { code, stdout, stderr } = await exporter(['--help'], { pythonFlags });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^usage: python -m models\.export /);
    for (const flag of ['--out OUT', '--tiny', '--llava LLAVA', '--mgie MGIE', '--ip2p IP2P', '--clip CLIP', '--fp16', '--verify']) {
      assert.ok(stdout.includes(flag), `--help lists ${flag}`);
    }
    assert.match(stdout, /\(default: 1800\)/, 'the external-data default comes from constants.py, not from export_bundle');
    assert.equal(stderr, '');
  }
});

test('a bad invocation exits 2 with argparse\'s message', { skip }, async () => {
  const noOut = await exporter(['--tiny']);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /^usage: python -m models\.export /);
  assert.match(noOut.stderr, /python -m models\.export: error: the following arguments are required: --out/);

  const noCheckpoints = await exporter(['--out', path.join(dir, 'bundle')]);
  assert.equal(noCheckpoints.code, 2);
  assert.match(noCheckpoints.stderr, /error: give --llava, --mgie and --ip2p \(or --tiny, or --random-init\)/);
});

test('missing packages are named, with the command that installs them, before anything runs', { skip }, async () => {
  const tiny = await exporter(['--tiny', '--out', path.join(dir, 'tiny')], { pythonFlags: ['-S'] });
  assert.equal(tiny.code, 1);
  assert.match(tiny.stderr, /missing Python packages: torch, transformers, diffusers, onnx, numpy\./);
  assert.match(tiny.stderr, /pip install -r models\/export\/requirements\.txt/);
  assert.doesNotMatch(tiny.stderr, /Traceback/);

  const real = await exporter(['--out', path.join(dir, 'real'), '--llava', 'a', '--mgie', 'b', '--ip2p', 'c', '--verify'], { pythonFlags: ['-S'] });
  assert.equal(real.code, 1);
  assert.match(real.stderr, /missing Python packages: torch, transformers, diffusers, onnx, numpy, safetensors, sentencepiece\./);
});

test('a package that imports but lacks one of its own dependencies is named too', { skip }, async () => {
  // stand-ins that pass the up-front check; the fake transformers imports a module nobody has
  const fakes = path.join(dir, 'fakes');
  await mkdir(path.join(fakes, 'torch'), { recursive: true });
  await writeFile(path.join(fakes, 'torch', '__init__.py'), '');
  await writeFile(path.join(fakes, 'torch', 'nn.py'), 'class Module:\n    pass\n');
  for (const name of ['onnx', 'diffusers', 'transformers', 'numpy']) {
    await mkdir(path.join(fakes, name), { recursive: true });
    await writeFile(path.join(fakes, name, '__init__.py'), name === 'transformers' ? 'import mgie_test_absent_dependency\n' : '');
  }
  const tokenizer = path.join(dir, 'tokenizer');
  await mkdir(tokenizer, { recursive: true });
  await writeFile(path.join(tokenizer, 'tokenizer.json'), '{}');

  const run = await exporter(['--tiny', '--tokenizer', tokenizer, '--out', path.join(dir, 'fake')], { pythonFlags: ['-S'], pythonPath: fakes });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /missing Python package: mgie_test_absent_dependency\./);
  assert.match(run.stderr, /pip install -r models\/export\/requirements\.txt/);
  assert.doesNotMatch(run.stderr, /Traceback/);

  const noTokenizer = await exporter(['--tiny', '--tokenizer', path.join(dir, 'nowhere'), '--out', path.join(dir, 'fake')], { pythonFlags: ['-S'], pythonPath: fakes });
  assert.equal(noTokenizer.code, 1);
  assert.match(noTokenizer.stderr, /has no tokenizer\.json\. Generate the tiny bundle first with: npm install && npm run tiny-bundle/);
});

test('every `python -m models.export` command in models/README.md passes argument parsing', { skip }, async () => {
  const readme = await readFile(path.join(repo, 'models/README.md'), 'utf8');
  // shell lines with their backslash continuations joined, from the fenced sh blocks
  const lines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(([, block]) => block.replace(/\\\n\s*/g, ' ').split('\n'));
  const commands = lines.map((line) => line.trim()).filter((line) => line.startsWith('python -m models.export'));
  assert.ok(commands.length >= 3, `found ${commands.length} commands`);
  for (const command of commands) {
    const args = command.replace(/\s+#.*$/, '').split(/\s+/).slice(3);
    // without site-packages: argparse accepts the flags (exit 0 for --help), then the package check stops it (1)
    const { code, stderr } = await exporter(args, { pythonFlags: ['-S'] });
    assert.notEqual(code, 2, `${command}\n${stderr}`);
    if (!args.includes('--help')) assert.match(stderr, /missing Python packages/, command);
  }
});
