// Pairing from the plugin's settings, in the built UI in headless Chromium (sandboxed iframe, Origin null,
// 360x600 as in Figma), against a real companion server whose terminal the test reads like the designer
// would. Screenshots of each state, light and dark, go to test-output/screenshots/.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { DEFAULT_SETTINGS, type PluginSettings } from '../../plugin/types.ts';
import { codeOnTerminal, type PairingServer, startPairingServerAsync } from '../helpers/pairing-server.ts';
import { openPluginUiAsync, SKIP_WITHOUT_CHROMIUM } from '../helpers/plugin-ui-browser.ts';
import { SimulatedFigmaMain } from '../helpers/simulated-figma-main.ts';

const SCREENSHOTS = 'test-output/screenshots';
const skip = SKIP_WITHOUT_CHROMIUM;
const THEMES = ['light', 'dark'] as const;

/** A first run (no token yet) against this server, in a build that can reach it. */
async function firstRunAsync(t: TestContext, server: PairingServer, theme: 'light' | 'dark' = 'light') {
  const ui = await openPluginUiAsync(t, { height: 600, theme, extraAllowedDomains: [server.httpUrl], showUiData: { settings: { ...DEFAULT_SETTINGS, serverUrl: server.httpUrl } } });
  SimulatedFigmaMain.start(t, ui);
  await ui.frame.locator('[data-testid=settings][data-mode=pair]').waitFor();
  return ui;
}

/** A code from the same alphabet that is not the right one. */
function wrongCode(code: string): string {
  return (code[0] === 'A' ? 'B' : 'A') + code.slice(1);
}

