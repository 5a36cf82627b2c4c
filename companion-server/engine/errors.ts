// One catalogue of the engine's errors, each with a stable code (sent to clients as is) and the
// HTTP status a server should answer with. Messages say what is wrong and what to do.

export const errorCodes = {
  MGIE_ERR_BUNDLE_NOT_FOUND: 500,
  MGIE_ERR_BUNDLE_MANIFEST: 500,
  MGIE_ERR_BUNDLE_VERSION: 500,
  MGIE_ERR_BUNDLE_MISSING_FILE: 500,
  MGIE_ERR_BUNDLE_CHECKSUM: 500,
  MGIE_ERR_BUNDLE_MODEL_IO: 500,
  MGIE_ERR_BUNDLE_TOKENIZER: 500,
  MGIE_ERR_PROVIDER_UNAVAILABLE: 500,
  MGIE_ERR_BAD_IMAGE: 400,
  MGIE_ERR_IMAGE_TOO_LARGE: 413,
  MGIE_ERR_BAD_PARAMETER: 400,
  MGIE_ERR_CANCELLED: 499,
  MGIE_ERR_RUNTIME: 500,
  MGIE_ERR_BUSY: 503,
  MGIE_ERR_TIMEOUT: 504,
  MGIE_ERR_NOT_FOUND: 404,
  MGIE_ERR_FORBIDDEN: 403,
  MGIE_ERR_SHUTTING_DOWN: 503,
  MGIE_ERR_NOT_READY: 503,
  MGIE_ERR_UNAUTHORIZED: 401,
  MGIE_ERR_BAD_MESSAGE: 400,
  MGIE_ERR_RATE_LIMITED: 429,
  MGIE_ERR_QUEUE_UNAVAILABLE: 503,
  MGIE_ERR_PAIRING_DISABLED: 403,
  MGIE_ERR_PAIRING_CODE_WRONG: 401,
  MGIE_ERR_PAIRING_EXPIRED: 410,
} as const;

export type MgieErrorCode = keyof typeof errorCodes;

export class MgieError extends Error {
  readonly code: MgieErrorCode;
  readonly statusCode: number;

  constructor(code: MgieErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MgieError';
    this.code = code;
    this.statusCode = errorCodes[code];
  }
}

export function isMgieError(error: unknown, code?: MgieErrorCode): error is MgieError {
  return error instanceof MgieError && (code === undefined || error.code === code);
}

/** The error an aborted edit ends with, whatever stage it was in. */
export function cancelledError(signal?: AbortSignal): MgieError {
  return new MgieError('MGIE_ERR_CANCELLED', 'The edit was cancelled.', { cause: signal?.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError(signal);
}

/** Runs `check`; an MgieError it throws comes out with `prefix: ` before its message (e.g. which chain instruction). */
export function withErrorPrefix<T>(prefix: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof MgieError) throw new MgieError(error.code, `${prefix}: ${error.message}`, { cause: error });
    throw error;
  }
}
