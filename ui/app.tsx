// The plugin window, the result first: a pinned header; the instruction and Edit with a one-line summary
// of the settings; the running edit with its live preview right under them; the latest result large;
// the history below; a resize handle in the corner.
import { Button, VerticalSpace } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ShowUiData } from '../plugin/types.ts';
import { Header } from './components/connection-indicator.tsx';
import { AddChainStepButton, ChainEditor } from './components/chain-editor.tsx';
import { ChainPlacementControl, RegionNote, VariationsControl } from './components/edit-options.tsx';
import { FixButton } from './components/fix-button.tsx';
import { HistoryList } from './components/history-list.tsx';
import { InstructionField } from './components/instruction-field.tsx';
import { JobCard } from './components/job-card.tsx';
import { ParametersPanel, ParametersSummary } from './components/parameters-panel.tsx';
import { PlacingPanel, PlacingSummary } from './components/placing-options.tsx';
import { ResizeHandle } from './components/resize-handle.tsx';
import { ResultView } from './components/result-view.tsx';
import { SettingsPanel } from './components/settings-panel.tsx';
import { adviseOnConnection, type ProblemFix } from './describe-problem.ts';
import { EditSession, type UiState } from './edit-session.ts';
import { type EditJob, isActive } from './jobs/edit-job.ts';
import { normalizeSettings } from './normalize-settings.ts';
import styles from './styles.css';

export function App(props: Partial<ShowUiData>) {
  const session = useMemo(() => new EditSession(normalizeSettings(props.settings)), []);
  const [state, setState] = useState<UiState>(session.state);
  useEffect(() => {
    const unsubscribe = session.subscribe(() => setState(session.state));
    const stop = session.start();
    return () => {
      unsubscribe();
      stop();
    };
  }, [session]);
  const [instruction, setInstruction] = useState('');
  const [chain, setChain] = useState<string[]>([]);
  const [variations, setVariations] = useState(1);
  const submit = () => session.submit(instruction, { variations, chain });
  const chained = chain.some((line) => line.trim() !== '');
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [parametersOpen, setParametersOpen] = useState(false);
  const [placingOpen, setPlacingOpen] = useState(false);
  const [shownJobId, setShownJobId] = useState<string | undefined>(undefined);

  const active = state.jobs.filter(isActive);
  // A batch's waiting edits are in its group below; a card each would push the running preview away.
  const cards = active.filter((job) => job.batchId === undefined || job.phase === 'running');
  const now = useClock(active.length > 0 || state.connection.state === 'unreachable');
  const firstRun = state.settings.token === '';
  const connected = state.connection.state === 'connected';
  const hello = state.connection.state === 'connected' ? state.connection.hello : undefined;
  const advice = firstRun ? undefined : state.addressProblem ?? (state.address ? adviseOnConnection(state.connection, state.address, now) : undefined);
  const adviceFix: ProblemFix | undefined =
    state.addressProblem !== undefined || state.connection.state === 'token-rejected'
      ? 'open-settings'
      : state.connection.state === 'unreachable' || state.connection.state === 'forbidden'
        ? 'retry-connection'
        : undefined;
  const count = state.selection.items.length;
  const shown = shownResult(state.jobs, shownJobId);

  function openPanel(id: string, open: (value: boolean) => void) {
    open(true);
    // After the render that opens it: bring it into view (it may be far above a history row's button).
    setTimeout(() => document.getElementById(id)?.scrollIntoView({ block: 'nearest' }), 0);
  }

  function runFix(fix: ProblemFix, job?: EditJob) {
    switch (fix) {
      case 'retry':
        if (job) session.retry(job.clientJobId);
        else session.retryNow();
        return;
      case 'retry-connection':
        session.retryNow();
        return;
      case 'place-beside':
        if (job) session.placeBeside(job.clientJobId);
        return;
      case 'open-settings':
        openPanel('settings-panel', setSettingsOpen);
        return;
      case 'open-parameters':
        openPanel('parameters-panel', setParametersOpen);
        return;
    }
  }

  return (
    <div class={styles.app}>
      <Header connection={firstRun ? undefined : state.connection} settingsOpen={settingsOpen} onSettings={() => setSettingsOpen(!settingsOpen)} />
      <div class={styles.body} data-testid="body">
        {firstRun || settingsOpen ? (
          <Fragment>
            <SettingsPanel
              settings={state.settings}
              firstRun={firstRun}
              onTest={(serverUrl, token) => session.testConnectionAsync(serverUrl, token)}
              onSave={(change) => {
                session.updateSettings(change);
                setSettingsOpen(false);
              }}
              onClose={firstRun ? undefined : () => setSettingsOpen(false)}
            />
            <VerticalSpace space="large" />
          </Fragment>
        ) : null}
        {firstRun ? null : (
          <Fragment>
            {advice ? (
              <Fragment>
                <div class={styles.notice} role="alert" data-testid="connection-advice">
                  <span class={styles.noticeText}>{advice}</span>
                  {adviceFix && !(adviceFix === 'open-settings' && settingsOpen) ? (
                    <FixButton fix={adviceFix} onFix={(fix) => runFix(fix)} testId={adviceFix === 'open-settings' ? 'open-settings' : undefined} />
                  ) : null}
                </div>
                <VerticalSpace space="small" />
              </Fragment>
            ) : null}
            {state.notice ? (
              <Fragment>
                <div class={styles.notice} role="alert" data-testid="notice">
                  <span class={styles.noticeText}>{state.notice}</span>
                  {state.noticeFix ? <FixButton fix={state.noticeFix} onFix={(fix) => runFix(fix)} /> : null}
                  <button type="button" class={styles.chip} onClick={() => session.dismissNotice()} aria-label="Dismiss">
                    ×
                  </button>
                </div>
                <VerticalSpace space="small" />
              </Fragment>
            ) : null}
            <SelectionLine state={state} onVariation={() => session.variation()} onReuse={setInstruction} />
            <VerticalSpace space="small" />
            <InstructionField
              value={instruction}
              onInput={(value) => {
                setInstruction(value);
                session.instructionEdited();
              }}
              onSubmit={submit}
              recent={state.settings.recentInstructions}
              busy={state.exporting}
              disabled={!connected}
              submitLabel={count > 1 ? `Edit ${count} layers` : 'Edit'}
              maxLength={hello?.limits.maxInstructionLength}
              controls={
                <Fragment>
                  <AddChainStepButton steps={chain} onChange={setChain} />
                  <VariationsControl value={variations} onChange={setVariations} chained={chained} />
                </Fragment>
              }
            >
              <ChainEditor steps={chain} onChange={setChain} onSubmit={submit} />
              {chained ? <ChainPlacementControl value={state.settings.chainPlacement} onChange={(chainPlacement) => session.updateSettings({ chainPlacement })} /> : null}
              <RegionNote items={state.selection.items} />
            </InstructionField>
            <VerticalSpace space="extraSmall" />
            <ParametersSummary parameters={state.settings.parameters} hello={hello} open={parametersOpen} onToggle={() => setParametersOpen(!parametersOpen)} />
            {parametersOpen ? <ParametersPanel parameters={state.settings.parameters} hello={hello} onChange={(parameters) => session.updateSettings({ parameters })} /> : null}
            <PlacingSummary settings={state.settings} open={placingOpen} onToggle={() => setPlacingOpen(!placingOpen)} />
            {placingOpen ? <PlacingPanel settings={state.settings} onChange={(change) => session.updateSettings(change)} /> : null}
            {cards.map((job) => (
              <Fragment key={job.clientJobId}>
                <VerticalSpace space="small" />
                <JobCard job={job} now={now} pastTimings={state.pastTimings} onCancel={() => session.cancel(job.clientJobId)} />
              </Fragment>
            ))}
            {shown ? (
              <Fragment>
                <VerticalSpace space="medium" />
                <ResultView
                  key={shown.clientJobId}
                  job={shown}
                  onShowOnCanvas={(nodeId) => session.showOnCanvas(nodeId)}
                  onFix={(fix) => runFix(fix, shown)}
                  onRunAgain={(text) => session.runAgainWithExpressive(shown.clientJobId, text)}
                />
              </Fragment>
            ) : null}
            <VerticalSpace space="medium" />
            <HistoryList
              jobs={state.jobs}
              shownJobId={shown?.clientJobId}
              now={now}
              pastTimings={state.pastTimings}
              onReuse={setInstruction}
              onShow={setShownJobId}
              onFix={(job, fix) => runFix(fix, job)}
              onCancelBatch={(batchId) => session.cancelBatch(batchId)}
              onRunAgain={(job, text) => session.runAgainWithExpressive(job.clientJobId, text)}
              onPlaceVariation={(job, variation) => session.placeVariation(job.clientJobId, variation)}
            />
          </Fragment>
        )}
      </div>
      <ResizeHandle size={state.settings.windowSize} onResize={(size) => session.resizeWindow(size)} />
    </div>
  );
}

