// Users with tokens of their own, made the way `mgie token add` makes them, in a temporary config folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { addUserAsync, usersFilePath } from '../../companion-server/server/user-tokens.ts';

export interface TestUsers {
  configDir: string;
  usersFile: string;
  /** Token by user name. */
  tokens: Record<string, string>;
}

export async function makeTestUsersAsync(t: TestContext, names: string[]): Promise<TestUsers> {
  const root = await mkdtemp(path.join(tmpdir(), 'mgie-users-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const configDir = path.join(root, 'config');
  const tokens: Record<string, string> = {};
  for (const name of names) tokens[name] = (await addUserAsync(configDir, name)).token;
  return { configDir, usersFile: usersFilePath(configDir), tokens };
}
