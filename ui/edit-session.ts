// The UI's state and everything that changes it: the connection to the companion server, the messages
// from the plugin's main thread, and the edits in flight and done. Components only read the state and
// call the actions; the state changes only here, and each change notifies the subscriber.
import { emit, on } from '@create-figma-plugin/utilities';
import type { ResultHeader, ServerBinaryHeader, ServerMessage, WireEditParameters } from '../companion-server/protocol/messages.ts';
import { stripLikePython } from '../companion-server/protocol/strip-like-python.ts';
import type {
  ExportedImage,
  ExportedImagesHandler,
  ExportFailedHandler,
  ExportNodeHandler,
  ExportSelectionHandler,
  PlaceResultHandler,
  Placement,
  PluginSettings,
  Provenance,
  ProvenanceOfSelectionHandler,
  RequestSelectionHandler,
  ResultNotPlacedHandler,
  ResizeWindowHandler,
  ResultPlacedHandler,
  SaveSettingsHandler,
  SelectionChangedHandler,
  SelectionDescription,
  SelectNodeHandler,
  WindowSize,
} from '../plugin/types.ts';
import { MAX_IMAGE_SIDE, MAX_RECENT_INSTRUCTIONS } from '../plugin/types.ts';
import { MAX_WIRE_CHAIN_STEPS, MAX_WIRE_VARIATIONS } from '../companion-server/protocol/messages.ts';
import { CompanionConnection, type ConnectionStatus } from './connection/companion-connection.ts';
import { type ProbeResult, probeServerAsync } from './connection/probe-server-async.ts';
import { parseServerAddress, type ServerAddress } from './connection/server-address.ts';
import { clampToLimits } from './clamp-to-limits.ts';
import { adviseOnConnection, checkInstruction, describeServerError, type ProblemFix } from './describe-problem.ts';
import { chooseExportSide, fitImageAsync, resizeImageAsync } from './image/fit-image-async.ts';
import { applyServerMessage, attachResult, type EditJob, isActive, type JobResult, representativeResult, resultsToPlace } from './jobs/edit-job.ts';
import { provenanceOf } from './jobs/result-provenance.ts';
import type { PastTimings } from './jobs/estimate-progress.ts';
import { clampWindowSize } from './normalize-settings.ts';
import { toWireParameters } from './to-wire-parameters.ts';

export interface UiState {
  settings: PluginSettings;
  /** Undefined when the address in the settings cannot be used (see addressProblem). */
  address?: ServerAddress;
  addressProblem?: string;
  connection: ConnectionStatus;
  selection: SelectionDescription;
  selectedResult: { nodeId: string; provenance: Provenance } | null;
  /** Newest first; finished ones are the history (kept in memory only). */
  jobs: EditJob[];
  /** Main is exporting the layers for an edit. */
  exporting: boolean;
  /** The last problem that is not about one edit (nothing selected, export failed, not connected...). */
  notice?: string;
  /** The button that fixes what the notice says, when there is one. */
  noticeFix?: ProblemFix;
  pastTimings?: PastTimings;
}

/** What the designer asked for, kept while main exports the layers; each exported layer becomes a job of it. */
interface PendingEdit {
  instruction: string;
  parameters: WireEditParameters;
  /** "Run again with this": the designer's own expressive instruction. */
  expressiveInstruction?: string;
  /** 2..MAX_WIRE_VARIATIONS; absent for one result. */
  variations?: number;
  /** The further instructions after `instruction` ("Then…"). */
  chain?: string[];
}

/** Extras of a submit from the instruction field (protocol 2; the server refuses a chain with variations). */
export interface SubmitExtras {
  variations?: number;
  /** "Then…" lines: each edits the previous step's result. Empty lines are left out. */
  chain?: string[];
}

/**
 * When a notice stops applying and goes by itself: 'connect' (a connection problem), 'selection' (nothing
 * to edit was selected), 'instruction' (the instruction was empty: typing fixes it), 'dismiss' (only the
 * designer's ×, or the next notice).
 */
export type NoticeLifetime = 'connect' | 'selection' | 'instruction' | 'dismiss';

/** Finished jobs kept in the history; older ones are dropped with their images. */
export const MAX_HISTORY_JOBS = 40;

