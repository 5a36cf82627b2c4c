import { CommandFailure } from './cli-errors.ts';

/** Why `mgie serve` could not listen, as something the user can fix; other errors are returned unchanged. */
export function describeListenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  const cause = { cause: error };
  switch (code) {
    case 'EADDRINUSE':
      return new CommandFailure(`Port ${port} is in use (is another mgie serve running?): stop it or pass --port N.`, cause);
    case 'EACCES':
      return new CommandFailure(`Port ${port} needs administrator rights on this system: pass --port with a number from 1024 up (the default is 8765).`, cause);
    case 'EADDRNOTAVAIL':
      return new CommandFailure(
        `Cannot listen on --host ${host}: this computer has no such address. Pass --host 127.0.0.1 (this computer only) or --host 0.0.0.0 (all its addresses).`,
        cause,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return new CommandFailure(`Cannot listen on --host ${host}: the name does not resolve to an address here. Pass an address of this computer, such as 127.0.0.1 or 0.0.0.0.`, cause);
    case 'EAFNOSUPPORT':
      return new CommandFailure(`Cannot listen on --host ${host}: this system does not support that address family (IPv6 off?). Pass --host 127.0.0.1 or 0.0.0.0.`, cause);
    default:
      return error;
  }
}
