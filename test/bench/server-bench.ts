// `npm run bench:server`: the companion server on the tiny bundle, with 50 WebSocket clients that
// each submit one 512 px edit at once. Prints throughput, queue wait, the server's overhead per job
// beyond the engine's own stage times, and peak RSS; asserts nothing, but exits non-zero when a job
// is lost or fails, or when the whole run passes its time limit.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { decodeBinaryFrame, encodeBinaryFrame, type ResultHeader, type ServerMessage, WEBSOCKET_PATH } from '../../companion-server/protocol/messages.ts';
import { buildApp } from '../../companion-server/server/build-app.ts';
import { inThisThread } from '../../companion-server/server/edit-engine.ts';
import { EngineThread } from '../../companion-server/server/engine-thread/engine-thread.ts';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../../companion-server/server/server-options.ts';
import { ensureGeneratedBundleAsync } from '../../models/tiny/ensure-generated-bundle.ts';
import { TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';

const CLIENTS = 50;
const EDIT_SIZE = 512;
const STEPS = 20;
const OVERALL_TIMEOUT_MS = 10 * 60_000;
const CONNECT_TIMEOUT_MS = 30_000;
const OVERHEAD_TARGET_MS = 20;
/** Edits one after another before the run, for the overhead of a job alone. */
const ALONE_EDITS = 10;
const INSTRUCTION = 'make it look like autumn';

/** What one client saw of its job, in performance.now() milliseconds. */
interface JobRecord {
  index: number;
  clientId: string;
  submittedAt?: number;
  acceptedAt?: number;
  startedAt?: number;
  resultAt?: number;
  jobId?: string;
  header?: ResultHeader;
  resultBytes?: number;
  error?: string;
}

const records: JobRecord[] = [];
const sockets = new Set<WebSocket>();
let runStartedAt: number | undefined;
let runEndedAt: number | undefined;
/** Main-thread CPU (clients, server and the first edit share it) from the first submit until every job is accepted: a figure that, unlike wall time, other processes on the machine hardly change. */
let burstCpuStart: NodeJS.CpuUsage | undefined;
let burstCpuMs: number | undefined;
let closeServerAsync: (() => Promise<void>) | undefined;
/** Set when the overall limit fires: the timeout handler reports and exits, nothing else does. */
let timedOut = false;

const ms = (v: number): string => `${v.toFixed(v < 100 ? 1 : 0)} ms`;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const mean = (values: number[]): number => (values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length);

function engineMs(header: ResultHeader): number {
  return Object.values(header.timings).reduce((s, v) => s + v, 0);
}

/** Client-seen queue wait: 'accepted' to 'started' (0 when the job started before 'accepted' arrived). */
function queueWaitMs(r: JobRecord): number {
  return Math.max(0, (r.startedAt ?? r.acceptedAt ?? 0) - (r.acceptedAt ?? 0));
}

function connectAsync(port: number, token: string, clientId: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // A zero masking key (ws's option for benchmarks) spares the client a masked copy of every frame it
    // sends, work that would otherwise count as the server's; the server unmasks as always.
    const socket = new WebSocket(`ws://127.0.0.1:${port}${WEBSOCKET_PATH}?clientId=${clientId}`, { headers: { Authorization: `Bearer ${token}` }, generateMask: (mask) => void mask.fill(0) });
    sockets.add(socket);
    const timer = setTimeout(() => reject(new Error(`client ${clientId}: no 'hello' within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`client ${clientId}: ${error.message}`));
    });
    socket.once('unexpected-response', (_request, response) => {
      clearTimeout(timer);
      reject(new Error(`client ${clientId}: HTTP ${response.statusCode} on upgrade`));
    });
    socket.once('message', (data, isBinary) => {
      clearTimeout(timer);
      const message = isBinary ? undefined : (JSON.parse(data.toString()) as ServerMessage);
      if (message?.type === 'hello') resolve(socket);
      else reject(new Error(`client ${clientId}: first message was not 'hello' (${isBinary ? 'binary' : message?.type})`));
    });
  });
}

/**
 * A client's submit frame, made before the clock starts: the clients share the server's thread, so
 * their own work (here a copy of the image per frame) would count as the server's.
 */
function submitFrame(record: JobRecord, image: Buffer, seed: number): Uint8Array {
  return encodeBinaryFrame({ type: 'submit', clientJobId: `job-${record.index}`, instruction: INSTRUCTION, parameters: { steps: STEPS, size: EDIT_SIZE, seed } }, image);
}

/** Submits one edit on an open socket and resolves when its result frame (or an error) arrives. */
function editAsync(socket: WebSocket, record: JobRecord, frame: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const clientJobId = `job-${record.index}`;
    const finish = (error?: string): void => {
      if (error && !record.error) record.error = error;
      socket.off('message', onMessage);
      socket.off('close', onClose);
      resolve();
    };
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      const now = performance.now();
      if (isBinary) {
        let frame;
        try {
          frame = decodeBinaryFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        } catch (error) {
          return finish(`undecodable binary frame: ${(error as Error).message}`);
        }
        const header = frame.header as ResultHeader | { type: string };
        if (header.type !== 'result') return; // previews are not asked for, but ignore them anyway
        const result = header as ResultHeader;
        if (result.clientJobId !== clientJobId) return finish(`result for another job (${result.clientJobId})`);
        record.resultAt = now;
        record.header = result;
        record.resultBytes = frame.payload.length;
        return finish();
      }
      const message = JSON.parse(data.toString()) as ServerMessage;
      switch (message.type) {
        case 'accepted':
          record.acceptedAt ??= now;
          if (burstCpuStart && burstCpuMs === undefined && records.every((r) => r.acceptedAt !== undefined)) {
            const used = process.threadCpuUsage(burstCpuStart);
            burstCpuMs = (used.user + used.system) / 1000;
          }
          record.jobId = message.jobId;
          break;
        case 'started':
          // One job per client, so any 'started' on this socket is ours (it can beat 'accepted').
          record.startedAt ??= now;
          break;
        case 'error':
          return finish(`${message.code}: ${message.message}`);
        case 'cancelled':
          return finish('cancelled by the server');
        case 'shutdown':
          return finish(`server shut down: ${message.message}`);
        default:
          break;
      }
    };
    const onClose = (code: number, reason: Buffer): void => finish(`socket closed before the result (${code} ${reason.toString()})`);
    socket.on('message', onMessage);
    socket.on('close', onClose);
    record.submittedAt = performance.now();
    socket.send(frame, { binary: true }, (error) => {
      if (error) finish(`send failed: ${error.message}`);
    });
  });
}

function report(partial: boolean): boolean {
  const wallMs = (runEndedAt ?? performance.now()) - (runStartedAt ?? performance.now());
  const done = records.filter((r) => r.header && !r.error);
  const failed = records.filter((r) => r.error);
  const lost = records.filter((r) => !r.header && !r.error);
  const waits = done.map(queueWaitMs);
  const engines = done.map((r) => engineMs(r.header!));
  const overheads = done.map((r) => r.resultAt! - r.submittedAt! - queueWaitMs(r) - engineMs(r.header!));
  const toAccepted = done.map((r) => r.acceptedAt! - r.submittedAt!);
  const startedToResult = done.map((r) => r.resultAt! - (r.startedAt ?? r.acceptedAt!) - engineMs(r.header!));
  const peakRssMB = process.resourceUsage().maxRSS / 1024;

  console.log(`\n${CLIENTS} WebSocket clients, one ${EDIT_SIZE} px edit each (${STEPS} steps)${partial ? ' -- PARTIAL, the run did not finish' : ''}`);
  console.log(`  completed ${done.length}/${CLIENTS}, failed ${failed.length}, ${partial ? 'unfinished' : 'lost'} ${lost.length}; wall ${ms(wallMs)}, ${((done.length / wallMs) * 60_000).toFixed(1)} edits/min`);
  for (const r of failed.slice(0, 10)) console.log(`    client ${r.index}: ${r.error}`);
  if (failed.length > 10) console.log(`    ... and ${failed.length - 10} more`);
  if (lost.length > 0) console.log(`    ${partial ? 'unfinished' : 'lost'}: clients ${lost.map((r) => `${r.index}${r.acceptedAt ? '' : ' (never accepted)'}`).join(', ')}`);
  if (done.length > 0) {
    console.log(`  queue wait (accepted -> started): p50 ${ms(percentile(waits, 50))}, p99 ${ms(percentile(waits, 99))}, max ${ms(Math.max(...waits))}`);
    console.log(`  engine per job (sum of result timings): p50 ${ms(percentile(engines, 50))}, p99 ${ms(percentile(engines, 99))}`);
    console.log(
      `  server overhead per job (submit -> result, less queue wait and engine): p50 ${ms(percentile(overheads, 50))}, p99 ${ms(percentile(overheads, 99))}, mean ${ms(mean(overheads))} (target < ${OVERHEAD_TARGET_MS} ms)`,
    );
    console.log(`    of which submit -> accepted: p50 ${ms(percentile(toAccepted, 50))}, p99 ${ms(percentile(toAccepted, 99))}; started -> result less engine: p50 ${ms(percentile(startedToResult, 50))}, p99 ${ms(percentile(startedToResult, 99))}`);
    const acceptedOffsets = done.map((r) => r.acceptedAt! - runStartedAt!);
    const submitOffsets = done.map((r) => r.submittedAt! - runStartedAt!);
    if (burstCpuMs !== undefined) console.log(`    main-thread CPU from the first submit until all ${CLIENTS} were accepted: ${ms(burstCpuMs)} (${ms(burstCpuMs / CLIENTS)} per job)`);
    console.log(`    submits sent +${ms(Math.min(...submitOffsets))} to +${ms(Math.max(...submitOffsets))}, 'accepted' arrived +${ms(Math.min(...acceptedOffsets))} to +${ms(Math.max(...acceptedOffsets))} (clients and server share this process)`);
    console.log(`  result PNG ${done[0].header!.width}x${done[0].header!.height}, ${(done[0].resultBytes! / 1024).toFixed(0)} KB`);
  }
  console.log(`  peak RSS ${peakRssMB.toFixed(0)} MB`);
  return !partial && done.length === CLIENTS;
}

function closeClients(): void {
  for (const socket of sockets) socket.terminate();
  sockets.clear();
}

async function mainAsync(): Promise<boolean> {
  const { directory } = await ensureGeneratedBundleAsync(TINY_BUNDLE_CONFIG);
  // As `mgie serve` runs it: the models in their own thread; --in-thread for the engine in the server's thread.
  const inThread = process.argv.includes('--in-thread');
  const engine = inThread ? inThisThread(await MgiePipeline.loadAsync(directory)) : await EngineThread.startAsync(directory);
  const image = await samplePhotoAsync(EDIT_SIZE, EDIT_SIZE);
  const token = randomBytes(16).toString('hex'); // 32 characters
  const options: ServerOptions = {
    ...DEFAULT_SERVER_OPTIONS,
    token,
    host: '127.0.0.1',
    port: 0,
    maxQueuedPerClient: CLIENTS,
    // every simulated designer uses the single token, so they are one user: let all of them connect
    maxConnectionsPerUser: CLIENTS + 1,
    maxQueuedTotal: Math.max(100, 2 * CLIENTS),
    rateLimit: { capacity: 100, refillPerSecond: 100 },
  };
  const server = buildApp(options);
  closeServerAsync = () => server.closeAsync();
  server.attachEngine(engine);
  await server.app.listen({ host: options.host, port: options.port });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error(`unexpected listen address ${String(address)}`);
  const port = address.port;
  console.log(`\n${engine.model.name} on ws://127.0.0.1:${port}${WEBSOCKET_PATH}, engine ${inThread ? 'in the server thread (--in-thread)' : 'in its own thread'}; loaded in ${ms(engine.loadMilliseconds)}`);

  // warm-up: one edit through the whole stack
  const warmRecord: JobRecord = { index: -1, clientId: `warmup-${randomBytes(4).toString('hex')}` };
  const warmSocket = await connectAsync(port, token, warmRecord.clientId);
  await editAsync(warmSocket, warmRecord, submitFrame(warmRecord, image, 12345));
  warmSocket.close();
  sockets.delete(warmSocket);
  if (warmRecord.error || !warmRecord.header) throw new Error(`warm-up edit failed: ${warmRecord.error ?? 'no result'}`);
  const warmTotal = warmRecord.resultAt! - warmRecord.submittedAt!;
  console.log(`  warm-up edit, alone: ${ms(warmTotal)} end to end, engine ${ms(engineMs(warmRecord.header))}, overhead ${ms(warmTotal - queueWaitMs(warmRecord) - engineMs(warmRecord.header))} (${Object.entries(warmRecord.header.timings).map(([s, v]) => `${s} ${v}`).join(', ')})`);

  // one client's edits one after another: the overhead of a job with nothing else going on
  const aloneOverheads: number[] = [];
  const aloneSocket = await connectAsync(port, token, `alone-${randomBytes(4).toString('hex')}`);
  for (let i = 0; i < ALONE_EDITS; i++) {
    const record: JobRecord = { index: -2 - i, clientId: 'alone' };
    await editAsync(aloneSocket, record, submitFrame(record, image, 1000 + i));
    if (record.error || !record.header) throw new Error(`edit alone failed: ${record.error ?? 'no result'}`);
    aloneOverheads.push(record.resultAt! - record.submittedAt! - queueWaitMs(record) - engineMs(record.header));
  }
  aloneSocket.close();
  sockets.delete(aloneSocket);
  console.log(`  ${ALONE_EDITS} edits one after another: server overhead p50 ${ms(percentile(aloneOverheads, 50))}, min ${ms(Math.min(...aloneOverheads))}, max ${ms(Math.max(...aloneOverheads))}`);

  // the run: connect everyone first, then submit all at once
  for (let i = 0; i < CLIENTS; i++) records.push({ index: i, clientId: `bench-${String(i).padStart(3, '0')}-${randomBytes(4).toString('hex')}` });
  const connected = await Promise.all(records.map((r) => connectAsync(port, token, r.clientId)));
  const frames = records.map((r, i) => submitFrame(r, image, i));
  runStartedAt = performance.now();
  burstCpuStart = process.threadCpuUsage();
  await Promise.all(records.map((r, i) => editAsync(connected[i], r, frames[i])));
  runEndedAt = performance.now();
  if (timedOut) return false;

  const ok = report(false);
  closeClients();
  await server.closeAsync();
  return ok;
}

const overall = setTimeout(() => {
  timedOut = true;
  process.exitCode = 1;
  console.log(`\nThe benchmark passed its ${(OVERALL_TIMEOUT_MS / 1000).toFixed(0)} s limit; what it has so far:`);
  if (records.length > 0) report(true);
  closeClients();
  const closing = closeServerAsync?.().catch(() => undefined) ?? Promise.resolve();
  // give the server a few seconds to close, then leave regardless
  Promise.race([closing, new Promise((r) => setTimeout(r, 5_000).unref())]).finally(() => process.exit(1));
}, OVERALL_TIMEOUT_MS);
overall.unref();

try {
  const ok = await mainAsync();
  if (!timedOut) {
    clearTimeout(overall);
    process.exitCode = ok ? 0 : 1;
  }
} catch (error) {
  // after the limit the timeout handler has reported, and it exits
  if (!timedOut) await failAsync(error);
}

async function failAsync(error: unknown): Promise<void> {
  clearTimeout(overall);
  console.error(`\nserver bench failed: ${(error as Error).stack ?? error}`);
  if (records.length > 0) report(true);
  closeClients();
  await closeServerAsync?.().catch(() => undefined);
  process.exitCode = 1;
}
