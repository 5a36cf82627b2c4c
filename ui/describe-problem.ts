// Everything that can go wrong, said in plain language with the next thing to do.
import { countCharacters } from '../companion-server/protocol/count-characters.ts';
import { stripLikePython } from '../companion-server/protocol/strip-like-python.ts';
import type { ServerLimits } from '../companion-server/protocol/messages.ts';
import type { ConnectionStatus } from './connection/companion-connection.ts';
import type { ServerAddress } from './connection/server-address.ts';

export function isLocalAddress(address: ServerAddress): boolean {
  const host = new URL(address.httpBase).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}

/** A short line for the connection indicator. */
export function describeConnection(status: ConnectionStatus): string {
  switch (status.state) {
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      // The user is worth showing on a team server with tokens per designer, not for the single token.
      return `Connected · ${status.hello.model.name}${status.hello.user && status.hello.user !== 'default' ? ` · ${status.hello.user}` : ''}`;
    case 'unreachable':
      return 'Server unreachable';
    case 'token-rejected':
      return 'Token rejected';
    case 'forbidden':
      return 'Refused by the server';
    case 'incompatible':
      return 'Incompatible server';
  }
}

/** What the designer should do about the connection, or undefined when nothing is needed. */
export function adviseOnConnection(status: ConnectionStatus, address: ServerAddress, now: number): string | undefined {
  switch (status.state) {
    case 'unreachable': {
      const seconds = Math.max(0, Math.ceil((status.retryAt - now) / 1000));
      const retry = seconds > 0 ? ` Retrying in ${seconds} s.` : ' Retrying…';
      return isLocalAddress(address)
        ? `Start the companion server: npm start (in the mgie-for-figma folder).${retry}`
        : `Cannot reach ${address.httpBase}. Check that the team server is running and that this plugin was built with its address (MGIE_TEAM_SERVER).${retry}`;
    }
    case 'token-rejected':
      return 'Token rejected (it was revoked, or is for another server): open Settings and pair again, or paste a token your admin made for you.';
    case 'forbidden':
      return status.message;
    case 'incompatible':
      return status.message;
    default:
      return undefined;
  }
}

/** An error code from the server (protocol `error` message) in plain language. */
export function describeServerError(code: string, message: string): string {
  switch (code) {
    case 'MGIE_ERR_IMAGE_TOO_LARGE':
      return `Image too large: ${message}`;
    case 'MGIE_ERR_BAD_IMAGE':
      return `The server could not read the image: ${message}`;
    case 'MGIE_ERR_BAD_PARAMETER':
      return `${message} Check the instruction and the parameters.`;
    case 'MGIE_ERR_BUSY':
      return 'The server has too many edits waiting. Try again when some have finished.';
    case 'MGIE_ERR_RATE_LIMITED':
      return 'Too many edits sent too fast. Wait a few seconds and try again.';
    case 'MGIE_ERR_TIMEOUT':
      return 'The edit took too long and was stopped. Try fewer steps or a smaller size.';
    case 'MGIE_ERR_NOT_READY':
    case 'MGIE_ERR_SHUTTING_DOWN':
      return 'The server is starting or stopping. Try again in a moment.';
    case 'MGIE_ERR_UNAUTHORIZED':
      return 'Token rejected: open Settings and pair again, or paste a token your admin made for you.';
    case 'MGIE_ERR_FORBIDDEN':
      return message;
    case 'MGIE_ERR_RUNTIME':
      return `The edit failed on the server: ${message} Try again; if it keeps failing, look at the server's log.`;
    default:
      return message;
  }
}

/** Before submitting: the instruction against the server's limit. */
export function checkInstruction(instruction: string, limits: ServerLimits): string | undefined {
  // Empty as the server sees it: trimmed as Python trims (strip-like-python.ts).
  if (stripLikePython(instruction) === '') return 'Type what to change, for example "make it look like autumn".';
  const length = countCharacters(instruction);
  if (length > limits.maxInstructionLength) {
    return `The instruction is ${length} characters; the server takes at most ${limits.maxInstructionLength}. Shorten it.`;
  }
  return undefined;
}

/** The button that fixes a problem; every error the designer sees carries one where one exists. */
export type ProblemFix = 'retry' | 'place-beside' | 'open-settings' | 'open-parameters' | 'retry-connection';

export const FIX_LABEL: Record<ProblemFix, string> = {
  retry: 'Retry',
  'place-beside': 'Place beside',
  'open-settings': 'Open settings',
  'open-parameters': 'Open parameters',
  'retry-connection': 'Retry now',
};

/** Server errors the designer fixes elsewhere than by running the edit again. */
const FIX_BY_CODE: Record<string, ProblemFix> = {
  MGIE_ERR_UNAUTHORIZED: 'open-settings',
  MGIE_ERR_FORBIDDEN: 'open-settings',
  MGIE_ERR_BAD_PARAMETER: 'open-parameters',
  MGIE_ERR_TIMEOUT: 'open-parameters',
};

/** What fixes a finished job's problem; undefined when it has none (or none the plugin can offer). */
export function fixForJob(job: {
  phase: string;
  error?: string;
  errorCode?: string;
  placement?: string;
  result?: unknown;
  source?: unknown;
}): ProblemFix | undefined {
  if (job.phase === 'cancelled') return job.source ? 'retry' : undefined;
  if (job.phase === 'failed') return (job.errorCode === undefined ? undefined : FIX_BY_CODE[job.errorCode]) ?? (job.source ? 'retry' : undefined);
  // Placed nowhere: replacing the fills was refused (no fills, a locked layer...); beside always works.
  if (job.phase === 'done' && job.error && job.result && job.placement === 'replace-fills') return 'place-beside';
  return undefined;
}
