// The state fronts and workers share in Redis besides BullMQ's own: each job's owner and state, the
// waiting jobs in fair order, image and result bytes under a byte budget, final messages kept for
// clients, and the workers' registrations. Every change that must be atomic is one Lua script.
import type { Redis } from 'ioredis';
import type { BundleManifest } from '../../engine/bundle/bundle-manifest.ts';

/** Key names, all under one prefix (BullMQ's keys share it: `mgie:edits:*`). */
export function queueKeys(prefix: string) {
  return {
    queueName: 'edits',
    prefix,
    job: (jobId: string) => `${prefix}:job:${jobId}`,
    clientJobs: (clientId: string) => `${prefix}:client-jobs:${clientId}`,
    /** Waiting jobs, scored by fair-queue tag (then arrival): ZRANK + 1 is a job's position. */
    waiting: `${prefix}:waiting`,
    ownerWaiting: `${prefix}:owner-waiting`,
    ownerTag: `${prefix}:owner-tag`,
    virtualTime: `${prefix}:vtime`,
    sequence: `${prefix}:seq`,
    image: (jobId: string) => `${prefix}:blob:image:${jobId}`,
    result: (jobId: string) => `${prefix}:blob:result:${jobId}`,
    cached: (cacheKey: string) => `${prefix}:blob:cache:${cacheKey}`,
    blobSizes: (pool: BlobPool) => `${prefix}:blobs:${pool}:sizes`,
    blobExpiry: (pool: BlobPool) => `${prefix}:blobs:${pool}:expiry`,
    final: (jobId: string) => `${prefix}:final:${jobId}`,
    finalsOf: (clientId: string) => `${prefix}:finals:${clientId}`,
    workers: `${prefix}:workers`,
    /** Pub/sub: worker and front events for clients (progress, 'final' notices, queue changes). */
    events: `${prefix}:events`,
    /** Pub/sub: cancellations of running jobs, for the workers. */
    cancel: `${prefix}:cancel`,
    /** A user's submit token bucket, shared by every front (the rate limit per user). */
    rate: (owner: string) => `${prefix}:rate:${owner}`,
  };
}
export type QueueKeys = ReturnType<typeof queueKeys>;

/** Uploads are refused past their budget; results and cached results push out their oldest instead. */
export type BlobPool = 'images' | 'results' | 'cache';

/**
 * Admission of a job: limits, then its fair-queue tag. Start-time fair queueing: a job's tag is
 * max(virtual time, the owner's last tag) + 1, and the virtual time is the tag of the last job started;
 * so each owner gets one job per round, a newcomer joins the current round, and nobody can bank turns.
 * When nothing waits every owner is equal, so the clock restarts (which keeps tags far below BullMQ's
 * priority limit, 2^21).
 */
const ADMIT = `
local total = redis.call('ZCARD', KEYS[1])
if total >= tonumber(ARGV[7]) then return {-1, total} end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if mine >= tonumber(ARGV[6]) then return {-2, mine} end
if total == 0 then
  redis.call('SET', KEYS[4], 0)
  redis.call('DEL', KEYS[3])
end
local vtime = tonumber(redis.call('GET', KEYS[4]) or '0')
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
local tag = math.max(vtime, last) + 1
if tag >= 2097151 then return {-1, total} end
redis.call('HSET', KEYS[3], ARGV[2], tag)
local seq = redis.call('INCR', KEYS[5]) % 1048576
redis.call('ZADD', KEYS[1], tag * 1048576 + seq, ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HSET', KEYS[6], 'clientId', ARGV[3], 'owner', ARGV[2], 'clientJobId', ARGV[4], 'state', 'queued', 'queuedAt', ARGV[8], 'tag', tag)
redis.call('PEXPIRE', KEYS[6], ARGV[9])
redis.call('SADD', KEYS[7], ARGV[1])
redis.call('PEXPIRE', KEYS[7], ARGV[9])
return {tag, redis.call('ZRANK', KEYS[1], ARGV[1]) + 1}
`;

