// Edges of the job queue that job-queue.test.ts leaves open: the reasons a run's signal is aborted
// with, the time limit as the error says it, closeAsync with several running jobs and no timer left
// behind, and the order in which events raised from inside a handler are delivered.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { cancelledError, isMgieError, type MgieError } from '../../companion-server/engine/errors.ts';
import { JobQueue, type JobQueueOptions, type QueueEvent } from '../../companion-server/server/job-queue.ts';

/** A queue whose runs wait until the test finishes them, or reject when their signal aborts. */
function makeQueue(options: Partial<JobQueueOptions<string, string>> = {}) {
  const events: QueueEvent<string>[] = [];
  const signals = new Map<string, AbortSignal>();
  const finishers = new Map<string, () => void>();
  const queue = new JobQueue<string, string>({
    run: (input, { signal }) =>
      new Promise<string>((resolve, reject) => {
        signals.set(input, signal);
        finishers.set(input, () => resolve(`edited ${input}`));
        signal.addEventListener('abort', () => reject(cancelledError(signal)), { once: true });
      }),
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { queue, events, signals, finishers };
}

const settleAsync = () => new Promise((resolve) => setImmediate(resolve));

function timeoutsPending(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

test('cancelling a running job aborts its signal with MGIE_ERR_CANCELLED, "cancelled by its owner"', async () => {
  const q = makeQueue();
  const { jobId } = q.queue.submit('A', 'a1');
  q.queue.cancel('A', jobId);
  const reason = q.signals.get('a1')!.reason as MgieError;
  assert.ok(isMgieError(reason, 'MGIE_ERR_CANCELLED'));
  assert.equal(reason.message, 'The job was cancelled by its owner.');
  await settleAsync();
  await q.queue.closeAsync({ graceMs: 0 });
});

test('a job aborted at shutdown fails with MGIE_ERR_SHUTTING_DOWN saying to try again', async () => {
  const q = makeQueue();
  q.queue.submit('A', 'a1');
  await q.queue.closeAsync({ graceMs: 1 });
  const failed = q.events.find((event) => event.type === 'failed');
  assert.ok(failed?.type === 'failed');
  assert.equal(failed.error.code, 'MGIE_ERR_SHUTTING_DOWN');
  assert.equal(failed.error.message, 'The server shut down before the job finished; try again once it is back.');
  assert.equal(q.signals.get('a1')!.reason, failed.error);
});

test('closeAsync waits for every running job, not just the first to finish', async () => {
  const q = makeQueue({ concurrency: 2 });
  q.queue.submit('A', 'a1');
  q.queue.submit('B', 'b1');
  let closed = false;
  const closing = q.queue.closeAsync({ graceMs: 60_000 }).then(() => (closed = true));
  q.finishers.get('a1')!();
  await settleAsync();
  await settleAsync();
  assert.equal(closed, false, 'b1 still runs');
  assert.equal(q.queue.running, 1);
  q.finishers.get('b1')!();
  await closing;
  assert.equal(q.queue.running, 0);
});

test('closeAsync leaves no timer behind once the running jobs finish within the grace period', async () => {
  const q = makeQueue();
  const before = timeoutsPending();
  q.queue.submit('A', 'a1'); // the job's time limit is a timer too
  const closing = q.queue.closeAsync({ graceMs: 60_000 });
  assert.equal(timeoutsPending(), before + 2);
  q.finishers.get('a1')!();
  await closing;
  assert.equal(timeoutsPending(), before);
  assert.equal(q.signals.get('a1')!.aborted, false, 'finished in time: never aborted');
});

test('closing twice is harmless: the second call resolves once nothing runs', async () => {
  const q = makeQueue();
  q.queue.submit('A', 'a1');
  q.queue.submit('A', 'a2');
  const first = q.queue.closeAsync({ graceMs: 60_000 });
  const second = q.queue.closeAsync({ graceMs: 60_000 });
  q.finishers.get('a1')!();
  await Promise.all([first, second]);
  assert.deepEqual(
    q.events.map((event) => event.type),
    ['queued', 'started', 'queued', 'cancelled', 'succeeded'],
  );
});

test('the time limit in the error: milliseconds under a second, seconds under two minutes, then minutes', async (t: TestContext) => {
  const cases: Array<[number, string]> = [
    [999, '999 ms'],
    [1000, '1 s'],
    [1499, '1 s'],
    [90_000, '90 s'],
    [119_999, '120 s'],
    [120_000, '2 min'],
    [150_000, '3 min'],
  ];
  t.mock.timers.enable({ apis: ['setTimeout'] });
  for (const [jobTimeoutMs, said] of cases) {
    const q = makeQueue({ jobTimeoutMs });
    q.queue.submit('A', 'a1');
    t.mock.timers.tick(jobTimeoutMs);
    await settleAsync();
    const failed = q.events.find((event) => event.type === 'failed');
    assert.ok(failed?.type === 'failed', `${jobTimeoutMs} ms: failed`);
    assert.equal(failed.error.code, 'MGIE_ERR_TIMEOUT');
    assert.equal(failed.error.message, `The job ran longer than ${said}, this server's limit per job, and was stopped.`);
  }
});

test('events raised from inside a handler are delivered after that handler returns, in order', async () => {
  const log: string[] = [];
  let queue!: JobQueue<string, string>;
  queue = new JobQueue<string, string>({
    run: (_input, { signal }) => new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    onEvent: (event) => {
      log.push(`${event.type} ${event.clientId}`);
      if (event.type === 'started' && event.clientId === 'A') queue.submit('B', 'b1');
      log.push(`done ${event.type} ${event.clientId}`);
    },
  });
  queue.submit('A', 'a1');
  assert.deepEqual(log, ['queued A', 'done queued A', 'started A', 'done started A', 'queued B', 'done queued B']);
  await queue.closeAsync({ graceMs: 0 });
});

test('a queue without onEvent runs jobs and logs nothing; a throwing handler is logged with the event type', async (t: TestContext) => {
  const errors = t.mock.method(console, 'error', () => {});
  const silent = new JobQueue<string, string>({ run: async (input) => `ok ${input}` });
  silent.submit('A', 'a1');
  await settleAsync();
  assert.equal(silent.running, 0);
  assert.equal(errors.mock.callCount(), 0);

  const boom = new Error('handler bug');
  const noisy = new JobQueue<string, string>({
    run: async (input) => `ok ${input}`,
    onEvent: (event) => {
      if (event.type === 'queued') throw boom;
    },
  });
  noisy.submit('A', 'a1');
  await settleAsync();
  assert.equal(errors.mock.callCount(), 1);
  assert.deepEqual(errors.mock.calls[0].arguments, ["JobQueue: the onEvent handler threw on a 'queued' event; the queue goes on.", boom]);
});
