// The `mgie` command as a user runs it: a real process, its stdout, stderr and exit code.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MGIE_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../companion-server/cli/mgie.js');

export interface MgieRun {
  /** The exit code; for a process killed by a signal, 128 + its number, as a shell reports it (139: segfault). */
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without the variables mgie reads, so a developer's own settings do not leak in. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['MGIE_BUNDLE', 'MGIE_HOST', 'MGIE_PORT', 'MGIE_TOKEN', 'MGIE_LOG_LEVEL', 'MGIE_CONFIG_DIR', 'MGIE_SPOOL_DIR', 'MGIE_MAX_SPOOL_MB']) delete env[name];
  return { ...env, ...extra };
}

export function runMgieAsync(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<MgieRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MGIE_BIN, ...args], { env: options.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // A hang is a failure of its own: kill it and say so rather than wait for the test runner.
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && code === null) stderr += `\n[killed after ${timeoutMs} ms: mgie did not finish]`;
      resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // mgie may exit before reading stdin
    child.stdin.end(options.stdin ?? '');
  });
}