/** Leaves the waiting set (once): the owner's count goes down; a start also moves the virtual clock. */
const LEAVE_WAITING = `
local function leaveWaiting(jobKey, waiting, ownerWaiting, vtime, jobId, moveClock)
  if redis.call('ZREM', waiting, jobId) == 0 then return end
  local owner = redis.call('HGET', jobKey, 'owner')
  if owner and redis.call('HINCRBY', ownerWaiting, owner, -1) <= 0 then redis.call('HDEL', ownerWaiting, owner) end
  if moveClock then
    local tag = tonumber(redis.call('HGET', jobKey, 'tag') or '0')
    if tag > tonumber(redis.call('GET', vtime) or '0') then redis.call('SET', vtime, tag) end
  end
end
`;

/** A worker takes a job: 'run', or 'skip' (cancelled while waiting, or gone), or 'cancelled' (cancel asked while it ran elsewhere). */
const START = `${LEAVE_WAITING}
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'cancelled' then
  leaveWaiting(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], false)
  return 'skip'
end
if redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then return 'cancelled' end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[2], 'startedAt', ARGV[3])
leaveWaiting(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], true)
return 'run'
`;

/** The job's owner (a user) cancels: 'queued' (now cancelled, out of line), 'running' (a worker must stop it), 'missing', 'forbidden'. */
const CANCEL = `${LEAVE_WAITING}
local meta = redis.call('HMGET', KEYS[1], 'state', 'owner')
if not meta[1] or meta[1] == 'cancelled' then return 'missing' end
if meta[2] ~= ARGV[2] then return 'forbidden' end
if meta[1] == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
  leaveWaiting(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], false)
  return 'queued'
end
redis.call('HSET', KEYS[1], 'cancelRequested', '1')
return 'running'
`;

/**
 * Stores bytes in a pool with a TTL. The pool's total (expired entries dropped first) stays under its
 * budget: 'refuse' answers -1 when it would not fit, 'evict' removes the entries closest to expiry.
 */
const PUT_BLOB = `
local now = tonumber(ARGV[3])
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], key)
  redis.call('ZREM', KEYS[2], key)
end
local total = 0
for _, size in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(size) end
local size = string.len(ARGV[1])
local budget = tonumber(ARGV[4])
if size > budget then return -1 end
while total + size > budget do
  if ARGV[5] ~= 'evict' then return -1 end
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then break end
  total = total - tonumber(redis.call('HGET', KEYS[1], oldest) or '0')
  redis.call('DEL', oldest)
  redis.call('HDEL', KEYS[1], oldest)
  redis.call('ZREM', KEYS[2], oldest)
end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], KEYS[3], size)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), KEYS[3])
return total + size
`;

/** Deletes a blob; TAKE_BLOB also returns its bytes (one round trip for a result on its way out). */
const DELETE_BLOB = `
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], KEYS[3])
return 1
`;

const TAKE_BLOB = `
local value = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], KEYS[3])
return value
`;

/** Takes a kept final message exactly once (whichever front gets there first delivers it). */
const CLAIM_FINAL = `
local value = redis.call('GET', KEYS[1])
if not value then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return value
`;

/**
 * The rate limit per user across fronts: a token bucket in one hash, refilled by Redis's own clock (so
 * fronts' clocks do not matter). ARGV: capacity, refill per second. Returns 1 when a submit may go.
 */
const TAKE_RATE = `
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * perMs)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / perMs) + 1000)
return allowed
`;

interface Scripts {
  mgieTakeRate(...args: (string | number)[]): Promise<number>;
  mgieAdmit(...args: (string | number)[]): Promise<[number, number]>;
  mgieStart(...args: (string | number)[]): Promise<'run' | 'skip' | 'cancelled'>;
  mgieCancel(...args: (string | number)[]): Promise<'queued' | 'running' | 'missing' | 'forbidden'>;
  mgiePutBlob(...args: (string | number | Buffer)[]): Promise<number>;
  mgieDeleteBlob(...args: string[]): Promise<number>;
  mgieTakeBlobBuffer(...args: string[]): Promise<Buffer | null>;
  mgieClaimFinal(...args: string[]): Promise<string | null>;
}

/** A final message as kept in Redis: JSON, or a result whose header and PNG are in a blob (a binary frame). */
export type KeptFinal = { clientId: string; owner: string; jobId: string } & ({ kind: 'json'; message: { type: string; [key: string]: unknown } } | { kind: 'blob'; key: string });

