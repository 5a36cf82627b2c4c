// `mgie doctor`'s line about per-user tokens: how many users have one, and whether their file is
// private and readable (a damaged users.json stops mgie serve at start).
import { stat } from 'node:fs/promises';
import { defaultConfigDir } from '../../server/token-store.ts';
import { readUsersAsync, usersFilePath } from '../../server/user-tokens.ts';
import { check, type DoctorCheck } from './doctor-check.ts';

export async function checkUsersAsync(configDir = defaultConfigDir()): Promise<DoctorCheck> {
  const file = usersFilePath(configDir);
  let count: number;
  try {
    count = (await readUsersAsync(file)).length;
  } catch (error) {
    return check('fail', 'users', (error as Error).message);
  }
  if (count === 0) return check('ok', 'users', 'no tokens per user: everyone uses the single token (user "default"); on a team box give each designer one with mgie token add NAME');
  const mode = (await stat(file)).mode;
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    return check('warn', 'users', `${count} with a token of their own, but ${file} is readable by other users (${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 '${file}'`);
  }
  return check('ok', 'users', `${count} with a token of their own (mgie token list), besides "default" with the single token`);
}
