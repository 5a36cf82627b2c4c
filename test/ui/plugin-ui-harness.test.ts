// The browser harness itself: the built UI loads with Origin null, and pluginMessages cross both ways
// with their Uint8Arrays intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { DEFAULT_SETTINGS } from '../../plugin/types.ts';
import { openPluginUiAsync, SKIP_WITHOUT_CHROMIUM } from '../helpers/plugin-ui-browser.ts';

test('the built UI runs in a sandboxed frame and pluginMessages cross both ways with bytes intact', { skip: SKIP_WITHOUT_CHROMIUM }, async (t) => {
  assert.ok(existsSync(new URL('../../build/ui.js', import.meta.url)), 'build/ui.js is missing: run npm run build');
  const ui = await openPluginUiAsync(t, { showUiData: { settings: DEFAULT_SETTINGS } });
  const { frame } = ui;

  assert.equal(await frame.evaluate(() => (globalThis as any).origin), 'null');

  // UI -> main. The real UI may have emitted its own messages already, so count from here.
  const before = (await ui.messagesFromUiAsync()).length;
  await frame.evaluate(() => {
    (globalThis as any).parent.postMessage({ pluginMessage: ['PING_TEST', new Uint8Array([1, 2, 3]), { nested: { bytes: new Uint8Array([4]) } }] }, '*');
  });
  const ping = await ui.waitForMessageFromUiAsync('PING_TEST', { after: before, timeoutMs: 5000 });
  assert.ok(ping.index >= before);
  assert.deepEqual(ping.args, [new Uint8Array([1, 2, 3]), { nested: { bytes: new Uint8Array([4]) } }]);
  assert.ok(ping.args[0] instanceof Uint8Array);

  // main -> UI.
  await frame.evaluate(() => {
    const self = globalThis as any;
    self.addEventListener('message', (event: any) => {
      if (event.data?.pluginMessage?.[0] === 'HELLO_TEST') self.lastHelloTest = event.data.pluginMessage;
    });
  });
  await ui.sendToUiAsync('HELLO_TEST', { png: new Uint8Array([9, 8]) });
  await frame.waitForFunction(() => (globalThis as any).lastHelloTest !== undefined, undefined, { timeout: 5000 });
  const seen = await frame.evaluate(() => {
    const png = (globalThis as any).lastHelloTest[1].png;
    return { isUint8Array: png instanceof Uint8Array, bytes: Array.from(png as ArrayLike<number>) };
  });
  assert.deepEqual(seen, { isUint8Array: true, bytes: [9, 8] });

  // The harness must not cause errors of its own (the UI's own, e.g. no companion server, are fine; so is
  // create-figma-plugin's "No event handler with name `HELLO_TEST`", which the test's unknown event causes).
  const harnessErrors = ui.consoleErrors.filter((text) => /Content Security Policy|pluginUiHarness|__pluginUiHarnessBytes|status of 404/.test(text));
  assert.deepEqual(harnessErrors, []);
});
