// `npm run setup:cuda`: the one explicit step that gives onnxruntime-node its CUDA provider on an
// NVIDIA box. onnxruntime-node publishes those libraries on NuGet, not npm, so `npm install` skips
// them (package.json allowScripts); this runs onnxruntime's own installer, then checks the result.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { onnxRuntimeBinaryDir } from '../engine/onnx-runtime.ts';
import { cudaProviderLibrary, probeProvidersAsync } from '../engine/providers/probe-providers-async.ts';
import { describeGpusAsync } from './doctor/describe-gpus-async.ts';

const CUDA_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'];
const NETWORK_ERRORS = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|CERT_|UNABLE_TO_GET_ISSUER|SELF_SIGNED)\w*/;

const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(force: boolean): Promise<number> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    say(`setup:cuda is for Linux x64 with an NVIDIA GPU; onnxruntime-node has no CUDA provider to install on ${process.platform}/${process.arch}.`);
    say('Nothing to do: --provider auto uses what runs here (CoreML or WebGPU on a Mac, DirectML or WebGPU on Windows). See: npx mgie doctor');
    return 1;
  }
  if (existsSync(cudaProviderLibrary()) && !force) {
    say(`The CUDA provider libraries are already in ${onnxRuntimeBinaryDir()} (npm run setup:cuda -- --force downloads them again).`);
  } else {
    say('Downloading onnxruntime-node\'s CUDA provider (CUDA 12) from NuGet, about 300 MB, with onnxruntime\'s own installer...');
    const { code, output } = await runOnnxRuntimeInstallerAsync();
    if (code !== 0) {
      const network = output.match(NETWORK_ERRORS)?.[0];
      if (network) {
        say(`Could not reach api.nuget.org (${network}), where onnxruntime publishes its CUDA libraries.`);
        say('  Behind a proxy: set GLOBAL_AGENT_HTTPS_PROXY=http://HOST:PORT (onnxruntime\'s installer honours it) and run this again.');
        say(`  Offline: run npm run setup:cuda on a machine that can reach NuGet, then copy ${CUDA_FILES.join(', ')} from its ${path.relative(process.cwd(), onnxRuntimeBinaryDir())} into the same folder here.`);
      } else {
        say(`onnxruntime's installer failed (exit ${code}):`);
        say(output.trim().split('\n').slice(-8).map((line) => `  ${line}`).join('\n'));
      }
      return 1;
    }
  }
  // Downloaded is not working: the provider also needs CUDA 12, cuDNN 9 and a GPU.
  const cuda = (await probeProvidersAsync()).find((p) => p.name === 'cuda')!;
  if (!cuda.available) {
    say(`The CUDA provider is installed, but cannot run yet: ${cuda.reason}.`);
    return 1;
  }
  const gpus = (await describeGpusAsync()).map((gpu) => gpu.name).join(', ');
  say(`The CUDA provider works${gpus ? ` on ${gpus}` : ''}. mgie serve and mgie edit use it by default (--provider auto).`);
  say('Note: npm ci (or deleting node_modules) removes it; run npm run setup:cuda again after that.');
  return 0;
}

function runOnnxRuntimeInstallerAsync(): Promise<{ code: number; output: string }> {
  const installer = path.join(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'script', 'install.js');
  return new Promise((resolve) => {
    // '1' forces the platform's default set (cuda12 on Linux x64). The documented 'cuda12' is parsed
    // to nothing by onnxruntime-node 1.30's installer, which then exits 0 silently under npm run.
    const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: '1' };
    const child = spawn(process.execPath, [installer], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
      process.stdout.write(chunk.toString().replace(/^(?=.)/gm, '  '));
    });
    child.stderr.on('data', (chunk: Buffer) => void (output += chunk));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
    child.on('error', (error) => resolve({ code: 1, output: error.message }));
  });
}

process.exitCode = await main(process.argv.includes('--force'));
