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
import { CompanionConnection, type ConnectionStatus } from './connection/companion-connection.ts';
import { type ProbeResult, probeServerAsync } from './connection/probe-server-async.ts';
import { parseServerAddress, type ServerAddress } from './connection/server-address.ts';
import { clampToLimits } from './clamp-to-limits.ts';
import { adviseOnConnection, checkInstruction, describeServerError, type ProblemFix } from './describe-problem.ts';
import { chooseExportSide, fitImageAsync } from './image/fit-image-async.ts';
import { applyServerMessage, type EditJob, isActive } from './jobs/edit-job.ts';
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
  private readonly pendingExports = new Map<string, { instruction: string; parameters: WireEditParameters }>();
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
    void this.placeResultAsync(job, header, payload.slice());
  }

  private async placeResultAsync(job: EditJob, header: ResultHeader, png: Uint8Array): Promise<void> {
    if (job.result) return; // delivered again after a reconnect
    const url = URL.createObjectURL(new Blob([png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
    if (job.preview) URL.revokeObjectURL(job.preview.url);
    this.updateJob(job.clientJobId, {
      jobId: header.jobId,
      phase: 'placing',
      preview: undefined,
      expressiveInstruction: header.expressiveInstruction,
      result: { header, url, png, parameters: header.parameters },
      finishedAt: Date.now(),
    });
    if (!header.cached) this.update({ pastTimings: { timings: header.timings, steps: header.parameters.steps } });
    await this.emitPlaceResultAsync(job.clientJobId, this.stateValue.settings.placement);
  }

  /** Hands the job's result to main to place; `placement` is the setting, or 'beside' from "Place beside". */
  private async emitPlaceResultAsync(clientJobId: string, placement: Placement): Promise<void> {
    const job = this.stateValue.jobs.find((candidate) => candidate.clientJobId === clientJobId);
    if (job?.result === undefined) return;
    const { header, png } = job.result;
    this.updateJob(clientJobId, { phase: 'placing', placement, error: undefined });
    try {
      // The server returns the exported size (at most 4096 already); fit anyway: Figma throws above it.
      const fitted = await fitImageAsync({ png, width: header.width, height: header.height }, { maxSide: MAX_IMAGE_SIDE });
      const provenance: Provenance = {
        instruction: header.instruction,
        expressiveInstruction: header.expressiveInstruction,
        seed: header.parameters.seed,
        parameters: header.parameters,
        model: header.model,
        sourceNodeId: job.sourceNodeId,
        createdAt: new Date().toISOString(),
      };
      emit<PlaceResultHandler>('PLACE_RESULT', { jobId: header.jobId, ...fitted, provenance, placement, afterPlacing: this.afterPlacingFor(job) });
    } catch (error) {
      this.updateJob(job.clientJobId, { phase: 'done', error: `Not placed: ${error instanceof Error ? error.message : String(error)}` });
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
    if (job) this.updateJob(job.clientJobId, { ...change, phase: 'done' });
  }

  // ---- actions --------------------------------------------------------------------------------

  /** Edit the selected layers with this instruction. Returns false (and sets a notice) when it cannot. */
  submit(instruction: string): boolean {
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
    // Trimmed as the server trims (as Python does), so the text remembered is the text edited.
    const text = stripLikePython(instruction);
    const { parameters } = clampToLimits(toWireParameters(state.settings.parameters), hello.limits);
    this.requestExport(text, parameters, (requestId, maxSide) =>
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
    this.requestExport(selected.provenance.instruction, parameters, (requestId, maxSide) =>
      emit<ExportNodeHandler>('EXPORT_NODE', { requestId, nodeId: sourceNodeId, maxSide }),
      // the original's size is not known here: a square is the most a pixel limit can cut its side to
      chooseExportSide([{ width: 1, height: 1 }], limits, parameters),
    );
    return true;
  }

  private requestExport(instruction: string, parameters: WireEditParameters, send: (requestId: string, maxSide: number) => void, maxSide: number): void {
    const requestId = randomId();
    this.pendingExports.set(requestId, { instruction, parameters });
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
    const jobs: EditJob[] = items.map((item) => ({
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
    }));
    // Newest first, and within a batch in selection order.
    this.setJobs([...jobs, ...this.stateValue.jobs]);
    for (const job of jobs) await this.sendJobAsync(job);
  }

  /** Fits the job's exported layer to the server's limits and submits it; a failure fails the job. */
  private async sendJobAsync(job: EditJob): Promise<void> {
    try {
      if (job.source === undefined || this.stateValue.connection.state !== 'connected') throw new Error('Not connected. Retry when the connection is back.');
      const { limits } = this.stateValue.connection.hello;
      const image = await fitImageAsync(job.source, { maxSide: limits.maxImageSide, maxBytes: limits.maxImageBytes });
      const sent = this.connection?.submit({ clientJobId: job.clientJobId, instruction: job.instruction, parameters: job.requested, previews: true }, image.png);
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
    };
    this.update((state) => ({ jobs: state.jobs.map((candidate) => (candidate.clientJobId === clientJobId ? again : candidate)) }));
    void this.sendJobAsync(again);
    return true;
  }

  /** Replacing the fills was refused: place the same result beside the original instead. */
  placeBeside(clientJobId: string): void {
    void this.emitPlaceResultAsync(clientJobId, 'beside');
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
  for (const url of [job.originalUrl, job.preview?.url, job.result?.url]) if (url) URL.revokeObjectURL(url);
}

/** crypto.randomUUID needs a secure context, which a plugin iframe may not be. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
