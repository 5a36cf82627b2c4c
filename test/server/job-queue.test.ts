// The fair job queue with real async runs that each test finishes, fails or leaves hanging by hand.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { cancelledError, isMgieError, MgieError } from '../../companion-server/engine/errors.ts';
import { JobQueue, type JobQueueOptions, type QueueEvent } from '../../companion-server/server/job-queue.ts';

interface Run {
  signal: AbortSignal;
  finish: () => void;
  fail: (error: unknown) => void;
}

/** A queue whose jobs (named by their input) run until the test finishes them, and honour the abort
 *  signal the way the engine does: by rejecting with MGIE_ERR_CANCELLED. */
function makeQueue(t: TestContext, options: Partial<JobQueueOptions<string, string>> = {}) {
  const events: QueueEvent<string>[] = [];
  const runs = new Map<string, Run>();
  const startOrder: string[] = [];
  const queue = new JobQueue<string, string>({
    run: (input, { signal }) =>
      new Promise<string>((resolve, reject) => {
        startOrder.push(input);
        runs.set(input, { signal, finish: () => resolve(`edited ${input}`), fail: reject });
        signal.addEventListener('abort', () => reject(cancelledError(signal)), { once: true });
      }),
    onEvent: (event) => events.push(event),
    ...options,
  });
  t.after(() => queue.closeAsync({ graceMs: 0 }));
  const ids = new Map<string, string>();
  const submit = (clientId: string, input: string) => {
    const submitted = queue.submit(clientId, input);
    ids.set(input, submitted.jobId);
    return submitted;
  };
  /** Finishes a running job and waits until the queue has seen it. */
  const finishAsync = async (input: string) => {
    runs.get(input)!.finish();
    await settleAsync();
  };
  const eventsOf = (input: string) => events.filter((event) => event.jobId === ids.get(input)).map(describe);
  return { queue, events, runs, startOrder, ids, submit, finishAsync, eventsOf };
}

function describe(event: QueueEvent<string>): string {
  switch (event.type) {
    case 'queued':
    case 'position':
      return `${event.type} ${event.position}`;
    case 'cancelled':
      return `cancelled${event.wasRunning ? ' running' : ''}`;
    case 'failed':
      return `failed ${event.error.code}`;
    default:
      return event.type;
  }
}

const settleAsync = () => new Promise((resolve) => setImmediate(resolve));

