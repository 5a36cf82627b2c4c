// Connections to the Redis that fronts and workers share (`--queue redis://HOST:PORT`).
import { Redis, type RedisOptions } from 'ioredis';
import { MgieError } from '../../engine/errors.ts';

/** Connection options from a redis:// or rediss:// (TLS) URL: host, port, user, password, database number. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `--queue "${url}" is not a URL; give it as redis://HOST:PORT (or rediss:// for TLS).`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `--queue "${url}" must start with redis:// (or rediss:// for TLS).`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new MgieError('MGIE_ERR_BAD_PARAMETER', `--queue "${url}": the path must be a database number, like redis://HOST:6379/0.`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    // Reconnect for ever, at most every 2 s: Redis restarting must not end a front or a worker.
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
    lazyConnect: false,
  };
}

/**
 * A front's connection: commands fail at once while Redis is away (no offline queue), so a designer
 * hears "the queue is unavailable" instead of waiting on a submit that may never go through.
 */
export function createFailFastRedis(options: RedisOptions): Redis {
  return new Redis({ ...options, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
}

/** A worker's (or a subscriber's) connection: commands wait for Redis to come back, so a finished result is not lost. */
export function createPatientRedis(options: RedisOptions): Redis {
  return new Redis({ ...options, maxRetriesPerRequest: null });
}

export function queueUnavailable(cause?: unknown): MgieError {
  return new MgieError(
    'MGIE_ERR_QUEUE_UNAVAILABLE',
    'The job queue (Redis) is unreachable, so new edits are refused; edits already queued continue once it is back. Try again in a minute; if it lasts, tell the server admin to check Redis.',
    { cause },
  );
}