/** After a reconnect the server re-announces the jobs it still has; the others were lost with it. */
const RESUME_GRACE_MS = 3000;

export class EditSession {
  private stateValue: UiState;
  private connection: CompanionConnection | null = null;
  private readonly pendingExports = new Map<string, PendingEdit>();
  private noticeLifetime: NoticeLifetime = 'dismiss';
  private readonly listeners = new Set<() => void>();
  private seenSinceReconnect: Set<string> | null = null;
  private everConnected = false;

  constructor(settings: PluginSettings) {
    this.stateValue = {
      settings,
      connection: { state: 'connecting', attempt: 0 },
      selection: { items: [] },
      selectedResult: null,
      jobs: [],
      exporting: false,
    };
  }

  get state(): UiState {
    return this.stateValue;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(change: Partial<UiState> | ((state: UiState) => Partial<UiState>)): void {
    const partial = typeof change === 'function' ? change(this.stateValue) : change;
    this.stateValue = { ...this.stateValue, ...partial };
    for (const listener of this.listeners) listener();
  }

  private updateJob(clientJobId: string, change: Partial<EditJob>): void {
    this.update((state) => ({ jobs: state.jobs.map((job) => (job.clientJobId === clientJobId ? { ...job, ...change } : job)) }));
  }

  /** Registers the handlers for main's events (every one must have a handler) and connects. */
  start(): () => void {
    const offs = [
      on<SelectionChangedHandler>('SELECTION_CHANGED', (selection) => {
        // "Select a layer" no longer applies once something editable is selected.
        const clear = this.noticeLifetime === 'selection' && selection.items.length > 0;
        this.update((state) => ({ selection, ...(clear ? { notice: undefined, noticeFix: undefined } : {}) }));
        if (clear) this.noticeLifetime = 'dismiss';
      }),
      on<ProvenanceOfSelectionHandler>('PROVENANCE_OF_SELECTION', (selectedResult) => this.update({ selectedResult })),
      on<ExportedImagesHandler>('EXPORTED_IMAGES', ({ requestId, items }) => void this.submitExportedAsync(requestId, items)),
      on<ExportFailedHandler>('EXPORT_FAILED', ({ requestId, message }) => {
        this.pendingExports.delete(requestId);
        this.update({ exporting: this.pendingExports.size > 0 });
        this.showNotice(message, 'dismiss');
      }),
      on<ResultPlacedHandler>('RESULT_PLACED', ({ jobId, nodeId }) => this.onPlaced(jobId, { placedNodeId: nodeId })),
      on<ResultNotPlacedHandler>('RESULT_NOT_PLACED', ({ jobId, reason }) => this.onPlaced(jobId, { error: `Not placed: ${reason}`, placedNodeId: undefined })),
    ];
    emit<RequestSelectionHandler>('REQUEST_SELECTION');
    this.connect();
    return () => {
      for (const off of offs) off();
      this.connection?.stop();
    };
  }

  // ---- connection ---------------------------------------------------------------------------

  private connect(): void {
    this.connection?.stop();
    this.connection = null;
    const { serverUrl, token } = this.stateValue.settings;
    const parsed = parseServerAddress(serverUrl);
    if ('error' in parsed) {
      this.update({ address: undefined, addressProblem: parsed.error });
      return;
    }
    this.update({ address: parsed, addressProblem: undefined });
    if (token.trim() === '') return; // first run: the settings panel asks for it
    const connection = new CompanionConnection({
      address: parsed,
      token: token.trim(),
      onStatus: (status) => this.onStatus(status),
      onMessage: (message) => this.onServerMessage(message),
      onBinary: (header, payload) => this.onServerBinary(header, payload),
    });
    this.connection = connection;
    connection.start();
  }

  retryNow(): void {
    if (this.connection === null) this.connect();
    else this.connection.retryNow();
  }

  /** The settings panel's "Test connection", with the values typed so far (not yet saved). */
  async testConnectionAsync(serverUrl: string, token: string): Promise<ProbeResult | { kind: 'bad-address'; message: string }> {
    const parsed = parseServerAddress(serverUrl);
    if ('error' in parsed) return { kind: 'bad-address', message: parsed.error };
    return probeServerAsync(parsed, token.trim());
  }

  private onStatus(connection: ConnectionStatus): void {
    if (connection.state === 'connected') {
      if (this.everConnected) this.checkResumedJobs();
      this.everConnected = true;
    }
    const clear = connection.state === 'connected' && this.noticeLifetime === 'connect';
    if (clear) this.noticeLifetime = 'dismiss';
    this.update((state) => ({ connection, ...(clear ? { notice: undefined, noticeFix: undefined } : {}) }));
  }

  /** Jobs the server did not re-announce after a reconnect were lost (it restarted): say so. */
  private checkResumedJobs(): void {
    const seen = new Set<string>();
    this.seenSinceReconnect = seen;
    setTimeout(() => {
      if (this.seenSinceReconnect !== seen) return;
      this.seenSinceReconnect = null;
      for (const job of this.stateValue.jobs) {
        if (isActive(job) && job.jobId !== undefined && !seen.has(job.jobId)) {
          this.updateJob(job.clientJobId, { phase: 'failed', error: 'The server restarted and this edit was lost. Run it again.', finishedAt: Date.now() });
        }
      }
    }, RESUME_GRACE_MS);
  }

  private onServerMessage(message: ServerMessage): void {
    if ('jobId' in message && message.jobId !== undefined) this.seenSinceReconnect?.add(message.jobId);
    if (message.type === 'accepted') {
      const job = this.stateValue.jobs.find((candidate) => candidate.clientJobId === message.clientJobId);
      if (job?.cancelRequested) this.connection?.cancel(message.jobId);
    }
    if (message.type === 'shutdown') this.showNotice('The server is shutting down. Edits in progress will finish or be cancelled.', 'connect');
    this.update((state) => ({ jobs: applyServerMessage(state.jobs, message, Date.now(), describeServerError) }));
  }

  private onServerBinary(header: ServerBinaryHeader, payload: Uint8Array): void {
    this.seenSinceReconnect?.add(header.jobId);
    const job = this.stateValue.jobs.find((candidate) => candidate.jobId === header.jobId || (header.type === 'result' && candidate.clientJobId === header.clientJobId));
    if (job === undefined) return;
    if (header.type === 'preview') {
      if (job.phase !== 'running') return;
      if (job.preview) URL.revokeObjectURL(job.preview.url);
      const url = URL.createObjectURL(new Blob([payload as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }));
      this.updateJob(job.clientJobId, { preview: { url, step: header.step, steps: header.steps } });
      return;
    }
    this.onResult(job, header, payload.slice());
  }

  /**
   * A result arrived: a job with variations or a chain gets several, and is finished with the last one.
   * A finished job places what it places by itself (resultsToPlace); variations wait for the designer.
   */
  private onResult(job: EditJob, header: ResultHeader, png: Uint8Array): void {
    const url = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
    const attached = attachResult(job, { header, url, png, parameters: header.parameters });
    if (attached.duplicate) {
      URL.revokeObjectURL(url); // delivered again after a reconnect
      return;
    }
    if (!attached.finished) {
      this.updateJob(job.clientJobId, attached.job);
      return;
    }
    if (job.preview) URL.revokeObjectURL(job.preview.url);
    const finished: EditJob = { ...attached.job, preview: undefined, finishedAt: Date.now() };
    const toPlace = resultsToPlace(finished, this.stateValue.settings.chainPlacement);
    this.updateJob(job.clientJobId, { ...finished, phase: toPlace.length > 0 ? 'placing' : 'done' });
    if (!header.cached) this.update({ pastTimings: { timings: header.timings, steps: header.parameters.steps } });
    void this.placeResultsAsync(finished, toPlace, this.stateValue.settings.placement);
  }

  /**
   * Hands results to main in order (a chain's every step lands beside the previous); `placement` is the
   * setting, or 'beside' from "Place beside".
   */
  private async placeResultsAsync(job: EditJob, results: JobResult[], placement: Placement): Promise<void> {
    if (results.length > 0) this.updateJob(job.clientJobId, { phase: 'placing', placement, error: undefined });
    for (const result of results) {
      const { header, png } = result;
      try {
        // The server returns the exported size (at most 4096 already); fit anyway: Figma throws above it.
        const fitted = await fitImageAsync({ png, width: header.width, height: header.height }, { maxSide: MAX_IMAGE_SIDE });
        const provenance: Provenance = provenanceOf(job, result);
        emit<PlaceResultHandler>('PLACE_RESULT', { jobId: header.jobId, ...fitted, provenance, placement, afterPlacing: this.afterPlacingFor(job) });
      } catch (error) {
        this.updateJob(job.clientJobId, { phase: 'done', error: `Not placed: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
  }

  /**
   * 'select' moves the designer's selection and view: for a batch only once, with its last result, so
   * the view does not jump once per layer. 'stay' (the default) leaves both alone.
   */
  private afterPlacingFor(job: EditJob): PluginSettings['afterPlacing'] {
    const setting = this.stateValue.settings.afterPlacing;
    if (setting !== 'select' || job.batchId === undefined) return setting;
    const othersPending = this.stateValue.jobs.some((other) => other.batchId === job.batchId && other.clientJobId !== job.clientJobId && (isActive(other) || other.phase === 'placing'));
    return othersPending ? 'stay' : 'select';
  }

  private onPlaced(jobId: string, change: Partial<EditJob>): void {
    const job = this.stateValue.jobs.find((candidate) => candidate.jobId === jobId);
    if (job === undefined) return;
    // A picked variation: the strip marks it placed (the designer may place another one too).
    const picked = change.placedNodeId !== undefined && job.variationResults !== undefined ? job.result?.header.variation : undefined;
    const placedVariations = picked === undefined ? job.placedVariations : [...new Set([...(job.placedVariations ?? []), picked])];
    this.updateJob(job.clientJobId, { ...change, placedVariations, phase: 'done' });
  }

  // ---- actions --------------------------------------------------------------------------------

  /** Edit the selected layers with this instruction. Returns false (and sets a notice) when it cannot. */
  submit(instruction: string, extras: SubmitExtras = {}): boolean {
    const state = this.stateValue;
    const hello = state.connection.state === 'connected' ? state.connection.hello : undefined;
    const problem =
      hello === undefined
        ? `Not connected. ${state.address ? (adviseOnConnection(state.connection, state.address, Date.now()) ?? 'Wait for the connection.') : 'Set the server address in Settings.'}`
        : checkInstruction(instruction, hello.limits) ?? (state.selection.items.length === 0 ? state.selection.problem ?? 'Select a layer to edit.' : undefined);
    if (problem !== undefined || hello === undefined) {
      if (hello === undefined) {
        // The connection advice already says this (with its button): a notice would say it twice.
        if (state.address === undefined || adviseOnConnection(state.connection, state.address, Date.now()) === undefined) {
          this.showNotice(problem, 'connect', state.address === undefined ? 'open-settings' : undefined);
        }
      } else {
        this.showNotice(problem, state.selection.items.length === 0 && stripLikePython(instruction) !== '' ? 'selection' : 'instruction');
      }
      return false;
    }
    const chain = (extras.chain ?? []).map(stripLikePython).filter((line) => line !== '').slice(0, MAX_WIRE_CHAIN_STEPS - 1);
    const chainProblem = chain.map((line, index) => {
      const lineProblem = checkInstruction(line, hello.limits);
      return lineProblem === undefined ? undefined : `Step ${index + 2} of the chain: ${lineProblem}`;
    }).find((line) => line !== undefined);
    if (chainProblem !== undefined) {
      this.showNotice(chainProblem, 'dismiss');
      return false;
    }
    // The server takes variations of one edit only, not of a chain: the chain wins (the control says so).
    const variations = chain.length === 0 ? Math.min(Math.max(Math.round(extras.variations ?? 1), 1), MAX_WIRE_VARIATIONS) : 1;
    // Trimmed as the server trims (as Python does), so the text remembered is the text edited.
    const text = stripLikePython(instruction);
    const { parameters } = clampToLimits(toWireParameters(state.settings.parameters), hello.limits);
    const edit: PendingEdit = { instruction: text, parameters, ...(variations > 1 ? { variations } : {}), ...(chain.length > 0 ? { chain } : {}) };
    this.requestExport(edit, (requestId, maxSide) =>
      emit<ExportSelectionHandler>('EXPORT_SELECTION', { requestId, maxSide }),
      chooseExportSide(state.selection.items, hello.limits, parameters),
    );
    this.rememberInstruction(text);
    return true;
  }

  /** Same instruction and parameters as the selected result, a new seed, on the original layer. */
  variation(): boolean {
    const state = this.stateValue;
    const selected = state.selectedResult;
    if (selected === null) return false;
    if (state.connection.state !== 'connected') {
      this.showNotice('Not connected. Wait for the connection, then try again.', 'connect');
      return false;
    }
    const { steps, guidanceScale, imageGuidanceScale, size, sizeMode, scheduler } = selected.provenance.parameters;
    const { limits } = state.connection.hello;
    const { parameters } = clampToLimits({ steps, guidanceScale, imageGuidanceScale, size, sizeMode, scheduler: scheduler as WireEditParameters['scheduler'] }, limits);
    const sourceNodeId = selected.provenance.sourceNodeId;
    this.requestExport({ instruction: selected.provenance.instruction, parameters }, (requestId, maxSide) =>
      emit<ExportNodeHandler>('EXPORT_NODE', { requestId, nodeId: sourceNodeId, maxSide }),
      // the original's size is not known here: a square is the most a pixel limit can cut its side to
      chooseExportSide([{ width: 1, height: 1 }], limits, parameters),
    );
    return true;
  }

  /**
   * "Run again with this": the job's source layer again, with its instruction, parameters and seed, and
   * the designer's own wording of the expressive instruction instead of MGIE's. Only the text differs,
   * so the two results show what the wording changes.
   */
  runAgainWithExpressive(clientJobId: string, expressiveInstruction: string): boolean {
    const state = this.stateValue;
    const job = state.jobs.find((candidate) => candidate.clientJobId === clientJobId);
    const result = job === undefined ? undefined : representativeResult(job);
    if (job === undefined || result === undefined) return false;
    if (state.connection.state !== 'connected') {
      this.showNotice('Not connected. Wait for the connection, then try again.', 'connect');
      return false;
    }
    const text = stripLikePython(expressiveInstruction);
    const problem = text === '' ? 'Write what MGIE should do, or press Cancel.' : checkInstruction(text, state.connection.hello.limits);
    if (problem !== undefined) {
      this.showNotice(problem, 'dismiss');
      return false;
    }
    const { steps, guidanceScale, imageGuidanceScale, size, sizeMode, scheduler } = result.parameters;
    const seed = result.header.seed ?? result.parameters.seed;
    const parameters: WireEditParameters = { steps, guidanceScale, imageGuidanceScale, size, sizeMode, seed, scheduler: scheduler as WireEditParameters['scheduler'] };
    const { limits } = state.connection.hello;
    this.requestExport({ instruction: job.instruction, parameters, expressiveInstruction: text }, (requestId, maxSide) =>
      emit<ExportNodeHandler>('EXPORT_NODE', { requestId, nodeId: job.sourceNodeId, maxSide }),
      chooseExportSide([{ width: result.header.width, height: result.header.height }], limits, parameters),
    );
    return true;
  }

  /** Places the picked variation of a finished job (variations never place by themselves). */
  placeVariation(clientJobId: string, variation: number): boolean {
    const job = this.stateValue.jobs.find((candidate) => candidate.clientJobId === clientJobId);
    const result = job?.variationResults?.find((candidate) => candidate.header.variation === variation);
    if (job === undefined || result === undefined || job.phase === 'placing') return false;
    const picked: EditJob = { ...job, result, error: undefined };
    this.updateJob(clientJobId, { result, error: undefined, phase: 'placing' });
    void this.placeResultsAsync(picked, [result], this.stateValue.settings.placement);
    return true;
  }

  private requestExport(edit: PendingEdit, send: (requestId: string, maxSide: number) => void, maxSide: number): void {
    const requestId = randomId();
    this.pendingExports.set(requestId, edit);
    this.showNotice(undefined, 'dismiss');
    this.update({ exporting: true });
    send(requestId, maxSide);
  }

  private async submitExportedAsync(requestId: string, items: ExportedImage[]): Promise<void> {
    const pending = this.pendingExports.get(requestId);
    this.pendingExports.delete(requestId);
    this.update({ exporting: this.pendingExports.size > 0 });
    if (pending === undefined || this.stateValue.connection.state !== 'connected') {
      if (pending) this.showNotice('Lost the connection while exporting. Try again when it is back.', 'connect');
      return;
    }
    // Several layers in one submit are one group in the history, cancelled together.
    const batchId = items.length > 1 ? randomId() : undefined;
    const jobs: EditJob[] = items.map((item) => {
      const regionShapeNames = this.stateValue.selection.items.find((selected) => selected.nodeId === item.nodeId)?.regionShapeNames;
      return {
        clientJobId: randomId(),
        sourceNodeId: item.nodeId,
        sourceName: item.name,
        instruction: pending.instruction,
        requested: pending.parameters,
        phase: 'queued',
        submittedAt: Date.now(),
        source: item,
        // The export as the designer's original, for before/after (the server gets a fitted copy).
        originalUrl: URL.createObjectURL(new Blob([item.png as Uint8Array<ArrayBuffer>], { type: 'image/png' })),
        batchId,
        ...(pending.expressiveInstruction !== undefined ? { givenExpressiveInstruction: pending.expressiveInstruction } : {}),
        ...(pending.variations !== undefined ? { variations: pending.variations } : {}),
        ...(pending.chain !== undefined ? { chain: [pending.instruction, ...pending.chain] } : {}),
        ...(item.mask !== undefined ? { maskSent: true, regionShapeNames } : {}),
      };
    });
    // Newest first, and within a batch in selection order.
    this.setJobs([...jobs, ...this.stateValue.jobs]);
    for (const job of jobs) await this.sendJobAsync(job);
  }

  /** Fits the job's exported layer (and its region mask) to the server's limits and submits it; a failure fails the job. */
  private async sendJobAsync(job: EditJob): Promise<void> {
    try {
      if (job.source === undefined || this.stateValue.connection.state !== 'connected') throw new Error('Not connected. Retry when the connection is back.');
      const { limits } = this.stateValue.connection.hello;
      const { source } = job;
      const image = await fitImageAsync(source, { maxSide: limits.maxImageSide, maxBytes: limits.maxImageBytes });
      // The mask is exported at the layer's size; the server wants it at the image's (or its proportions).
      const mask = source.mask === undefined ? undefined : (await resizeImageAsync({ png: source.mask, width: source.width, height: source.height }, image.width, image.height)).png;
      const header = {
        clientJobId: job.clientJobId,
        instruction: job.instruction,
        parameters: job.requested,
        previews: true,
        ...(job.givenExpressiveInstruction !== undefined ? { expressiveInstruction: job.givenExpressiveInstruction } : {}),
        ...(job.variations !== undefined ? { variations: job.variations } : {}),
        ...(job.chain !== undefined ? { chain: job.chain.slice(1) } : {}),
      };
      const sent = this.connection?.submit(header, image.png, mask);
      if (!sent) throw new Error('Lost the connection before the image was sent. Try again when it is back.');
    } catch (error) {
      this.updateJob(job.clientJobId, { phase: 'failed', error: error instanceof Error ? error.message : String(error), finishedAt: Date.now() });
    }
  }

  /** Replaces the jobs, dropping the oldest finished ones past MAX_HISTORY_JOBS and their images. */
  private setJobs(jobs: EditJob[]): void {
    let finished = 0;
    const kept: EditJob[] = [];
    for (const job of jobs) {
      if (!isActive(job) && job.phase !== 'placing' && ++finished > MAX_HISTORY_JOBS) releaseImages(job);
      else kept.push(job);
    }
    this.update({ jobs: kept });
  }

  /**
   * Runs a failed or cancelled job again from its original export, in its place in the history (and its
   * batch), with the same instruction and parameters (clamped again: the server may have changed).
   */
  retry(clientJobId: string): boolean {
    const job = this.stateValue.jobs.find((candidate) => candidate.clientJobId === clientJobId);
    if (job === undefined || job.source === undefined || isActive(job)) return false;
    if (this.stateValue.connection.state !== 'connected') {
      this.showNotice('Not connected. Retry when the connection is back.', 'connect');
      return false;
    }
    const { parameters } = clampToLimits(job.requested, this.stateValue.connection.hello.limits);
    if (job.result) URL.revokeObjectURL(job.result.url);
    if (job.preview) URL.revokeObjectURL(job.preview.url);
    const again: EditJob = {
      clientJobId: randomId(),
      sourceNodeId: job.sourceNodeId,
      sourceName: job.sourceName,
      instruction: job.instruction,
      requested: parameters,
      phase: 'queued',
      submittedAt: Date.now(),
      source: job.source,
      originalUrl: job.originalUrl,
      batchId: job.batchId,
      // the designer's own wording, variations, chain and region go again as they were
      ...(job.givenExpressiveInstruction !== undefined ? { givenExpressiveInstruction: job.givenExpressiveInstruction } : {}),
      ...(job.variations !== undefined ? { variations: job.variations } : {}),
      ...(job.chain !== undefined ? { chain: job.chain } : {}),
      ...(job.maskSent ? { maskSent: true, regionShapeNames: job.regionShapeNames } : {}),
    };
    this.update((state) => ({ jobs: state.jobs.map((candidate) => (candidate.clientJobId === clientJobId ? again : candidate)) }));
    void this.sendJobAsync(again);
    return true;
  }

  /** Replacing the fills was refused: place the same result beside the original instead. */
  placeBeside(clientJobId: string): void {
    const job = this.stateValue.jobs.find((candidate) => candidate.clientJobId === clientJobId);
    if (job?.result !== undefined) void this.placeResultsAsync(job, [job.result], 'beside');
  }

  /** "Show on canvas": main selects the placed node and scrolls it into view. */
  showOnCanvas(nodeId: string): void {
    emit<SelectNodeHandler>('SELECT_NODE', { nodeId });
  }

  /** The resize handle; main clamps, calls figma.ui.resize and remembers the size (no SAVE_SETTINGS here). */
  resizeWindow(size: WindowSize): void {
    const windowSize = clampWindowSize(size);
    const current = this.stateValue.settings.windowSize;
    if (current.width === windowSize.width && current.height === windowSize.height) return;
    this.update((state) => ({ settings: { ...state.settings, windowSize } }));
    emit<ResizeWindowHandler>('RESIZE_WINDOW', windowSize);
  }

  /** Cancels every edit of a batch still waiting or running. */
  cancelBatch(batchId: string): void {
    for (const job of this.stateValue.jobs) if (job.batchId === batchId) this.cancel(job.clientJobId);
  }

  cancel(clientJobId: string): void {
    const job = this.stateValue.jobs.find((candidate) => candidate.clientJobId === clientJobId);
    if (job === undefined || !isActive(job)) return;
    this.updateJob(clientJobId, { cancelRequested: true });
    if (job.jobId !== undefined) this.connection?.cancel(job.jobId);
  }

  updateSettings(change: Partial<PluginSettings>): void {
    const previous = this.stateValue.settings;
    const settings = { ...previous, ...change };
    this.update({ settings });
    emit<SaveSettingsHandler>('SAVE_SETTINGS', settings);
    if (settings.serverUrl !== previous.serverUrl || settings.token !== previous.token) {
      this.everConnected = false;
      this.connect();
    }
  }

  private rememberInstruction(instruction: string): void {
    const recent = [instruction, ...this.stateValue.settings.recentInstructions.filter((item) => item !== instruction)].slice(0, MAX_RECENT_INSTRUCTIONS);
    this.updateSettings({ recentInstructions: recent });
  }

  private showNotice(notice: string | undefined, lifetime: NoticeLifetime, noticeFix?: ProblemFix): void {
    this.noticeLifetime = lifetime;
    this.update({ notice, noticeFix });
  }

  dismissNotice(): void {
    this.showNotice(undefined, 'dismiss');
  }

  /** The instruction changed: a notice about the instruction (empty) no longer applies. */
  instructionEdited(): void {
    if (this.noticeLifetime === 'instruction' && this.stateValue.notice !== undefined) this.dismissNotice();
  }
}

function releaseImages(job: EditJob): void {
  const urls = [job.originalUrl, job.preview?.url, job.result?.url, ...(job.variationResults ?? []).map((result) => result.url), ...(job.chainSteps ?? []).map((step) => step.result?.url)];
  for (const url of new Set(urls)) if (url) URL.revokeObjectURL(url);
}

/** crypto.randomUUID needs a secure context, which a plugin iframe may not be. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
