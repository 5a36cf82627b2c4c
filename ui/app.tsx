// The plugin window: connection, settings, the instruction, parameters, edits in flight and history.
import { Button, VerticalSpace } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ShowUiData } from '../plugin/types.ts';
import { Header } from './components/connection-indicator.tsx';
import { ChainEditor } from './components/chain-editor.tsx';
import { ChainPlacementControl, RegionNote, VariationsControl } from './components/edit-options.tsx';
import { HistoryList } from './components/history-list.tsx';
import { InstructionField } from './components/instruction-field.tsx';
import { JobCard } from './components/job-card.tsx';
import { ParametersPanel } from './components/parameters-panel.tsx';
import { SettingsPanel } from './components/settings-panel.tsx';
import { adviseOnConnection } from './describe-problem.ts';
import { EditSession, type UiState } from './edit-session.ts';
import { isActive } from './jobs/edit-job.ts';
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

  const active = state.jobs.filter(isActive);
  const finished = state.jobs.filter((job) => !isActive(job));
  const now = useClock(active.length > 0 || state.connection.state === 'unreachable');
  const firstRun = state.settings.token === '';
  const connected = state.connection.state === 'connected';
  const hello = state.connection.state === 'connected' ? state.connection.hello : undefined;
  const advice = firstRun ? undefined : state.addressProblem ?? (state.address ? adviseOnConnection(state.connection, state.address, now) : undefined);
  const count = state.selection.items.length;

  return (
    <div class={styles.app}>
      <Header connection={firstRun ? undefined : state.connection} settingsOpen={settingsOpen} onSettings={() => setSettingsOpen(!settingsOpen)} />
      <div class={styles.body}>
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
                  {state.connection.state === 'unreachable' || state.connection.state === 'forbidden' ? (
                    <Button secondary onClick={() => session.retryNow()}>
                      Retry
                    </Button>
                  ) : state.connection.state === 'token-rejected' && !settingsOpen ? (
                    <Button secondary onClick={() => setSettingsOpen(true)} data-testid="open-settings">
                      Settings
                    </Button>
                  ) : null}
                </div>
                <VerticalSpace space="small" />
              </Fragment>
            ) : null}
            {state.notice ? (
              <Fragment>
                <div class={styles.notice} role="alert" data-testid="notice">
                  <span class={styles.noticeText}>{state.notice}</span>
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
              onInput={setInstruction}
              onSubmit={submit}
              recent={state.settings.recentInstructions}
              busy={state.exporting}
              disabled={!connected}
              submitLabel={count > 1 ? `Edit ${count} layers` : 'Edit'}
            >
              <ChainEditor steps={chain} onChange={setChain} onSubmit={submit} />
              <VariationsControl value={variations} onChange={setVariations} chained={chained} />
              {chained ? <ChainPlacementControl value={state.settings.chainPlacement} onChange={(chainPlacement) => session.updateSettings({ chainPlacement })} /> : null}
              <RegionNote items={state.selection.items} />
            </InstructionField>
            {active.length > 0 ? <VerticalSpace space="medium" /> : null}
            {active.map((job) => (
              <Fragment key={job.clientJobId}>
                <JobCard job={job} now={now} pastTimings={state.pastTimings} onCancel={() => session.cancel(job.clientJobId)} />
                <VerticalSpace space="small" />
              </Fragment>
            ))}
            <VerticalSpace space="small" />
            <ParametersPanel
              parameters={state.settings.parameters}
              placement={state.settings.placement}
              hello={hello}
              onChange={(parameters) => session.updateSettings({ parameters })}
              onPlacement={(placement) => session.updateSettings({ placement })}
            />
            {finished.length > 0 ? <VerticalSpace space="medium" /> : null}
            <HistoryList
              jobs={finished}
              onReuse={setInstruction}
              onRunAgain={(job, text) => session.runAgainWithExpressive(job.clientJobId, text)}
              onPlaceVariation={(job, variation) => session.placeVariation(job.clientJobId, variation)}
            />
          </Fragment>
        )}
      </div>
    </div>
  );
}

function SelectionLine(props: { state: UiState; onVariation(): void; onReuse(instruction: string): void }) {
  const { selection, selectedResult } = props.state;
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
  if (selection.items.length === 0) return <div class={styles.muted} data-testid="selection">{selection.problem ?? 'Select a frame, group or image to edit.'}</div>;
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
