// `mgie doctor`: checks what an edit needs on this machine and says it in plain words; exits 1 when
// something blocks an edit. The first command a team admin runs on a new box.
import { checkBundleAsync } from './doctor/check-bundle-async.ts';
import { checkGpusAsync, checkNode, checkProvidersAsync } from './doctor/check-runtime-async.ts';
import { checkMemory, checkPortAsync, checkResultCacheAsync, checkTokenAsync } from './doctor/check-system-async.ts';
import { checkUsersAsync } from './doctor/check-users-async.ts';
import type { DoctorCheck, DoctorStatus } from './doctor/doctor-check.ts';

export interface DoctorCommandOptions {
  bundle?: string;
  host: string;
  port: number;
  provider: string;
  json: boolean;
}

const MARK: Record<DoctorStatus, string> = { ok: 'ok  ', info: '--  ', warn: 'WARN', fail: 'FAIL' };

export async function runDoctorCommandAsync(options: DoctorCommandOptions): Promise<number> {
  const bundle = await checkBundleAsync(options.bundle);
  const checks: DoctorCheck[] = [
    checkNode(),
    ...(await checkProvidersAsync(options.provider)),
    await checkGpusAsync(),
    bundle.check,
    checkMemory(bundle.bytes),
    await checkTokenAsync(),
    await checkUsersAsync(),
    await checkResultCacheAsync(),
    await checkPortAsync(options.host, options.port),
  ];
  const failures = checks.filter((c) => c.status === 'fail');
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ok: failures.length === 0, checks })}\n`);
  } else {
    const width = Math.max(...checks.map((c) => c.topic.length));
    const lines = checks.map((c) => `${MARK[c.status]}  ${c.topic.padEnd(width)}  ${c.summary}`);
    const verdict = failures.length === 0 ? 'Nothing blocks an edit.' : `${failures.length} problem${failures.length > 1 ? 's' : ''} (FAIL) block${failures.length > 1 ? '' : 's'} an edit: fix ${failures.length > 1 ? 'them' : 'it'} and run mgie doctor again.`;
    process.stdout.write(`mgie doctor: what an edit needs on this machine\n\n${lines.join('\n')}\n\n${verdict}\n`);
  }
  return failures.length === 0 ? 0 : 1;
}