export interface WorkerRegistration {
  id: string;
  host: string;
  pid: number;
  model: { name: string; description?: string; provider: string; providers: { requested: string; chosen: string; notChosen: Array<{ name: string; reason: string }> }; defaults: { steps: number; guidanceScale: number; imageGuidanceScale: number; size: number }; scheduler: string };
  /** The bundle's diffusion settings, so a front checks parameters and sizes before an edit waits in line. */
  diffusion: BundleManifest['diffusion'];
  startedAt: number;
  heartbeatAt: number;
  jobs: { succeeded: number; failed: number; cancelled: number };
  runSeconds: number;
  currentJobId: string | null;
}

export class QueueStore {
  readonly keys: QueueKeys;
  private readonly redis: Redis & Scripts;

  constructor(redis: Redis, prefix: string) {
    this.keys = queueKeys(prefix);
    redis.defineCommand('mgieAdmit', { numberOfKeys: 7, lua: ADMIT });
    redis.defineCommand('mgieTakeRate', { numberOfKeys: 1, lua: TAKE_RATE });
    redis.defineCommand('mgieStart', { numberOfKeys: 4, lua: START });
    redis.defineCommand('mgieCancel', { numberOfKeys: 4, lua: CANCEL });
    redis.defineCommand('mgiePutBlob', { numberOfKeys: 3, lua: PUT_BLOB });
    redis.defineCommand('mgieDeleteBlob', { numberOfKeys: 3, lua: DELETE_BLOB });
    redis.defineCommand('mgieTakeBlob', { numberOfKeys: 3, lua: TAKE_BLOB });
    redis.defineCommand('mgieClaimFinal', { numberOfKeys: 2, lua: CLAIM_FINAL });
    this.redis = redis as Redis & Scripts;
  }

  /** [tag, position] on success; [-1, waiting] over the total limit; [-2, waiting] over the owner's. */
  /** Spends one of the owner's submit tokens (shared by every front); false when they are out of tokens. */
  async takeRateAsync(owner: string, limit: { capacity: number; refillPerSecond: number }): Promise<boolean> {
    return (await this.redis.mgieTakeRate(this.keys.rate(owner), limit.capacity, limit.refillPerSecond)) === 1;
  }

  admitAsync(job: { jobId: string; owner: string; clientId: string; clientJobId: string }, limits: { perOwner: number; total: number }, ttlMs: number): Promise<[number, number]> {
    const k = this.keys;
    return this.redis.mgieAdmit(k.waiting, k.ownerWaiting, k.ownerTag, k.virtualTime, k.sequence, k.job(job.jobId), k.clientJobs(job.clientId), job.jobId, job.owner, job.clientId, job.clientJobId, '1', limits.perOwner, limits.total, Date.now(), ttlMs);
  }

  startAsync(jobId: string, workerId: string): Promise<'run' | 'skip' | 'cancelled'> {
    const k = this.keys;
    return this.redis.mgieStart(k.job(jobId), k.waiting, k.ownerWaiting, k.virtualTime, jobId, workerId, Date.now());
  }

  cancelAsync(jobId: string, owner: string): Promise<'queued' | 'running' | 'missing' | 'forbidden'> {
    const k = this.keys;
    return this.redis.mgieCancel(k.job(jobId), k.waiting, k.ownerWaiting, k.virtualTime, jobId, owner);
  }

  /** The ids of the owner's jobs still known (waiting, running, or ended and not yet forgotten). Scans: for rare uses (a revocation). */
  async jobIdsOfOwnerAsync(owner: string): Promise<string[]> {
    const prefix = this.keys.job('');
    const ids: string[] = [];
    for await (const keys of this.redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      for (const key of keys) if ((await this.redis.hget(key, 'owner')) === owner) ids.push(key.slice(prefix.length));
    }
    return ids;
  }

