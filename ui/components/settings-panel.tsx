// First run and the gear button: where the server is, then a token of the designer's own, either by
// pairing (the main path: a code from the server's terminal) or by pasting one an admin made.
import { Button, Text, Textbox, VerticalSpace } from '@create-figma-plugin/ui';
import { Fragment, h } from 'preact';
import { useState } from 'preact/hooks';
import type { PluginSettings } from '../../plugin/types.ts';
import { PairingForm } from './pairing-form.tsx';
import { ReachableServersNote } from './reachable-servers-note.tsx';
import styles from './settings-panel.css';
import { type TestOutcome, TokenForm } from './token-form.tsx';

export type { TestOutcome } from './token-form.tsx';

export function SettingsPanel(props: {
  settings: PluginSettings;
  firstRun: boolean;
  onTest(serverUrl: string, token: string): Promise<TestOutcome>;
  onSave(change: Pick<PluginSettings, 'serverUrl' | 'token'>): void;
  onClose?(): void;
}) {
  const [serverUrl, setServerUrl] = useState(props.settings.serverUrl);
  // Someone with a token already came to change something; everyone else pairs.
  const [mode, setMode] = useState<'pair' | 'token'>(props.settings.token === '' ? 'pair' : 'token');
  const save = (token: string) => props.onSave({ serverUrl: serverUrl.trim(), token });

  return (
    <div id="settings-panel" class={styles.section} data-testid="settings" data-mode={mode}>
      <Text>
        <strong>{mode === 'pair' ? 'Pair with the server' : 'Connect with a token'}</strong>
      </Text>
      {props.firstRun ? (
        <Fragment>
          <div class={styles.hint}>
            Start the MGIE companion server on this computer with <code>npm start</code> in the mgie-for-figma folder, or ask your team's admin for its
            address.
          </div>
          <VerticalSpace space="extraSmall" />
        </Fragment>
      ) : null}
      <div class={styles.field}>
        <label class={styles.hint} for="server-url">
          Server address
        </label>
        <Textbox id="server-url" value={serverUrl} onValueInput={setServerUrl} placeholder="http://localhost:8765" />
      </div>
      {mode === 'pair' ? (
        <PairingForm serverUrl={serverUrl} onPaired={save} onPasteToken={() => setMode('token')} />
      ) : (
        <TokenForm serverUrl={serverUrl} initialToken={props.settings.token} onTest={props.onTest} onSave={save} onPair={() => setMode('pair')} />
      )}
      <ReachableServersNote serverUrl={serverUrl} />
      {props.onClose ? (
        <div>
          <Button secondary onClick={props.onClose} data-testid="close-settings">
            Close
          </Button>
        </div>
      ) : null}
    </div>
  );
}
