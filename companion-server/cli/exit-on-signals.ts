// SIGINT and SIGTERM for the long-running commands (serve, worker): close once, then exit 0, or 1 if closing failed.
import type { FastifyBaseLogger } from 'fastify';

export function exitOnSignals(log: Pick<FastifyBaseLogger, 'info' | 'error'>, what: { stopping: string; failed: string }, closeAsync: () => Promise<void>): void {
  let closing = false;
  const close = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info({ signal }, what.stopping);
    closeAsync().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, what.failed);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => close('SIGINT'));
  process.on('SIGTERM', () => close('SIGTERM'));
}