  async jobMetaAsync(jobId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.job(jobId));
  }

  /** Forgets an ended job: its record, its place in its client's list, its uploaded image. */
  async forgetJobAsync(jobId: string, clientId: string): Promise<void> {
    const k = this.keys;
    await this.redis.multi().del(k.job(jobId)).srem(k.clientJobs(clientId), jobId).exec();
    await this.deleteBlobAsync('images', k.image(jobId));
  }

  /** Stores bytes; false when the pool is over its budget (only in 'refuse' mode). */
  async putBlobAsync(pool: BlobPool, key: string, bytes: Uint8Array, ttlMs: number, budget: number, mode: 'refuse' | 'evict'): Promise<boolean> {
    const k = this.keys;
    const total = await this.redis.mgiePutBlob(k.blobSizes(pool), k.blobExpiry(pool), key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), Math.max(1, Math.round(ttlMs)), Date.now(), budget, mode);
    return total >= 0;
  }

  getBlobAsync(key: string): Promise<Buffer | null> {
    return this.redis.getBuffer(key);
  }

  async deleteBlobAsync(pool: BlobPool, key: string): Promise<void> {
    const k = this.keys;
    await this.redis.mgieDeleteBlob(k.blobSizes(pool), k.blobExpiry(pool), key);
  }

  /** Returns a blob's bytes and deletes it (null when it is gone: expired, or pushed out). */
  takeBlobAsync(pool: BlobPool, key: string): Promise<Buffer | null> {
    const k = this.keys;
    return this.redis.mgieTakeBlobBuffer(k.blobSizes(pool), k.blobExpiry(pool), key);
  }

  /** Bytes held in a pool (for /metrics). */
  async blobBytesAsync(pool: BlobPool): Promise<number> {
    const sizes = await this.redis.hvals(this.keys.blobSizes(pool));
    return sizes.reduce((sum, size) => sum + Number(size), 0);
  }

  /** Keeps a final message for its client until a front claims it, and tells the fronts. */
  async keepFinalAsync(final: KeptFinal, ttlMs: number): Promise<void> {
    const k = this.keys;
    await this.redis
      .multi()
      .set(k.final(final.jobId), JSON.stringify(final), 'PX', Math.round(ttlMs))
      .sadd(k.finalsOf(final.clientId), final.jobId)
      .pexpire(k.finalsOf(final.clientId), Math.round(ttlMs))
      .publish(k.events, JSON.stringify({ t: 'final', clientId: final.clientId, jobId: final.jobId }))
      .exec();
  }

  async claimFinalAsync(jobId: string, clientId: string): Promise<KeptFinal | null> {
    const value = await this.redis.mgieClaimFinal(this.keys.final(jobId), this.keys.finalsOf(clientId), jobId);
    return value ? (JSON.parse(value) as KeptFinal) : null;
  }

  finalJobIdsOfAsync(clientId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.finalsOf(clientId));
  }

  jobIdsOfAsync(clientId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.clientJobs(clientId));
  }

  /** Waiting job ids in start order. */
  waitingJobIdsAsync(limit: number): Promise<string[]> {
    return this.redis.zrange(this.keys.waiting, 0, limit - 1);
  }

  async positionOfAsync(jobId: string): Promise<number | null> {
    const rank = await this.redis.zrank(this.keys.waiting, jobId);
    return rank === null ? null : rank + 1;
  }

  waitingCountAsync(): Promise<number> {
    return this.redis.zcard(this.keys.waiting);
  }

  async publishAsync(event: object): Promise<void> {
    await this.redis.publish(this.keys.events, JSON.stringify(event));
  }

  async registerWorkerAsync(registration: WorkerRegistration): Promise<void> {
    await this.redis.hset(this.keys.workers, registration.id, JSON.stringify(registration));
  }

  async unregisterWorkerAsync(id: string): Promise<void> {
    await this.redis.hdel(this.keys.workers, id);
  }

  /** Live workers (heartbeat within staleMs); stale registrations are removed. */
  async liveWorkersAsync(staleMs: number): Promise<WorkerRegistration[]> {
    const all = await this.redis.hgetall(this.keys.workers);
    const live: WorkerRegistration[] = [];
    const now = Date.now();
    for (const [id, json] of Object.entries(all)) {
      const registration = JSON.parse(json) as WorkerRegistration;
      if (now - registration.heartbeatAt <= staleMs) live.push(registration);
      else if (now - registration.heartbeatAt > 10 * staleMs) await this.redis.hdel(this.keys.workers, id);
    }
    return live.sort((a, b) => a.startedAt - b.startedAt);
  }
}