/** The result shown large: the one picked in the history, else the newest finished one. */
function shownResult(jobs: readonly EditJob[], pickedId: string | undefined): EditJob | undefined {
  const withResult = (job: EditJob) => job.result !== undefined && !isActive(job);
  return jobs.find((job) => job.clientJobId === pickedId && withResult(job)) ?? jobs.find(withResult);
}

function SelectionLine(props: { state: UiState; onVariation(): void; onReuse(instruction: string): void }) {
  const { selection, selectedResult, notice } = props.state;
  if (selectedResult) {
    return (
      <div class={styles.card} data-testid="selected-result">
        <div class={styles.muted}>
          Selected: the result of <strong>“{selectedResult.provenance.instruction}”</strong> (seed {selectedResult.provenance.seed}). Type a new
          instruction to edit it again, or make a variation of the original.
        </div>
        <div class={styles.row}>
          <Button secondary onClick={props.onVariation} data-testid="variation">
            Variation
          </Button>
          <Button secondary onClick={() => props.onReuse(selectedResult.provenance.instruction)}>
            Use its instruction
          </Button>
        </div>
      </div>
    );
  }
  const problem = selection.problem ?? 'Select a frame, group or image to edit.';
  // The notice says it already: the same words twice read as two problems.
  if (selection.items.length === 0) return notice === problem ? null : <div class={styles.muted} data-testid="selection">{problem}</div>;
  const [first] = selection.items;
  const what = selection.items.length === 1 ? `${first.name} (${Math.round(first.width)} × ${Math.round(first.height)})` : `${selection.items.length} layers`;
  return (
    <div class={styles.muted} data-testid="selection">
      Editing: {what}
      {selection.problem ? ` · ${selection.problem}` : ''}
    </div>
  );
}

/** Re-renders once a second while something shows a countdown or an estimate; returns the time now. */
function useClock(running: boolean): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setTick((tick) => tick + 1), 1000);
    return () => clearInterval(timer);
  }, [running]);
  // Not the tick's time: a server event can re-render between ticks, and its job times are newer.
  return Date.now();
}