for (const theme of THEMES) {
  test(`pairing, ${theme}: name, Pair, the code from the terminal (a wrong one first), Confirm: her own token is saved and connects`, { skip }, async (t) => {
    const server = await startPairingServerAsync(t);
    const ui = await firstRunAsync(t, server, theme);
    const { frame } = ui;
    // 1. first run: pairing is the main path, with the address and the designer's name
    assert.equal(await frame.locator('#server-url').inputValue(), server.httpUrl);
    assert.equal(await frame.locator('#server-token').count(), 0, 'no token field on the main path');
    await frame.locator('[data-testid=reachable-servers]', { hasText: 'This build of the plugin can reach' }).waitFor();
    await frame.locator('#pairing-name').fill('Anna Müller');
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-1-name-${theme}.png`);

    // 2. Pair: the server's terminal shows the code; the plugin asks for it and has the keyboard ready
    await frame.locator('[data-testid=pair]').click();
    await frame.locator('[data-testid=pairing][data-step=code]').waitFor();
    await frame.locator('label[for=pairing-code]', { hasText: "Type the code shown in the server's terminal" }).waitFor();
    assert.equal(await frame.evaluate(() => (globalThis as any).document.activeElement?.id), 'pairing-code');
    const code = codeOnTerminal(server.terminal);
    assert.match(server.terminal.at(-1)!, /Pairing request from "Anna Müller"/);
    assert.equal(await frame.locator('[data-testid=confirm-code]').isDisabled(), true, 'Confirm waits for a whole code');
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-2-code-${theme}.png`);

    // 3. a typo: "try again", and the field stays for another go
    await frame.locator('#pairing-code').fill(wrongCode(code));
    await frame.locator('#pairing-code').press('Enter');
    await frame.locator('[data-testid=pairing-problem]', { hasText: 'try again (4 tries left)' }).waitFor();
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-3-wrong-code-${theme}.png`);

    // 4. the right code, typed in lower case: saved in client storage, connected as her own user
    await frame.locator('#pairing-code').fill(code.toLowerCase());
    await frame.locator('[data-testid=confirm-code]').click();
    const saved = (await ui.waitForMessageFromUiAsync('SAVE_SETTINGS')).args[0] as PluginSettings;
    assert.equal(saved.serverUrl, server.httpUrl);
    assert.match(saved.token, /^[A-Za-z0-9_-]{43}$/);
    await frame.locator('[data-testid=connection][data-state=connected]', { hasText: 'anna-muller' }).waitFor();
    assert.equal(await frame.locator('[data-testid=settings]').count(), 0, 'the settings close');
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-4-connected-${theme}.png`);
    // Chromium logs every refused fetch; the wrong code's 401 is expected, anything else is not.
    assert.deepEqual(ui.consoleErrors.filter((line) => !/status of 401/.test(line)), []);
  });

  test(`pairing, ${theme}: an expired code says so and "Pair again" gets a new one that works`, { skip }, async (t) => {
    const server = await startPairingServerAsync(t, { codeTtlMs: 1500 });
    const ui = await firstRunAsync(t, server, theme);
    const { frame } = ui;
    await frame.locator('#pairing-name').fill('Bert');
    await frame.locator('#pairing-name').press('Enter');
    await frame.locator('[data-testid=pairing][data-step=code]').waitFor();
    const first = codeOnTerminal(server.terminal);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    await frame.locator('#pairing-code').fill(first);
    await frame.locator('[data-testid=confirm-code]').click();
    await frame.locator('[data-testid=pairing-problem]', { hasText: 'Pair again to get a new code' }).waitFor();
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-5-expired-${theme}.png`);

    const printed = server.terminal.length;
    await frame.locator('[data-testid=pair-again]').click();
    await frame.locator('[data-testid=pairing-problem]').waitFor({ state: 'detached' });
    assert.equal(server.terminal.length, printed + 1, 'a new code on the terminal');
    await frame.locator('#pairing-code').fill(codeOnTerminal(server.terminal));
    await frame.locator('#pairing-code').press('Enter');
    await frame.locator('[data-testid=connection][data-state=connected]', { hasText: 'bert' }).waitFor();
  });

  test(`a team box without --allow-pairing, ${theme}: the plugin says so and "Paste a token instead" works; Save only after a successful test of these values`, { skip }, async (t) => {
    const server = await startPairingServerAsync(t, {}, { listenHost: '0.0.0.0', userNames: ['carl'] });
    const ui = await firstRunAsync(t, server, theme);
    const { frame } = ui;
    await frame.locator('#pairing-name').fill('Carl');
    await frame.locator('[data-testid=pair]').click();
    await frame.locator('[data-testid=pairing-problem]', { hasText: '--allow-pairing' }).waitFor();
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-6-disabled-${theme}.png`);
    assert.deepEqual(server.terminal, []);

    await frame.locator('[data-testid=paste-token-fix]').click();
    await frame.locator('[data-testid=settings][data-mode=token]').waitFor();
    const save = frame.locator('[data-testid=save-settings]');
    await frame.locator('#server-token').fill(server.users.tokens.carl);
    assert.equal(await save.isDisabled(), true, 'no Save before a test');
    await frame.locator('[data-testid=test-connection]').click();
    await frame.locator('[data-testid=test-outcome]', { hasText: 'Connected as carl' }).waitFor();
    assert.equal(await save.isDisabled(), false);
    await ui.screenshotAsync(`${SCREENSHOTS}/pairing-7-token-tested-${theme}.png`);
    // changing a field takes the test back
    await frame.locator('#server-token').fill(`${server.users.tokens.carl}x`);
    assert.equal(await save.isDisabled(), true, 'another token needs its own test');
    await frame.locator('#server-token').fill(server.users.tokens.carl);
    assert.equal(await save.isDisabled(), true, 'the old test does not come back either');
    await frame.locator('[data-testid=test-connection]').click();
    await frame.locator('[data-testid=test-outcome]', { hasText: 'Connected as carl' }).waitFor();
    await frame.locator('#server-url').fill(`${server.httpUrl}/`);
    assert.equal(await save.isDisabled(), true, 'another address needs its own test');
    await frame.locator('#server-url').fill(server.httpUrl);
    await frame.locator('[data-testid=test-connection]').click();
    await save.click();
    await frame.locator('[data-testid=connection][data-state=connected]', { hasText: 'carl' }).waitFor();
  });
}

for (const theme of THEMES) test(`the settings say which addresses this build reaches, and how to build it for another, ${theme}`, { skip }, async (t) => {
  const server = await startPairingServerAsync(t);
  // as built, without the test server's port: Figma would block it, and the settings say how to fix that
  const ui = await openPluginUiAsync(t, { height: 600, theme, showUiData: { settings: { ...DEFAULT_SETTINGS, serverUrl: server.httpUrl } } });
  SimulatedFigmaMain.start(t, ui);
  const { frame } = ui;
  const port = new URL(server.httpUrl).port;
  await frame.locator('[data-testid=address-not-reachable]', { hasText: `MGIE_TEAM_SERVER=http://127.0.0.1:${port} npm run build` }).waitFor();
  await ui.screenshotAsync(`${SCREENSHOTS}/pairing-8-address-not-in-build-${theme}.png`);
  await frame.locator('#server-url').fill('http://localhost:8765');
  await frame.locator('[data-testid=reachable-servers]', { hasText: 'can reach http://localhost:8765, http://127.0.0.1:8765' }).waitFor();
  assert.equal(await frame.locator('[data-testid=address-not-reachable]').count(), 0);
  // nothing listens at 127.0.0.1:9 (the discard port): pairing says to start the server
  await frame.locator('#server-url').fill('http://127.0.0.1:9');
  await frame.locator('#pairing-name').fill('Dora');
  await frame.locator('[data-testid=pair]').click();
  await frame.locator('[data-testid=pairing-problem]', { hasText: 'Start it with npm start' }).waitFor();
});
