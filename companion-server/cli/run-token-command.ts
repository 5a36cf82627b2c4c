// `mgie token`: per-user tokens for a team box. The token is printed once, alone on the last line of
// stdout (scripts read it with `tail -n 1`); only its hash is kept. A running server notices the change.
import { defaultConfigDir } from '../server/token-store.ts';
import { addUserAsync, readUsersAsync, revokeUserAsync, usersFilePath } from '../server/user-tokens.ts';
import type { TokenCommandOptions } from './parse-token-options.ts';

export async function runTokenCommandAsync(options: TokenCommandOptions): Promise<number> {
  const configDir = options.configDir ?? defaultConfigDir();
  const file = usersFilePath(configDir);
  if (options.action === 'add') {
    const { user, token } = await addUserAsync(configDir, options.name);
    process.stdout.write(
      `Added user ${user.name} to ${file}; a running server accepts the token at once.\n` +
        `Give ${user.name} this token (shown only now: the server keeps just its hash). It goes in the plugin's settings.\n` +
        `${token}\n`,
    );
    return 0;
  }
  if (options.action !== 'list') {
    const user = await revokeUserAsync(configDir, options.name);
    process.stdout.write(`Revoked ${user.name}'s token. A running server closes their connections and cancels their jobs within seconds.\n`);
    return 0;
  }
  const users = (await readUsersAsync(file)).map(({ name, created }) => ({ name, created }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ file, users })}\n`);
  } else if (users.length === 0) {
    process.stdout.write(`No users with a token of their own in ${file}. Add one with: mgie token add NAME\n`);
  } else {
    const width = Math.max(4, ...users.map((u) => u.name.length));
    const lines = users.map((u) => `${u.name.padEnd(width)}  ${u.created}`);
    process.stdout.write(`${'NAME'.padEnd(width)}  CREATED\n${lines.join('\n')}\n(${users.length} user${users.length === 1 ? '' : 's'} in ${file}; the server's single token is the user "default")\n`);
  }
  return 0;
}