function assertMgieError(code: MgieError['code'], pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(isMgieError(error, code), `expected ${code}, got ${String(error)}`);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

test('jobs of different clients interleave round-robin, FIFO within a client', async (t) => {
  const q = makeQueue(t);
  for (const input of ['a1', 'a2', 'a3', 'a4', 'a5']) q.submit('A', input);
  for (const input of ['b1', 'b2']) q.submit('B', input);
  q.submit('C', 'c1');
  // A had its turn with a1, so B and C (never served) go first, then one job each per round.
  for (const input of ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4', 'a5']) await q.finishAsync(input);
  assert.deepEqual(q.startOrder, ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4', 'a5']);
  assert.equal(q.events.filter((event) => event.type === 'succeeded').length, 8);
  assert.deepEqual([q.queue.waiting, q.queue.running], [0, 0]);
});

test('a newcomer\'s first job is next: a client that queued many does not get a second turn first', async (t) => {
  const q = makeQueue(t);
  for (let i = 1; i <= 10; i++) q.submit('A', `a${i}`);
  assert.equal(q.submit('B', 'b1').position, 1);
  await q.finishAsync('a1');
  assert.deepEqual(q.startOrder, ['a1', 'b1']);
  // 'a2' waited behind b1 only: A's queue re-enters the rotation after the newcomer, not ahead of it.
  await q.finishAsync('b1');
  assert.deepEqual(q.startOrder, ['a1', 'b1', 'a2']);
});

test('turns go to the client served least recently, also after a client comes back', async (t) => {
  const q = makeQueue(t);
  q.submit('A', 'a1'); // runs
  q.submit('B', 'b1');
  q.submit('A', 'a2');
  q.submit('C', 'c1');
  await q.finishAsync('a1'); // b1: B never served
  await q.finishAsync('b1'); // c1: never served, ahead of A (served)
  q.submit('B', 'b2'); // B was served after A: A goes first
  await q.finishAsync('c1');
  await q.finishAsync('a2');
  await q.finishAsync('b2');
  assert.deepEqual(q.startOrder, ['a1', 'b1', 'c1', 'a2', 'b2']);
});

test('positions are reported on submit and updated as jobs start', async (t) => {
  let clock = 1000;
  const q = makeQueue(t, { now: () => clock });
  // 1. a1 starts at once; the others wait in round-robin order b1, a2, a3 (A has had its turn).
  assert.equal(q.submit('A', 'a1').position, 0);
  assert.equal(q.submit('A', 'a2').position, 1);
  assert.equal(q.submit('A', 'a3').position, 2);
  assert.equal(q.submit('B', 'b1').position, 1); // ahead of a2 and a3, which move to 2 and 3
  assert.deepEqual(q.queue.jobsOf('A'), [
    { jobId: q.ids.get('a1'), state: 'running', position: 0 },
    { jobId: q.ids.get('a2'), state: 'queued', position: 2 },
    { jobId: q.ids.get('a3'), state: 'queued', position: 3 },
  ]);
  assert.equal(q.queue.positionOf(q.ids.get('b1')!), 1);
  assert.equal(q.queue.ownerOf(q.ids.get('b1')!), 'B');
  // 2. a1 ends after 250 ms: b1 starts, a2 moves to 1, a3 to 2.
  clock += 250;
  await q.finishAsync('a1');
  assert.deepEqual(q.eventsOf('a1'), ['queued 0', 'started', 'succeeded']);
  const succeeded = q.events.find((event) => event.type === 'succeeded');
  assert.deepEqual(succeeded, { type: 'succeeded', jobId: q.ids.get('a1'), clientId: 'A', result: 'edited a1', waitMs: 0, runMs: 250 });
  assert.deepEqual(q.eventsOf('b1'), ['queued 1', 'started']);
  assert.deepEqual(q.eventsOf('a2'), ['queued 1', 'position 2', 'position 1']);
  assert.deepEqual(q.eventsOf('a3'), ['queued 2', 'position 3', 'position 2']);
  const started = q.events.find((event) => event.type === 'started' && event.jobId === q.ids.get('b1'));
  assert.deepEqual(started, { type: 'started', jobId: q.ids.get('b1'), clientId: 'B', waitMs: 250 });
  // 3. Finished jobs are forgotten.
  assert.equal(q.queue.positionOf(q.ids.get('a1')!), undefined);
  assert.equal(q.queue.ownerOf(q.ids.get('a1')!), undefined);
  await q.finishAsync('b1');
  await q.finishAsync('a2');
  await q.finishAsync('a3');
});

test('with concurrency 2 two jobs run at once and never more', async (t) => {
  let maxRunning = 0;
  const q = makeQueue(t, {
    concurrency: 2,
    onEvent: () => {
      maxRunning = Math.max(maxRunning, q.queue.running);
    },
  });
  q.submit('A', 'a1');
  q.submit('A', 'a2');
  q.submit('B', 'b1');
  q.submit('B', 'b2');
  assert.deepEqual([q.queue.running, q.queue.waiting], [2, 2]);
  assert.deepEqual(q.startOrder, ['a1', 'a2']);
  assert.deepEqual([q.queue.positionOf(q.ids.get('b1')!), q.queue.positionOf(q.ids.get('b2')!)], [1, 2]);
  await q.finishAsync('a2');
  assert.deepEqual(q.startOrder, ['a1', 'a2', 'b1']);
  await q.finishAsync('a1');
  assert.deepEqual(q.startOrder, ['a1', 'a2', 'b1', 'b2']);
  assert.deepEqual([q.queue.running, q.queue.waiting], [2, 0]);
  await q.finishAsync('b1');
  await q.finishAsync('b2');
  assert.equal(maxRunning, 2);
});

test('the per-client and global limits on waiting jobs answer MGIE_ERR_BUSY', async (t) => {
  const q = makeQueue(t, { maxQueuedPerClient: 2, maxQueuedTotal: 3 });
  q.submit('A', 'a1'); // runs, so does not count
  q.submit('A', 'a2');
  q.submit('A', 'a3');
  assert.throws(() => q.submit('A', 'a4'), assertMgieError('MGIE_ERR_BUSY', /2 jobs waiting.*maxQueuedPerClient.*cancel/));
  q.submit('B', 'b1');
  assert.throws(() => q.submit('C', 'c1'), assertMgieError('MGIE_ERR_BUSY', /3 jobs waiting.*maxQueuedTotal.*Try again/));
  assert.equal(new MgieError('MGIE_ERR_BUSY', '').statusCode, 503);
  // Room again once a job starts.
  await q.finishAsync('a1');
  q.submit('C', 'c1');
  assert.equal(q.queue.waiting, 3);
});

test('cancelling a queued job removes it and moves the others up', async (t) => {
  const q = makeQueue(t);
  q.submit('A', 'a1');
  q.submit('A', 'a2');
  q.submit('A', 'a3');
  q.queue.cancel('A', q.ids.get('a2')!);
  assert.deepEqual(q.eventsOf('a2'), ['queued 1', 'cancelled']);
  assert.deepEqual(q.eventsOf('a3'), ['queued 2', 'position 1']);
  assert.equal(q.queue.waiting, 1);
  await q.finishAsync('a1');
  await q.finishAsync('a3');
  assert.deepEqual(q.startOrder, ['a1', 'a3']);
});

test('cancelling a running job aborts its signal, reports cancelled (not failed), and the next job starts', async (t) => {
  const q = makeQueue(t);
  q.submit('A', 'a1');
  q.submit('B', 'b1');
  q.queue.cancel('A', q.ids.get('a1')!);
  assert.equal(q.runs.get('a1')!.signal.aborted, true);
  await settleAsync();
  assert.deepEqual(q.eventsOf('a1'), ['queued 0', 'started', 'cancelled running']);
  assert.deepEqual(q.eventsOf('b1'), ['queued 1', 'started']);
  assert.deepEqual(q.startOrder, ['a1', 'b1']);
  await q.finishAsync('b1');
});

test('another client cannot cancel a job, and the job still completes', async (t) => {
  const q = makeQueue(t);
  q.submit('A', 'a1');
  q.submit('A', 'a2');
  assert.throws(() => q.queue.cancel('B', q.ids.get('a1')!), assertMgieError('MGIE_ERR_FORBIDDEN', /only its owner/));
  assert.throws(() => q.queue.cancel('B', q.ids.get('a2')!), assertMgieError('MGIE_ERR_FORBIDDEN'));
  assert.equal(q.runs.get('a1')!.signal.aborted, false);
  await q.finishAsync('a1');
  await q.finishAsync('a2');
  assert.deepEqual(q.eventsOf('a1'), ['queued 0', 'started', 'succeeded']);
  assert.deepEqual(q.eventsOf('a2'), ['queued 1', 'started', 'succeeded']);
});

test('cancelling an unknown or finished job answers MGIE_ERR_NOT_FOUND', async (t) => {
  const q = makeQueue(t);
  assert.throws(() => q.queue.cancel('A', 'no-such-job'), assertMgieError('MGIE_ERR_NOT_FOUND'));
  q.submit('A', 'a1');
  await q.finishAsync('a1');
  assert.throws(() => q.queue.cancel('A', q.ids.get('a1')!), assertMgieError('MGIE_ERR_NOT_FOUND', /finished/));
});

test('a job over its time limit is aborted, fails with MGIE_ERR_TIMEOUT, and the next job runs', async (t) => {
  const q = makeQueue(t, { jobTimeoutMs: 100 });
  q.submit('A', 'slow');
  q.submit('B', 'next');
  // Poll rather than sleep a fixed time: on a loaded machine the next job could time out too.
  while (!q.events.some((event) => event.type === 'failed')) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.equal(q.runs.get('slow')!.signal.aborted, true);
  const failed = q.events.find((event) => event.type === 'failed');
  assert.ok(failed?.type === 'failed');
  assert.equal(failed.jobId, q.ids.get('slow'));
  assert.equal(failed.error.code, 'MGIE_ERR_TIMEOUT');
  assert.equal(failed.error.statusCode, 504);
  assert.match(failed.error.message, /100 ms/);
  assert.ok(failed.runMs >= 95, `runMs ${failed.runMs}`);
  assert.deepEqual(q.eventsOf('next'), ['queued 1', 'started']);
  await q.finishAsync('next');
  assert.deepEqual(q.eventsOf('next'), ['queued 1', 'started', 'succeeded']);
});

test('a run that throws fails only its own job, wrapped as MGIE_ERR_RUNTIME', async () => {
  const kaput = new Error('kaput');
  const events: QueueEvent<string>[] = [];
  const queue = new JobQueue<string, string>({
    run: async (input) => {
      if (input === 'sync') throw kaput; // an async function: throws become rejections
      return `ok ${input}`;
    },
    onEvent: (event) => events.push(event),
  });
  const syncThrow = new JobQueue<string, string>({
    run: () => {
      throw new MgieError('MGIE_ERR_BAD_IMAGE', 'not an image');
    },
    onEvent: (event) => events.push(event),
  });
  const first = queue.submit('A', 'sync');
  const second = queue.submit('A', 'fine');
  const third = syncThrow.submit('A', 'x');
  await settleAsync();
  const failed = events.find((event) => event.jobId === first.jobId && event.type === 'failed');
  assert.ok(failed?.type === 'failed');
  assert.equal(failed.error.code, 'MGIE_ERR_RUNTIME');
  assert.match(failed.error.message, /kaput/);
  assert.equal(failed.error.cause, kaput);
  assert.ok(events.some((event) => event.jobId === second.jobId && event.type === 'succeeded'));
  const badImage = events.find((event) => event.jobId === third.jobId && event.type === 'failed');
  assert.ok(badImage?.type === 'failed' && badImage.error.code === 'MGIE_ERR_BAD_IMAGE'); // MgieErrors pass as they are
  await Promise.all([queue.closeAsync({ graceMs: 0 }), syncThrow.closeAsync({ graceMs: 0 })]);
});

test('an onEvent that throws does not break the queue', async (t) => {
  const logged = t.mock.method(console, 'error', () => {});
  const seen: string[] = [];
  const q = makeQueue(t, {
    onEvent: (event) => {
      seen.push(event.type);
      throw new Error('listener bug');
    },
  });
  q.submit('A', 'a1');
  q.submit('A', 'a2');
  await q.finishAsync('a1');
  await q.finishAsync('a2');
  assert.deepEqual(seen, ['queued', 'started', 'queued', 'succeeded', 'started', 'succeeded']);
  assert.equal(logged.mock.callCount(), 6);
});

test('an onEvent handler may call back into the queue and sees it consistent', async (t) => {
  const q = makeQueue(t, {
    onEvent: (event) => {
      q.events.push(event);
      // Cancel a2 as soon as b1 starts: a2 must never start, and no event follows its 'cancelled'.
      if (event.type === 'started' && event.jobId === q.ids.get('b1')) q.queue.cancel('A', q.ids.get('a2')!);
    },
  });
  q.submit('A', 'a1');
  q.submit('A', 'a2');
  q.submit('A', 'a3');
  q.submit('B', 'b1');
  await q.finishAsync('a1');
  // a2's 'position 1' and a3's 'position 2', stale by the time they are delivered, are dropped.
  assert.deepEqual(q.eventsOf('a2'), ['queued 1', 'position 2', 'cancelled']);
  assert.deepEqual(q.eventsOf('a3'), ['queued 2', 'position 3', 'position 1']);
  await q.finishAsync('b1');
  await q.finishAsync('a3');
  assert.deepEqual(q.startOrder, ['a1', 'b1', 'a3']);
});

test('closeAsync cancels waiting jobs and lets a running job finish within the grace period', async (t) => {
  const q = makeQueue(t);
  q.submit('A', 'a1');
  q.submit('B', 'b1');
  let closed = false;
  const closing = q.queue.closeAsync({ graceMs: 5000 }).then(() => (closed = true));
  assert.deepEqual(q.eventsOf('b1'), ['queued 1', 'cancelled']);
  assert.throws(() => q.submit('C', 'c1'), assertMgieError('MGIE_ERR_SHUTTING_DOWN', /shutting down/));
  await settleAsync();
  assert.equal(closed, false);
  await q.finishAsync('a1');
  await closing;
  assert.equal(q.runs.get('a1')!.signal.aborted, false);
  assert.deepEqual(q.eventsOf('a1'), ['queued 0', 'started', 'succeeded']);
  assert.deepEqual([q.queue.running, q.queue.waiting], [0, 0]);
});

test('closeAsync aborts a running job after the grace period', async (t) => {
  const q = makeQueue(t);
  q.submit('A', 'a1');
  await q.queue.closeAsync({ graceMs: 20 });
  assert.equal(q.runs.get('a1')!.signal.aborted, true);
  assert.deepEqual(q.eventsOf('a1'), ['queued 0', 'started', 'failed MGIE_ERR_SHUTTING_DOWN']);
  assert.equal(q.queue.running, 0);
  assert.throws(() => q.submit('A', 'a2'), assertMgieError('MGIE_ERR_SHUTTING_DOWN'));
});

test('invalid options fail at construction', () => {
  assert.throws(() => new JobQueue({ run: async () => 1, concurrency: 0 }), assertMgieError('MGIE_ERR_BAD_PARAMETER', /concurrency/));
});
