// One line of `mgie doctor`'s report. `fail` blocks an edit (doctor exits 1); `warn` does not, but
// deserves a look; `info` is a fact (a provider that is not here is no problem on a CPU box).
export type DoctorStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface DoctorCheck {
  status: DoctorStatus;
  topic: string;
  summary: string;
}

export const check = (status: DoctorStatus, topic: string, summary: string): DoctorCheck => ({ status, topic, summary });

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MB`;
  return `${(bytes / 2 ** 10).toFixed(0)} KB`;
}
