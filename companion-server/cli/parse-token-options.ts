// `mgie token add NAME | list | revoke NAME` flags: which action, the user's name, the config folder.
import { UsageError } from './cli-errors.ts';
import { parseCommandArgs } from './parse-command-args.ts';

export type TokenCommandOptions =
  | { action: 'add' | 'revoke'; name: string; configDir?: string }
  | { action: 'list'; json: boolean; configDir?: string };

export const TOKEN_USAGE = `Usage: mgie token add NAME [--config-dir DIR]       a token of their own for one designer, printed once, on the last line
       mgie token list [--json] [--config-dir DIR]  the users and when their token was made (never the tokens)
       mgie token revoke NAME [--config-dir DIR]    a running server closes NAME's connections and cancels their jobs
NAME: 1 to 32 letters, digits, ".", "_" or "-", starting with a letter or digit; "default" is reserved
for the server's single token. Tokens are stored hashed in DIR/users.json.
Environment: MGIE_CONFIG_DIR (the flag wins; the same folder mgie serve uses).`;

export function parseTokenOptions(args: string[], env: NodeJS.ProcessEnv = process.env): TokenCommandOptions {
  const [action, ...rest] = args;
  if (action === '--help' || action === '-h') parseCommandArgs(args, {}, TOKEN_USAGE); // throws HelpRequested
  if (action === 'list') {
    const values = parseCommandArgs(rest, { json: { type: 'boolean', default: false }, 'config-dir': { type: 'string' } }, TOKEN_USAGE);
    return { action, json: values.json ?? false, configDir: configDirOf(values['config-dir'], env) };
  }
  if (action === 'add' || action === 'revoke') {
    const [name, ...flags] = rest;
    if (name === '--help' || name === '-h') parseCommandArgs([name], {}, TOKEN_USAGE);
    if (name === undefined || name.startsWith('-')) throw new UsageError(`mgie token ${action} needs the user's name first, e.g. mgie token ${action} anna.\n${TOKEN_USAGE}`);
    const values = parseCommandArgs(flags, { 'config-dir': { type: 'string' } }, TOKEN_USAGE);
    return { action, name, configDir: configDirOf(values['config-dir'], env) };
  }
  throw new UsageError(`${action === undefined ? 'token needs an action' : `unknown token action "${action}"`}: add, list or revoke.\n${TOKEN_USAGE}`);
}

function configDirOf(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return flag ?? (env.MGIE_CONFIG_DIR || undefined);
}
