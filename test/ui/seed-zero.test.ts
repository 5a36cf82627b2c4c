// Seed 0 in the plugin UI: a designer who fixes seed 0 must get seed 0 on the wire, in the stored
// settings and in the result's provenance, and the same picture twice. A `seed || ...` anywhere on the
// way (the numeric field, the stored settings, the preset mapping) would turn it into "random seed".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { EditParametersSchema } from '../../companion-server/protocol/messages.ts';
import { DEFAULT_SETTINGS, type ParameterSettings, type PluginSettings } from '../../plugin/types.ts';
import { normalizeSettings } from '../../ui/normalize-settings.ts';
import { toWireParameters } from '../../ui/to-wire-parameters.ts';
import { SimulatedFigmaMain } from '../helpers/simulated-figma-main.ts';
import { openPluginUiAsync, SKIP_WITHOUT_CHROMIUM } from '../helpers/plugin-ui-browser.ts';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';

const fixedZero: ParameterSettings = { ...DEFAULT_SETTINGS.parameters, preset: 'custom', steps: 2, size: 64, seedMode: 'fixed', seed: 0 };
const checkWire = TypeCompiler.Compile(EditParametersSchema);

test('toWireParameters: a fixed seed 0 is sent as seed 0, which the protocol accepts', () => {
  const wire = toWireParameters(fixedZero);
  assert.ok(Object.hasOwn(wire, 'seed'), 'the seed is sent, not left for the server to draw');
  assert.equal(wire.seed, 0);
  assert.ok(checkWire.Check(wire), JSON.stringify([...checkWire.Errors(wire)]));
  // random mode leaves it out whatever the stored number is, including 0
  assert.ok(!Object.hasOwn(toWireParameters({ ...fixedZero, seedMode: 'random' }), 'seed'));
});

test('normalizeSettings: stored seed 0 stays 0 (it is a number, not a missing value)', () => {
  const stored = JSON.parse(JSON.stringify({ ...DEFAULT_SETTINGS, parameters: fixedZero }));
  const settings = normalizeSettings(stored);
  assert.equal(settings.parameters.seed, 0);
  assert.equal(settings.parameters.seedMode, 'fixed');
  assert.equal(toWireParameters(settings.parameters).seed, 0, 'stored, reloaded and sent: still 0');
});

const HERO = { nodeId: '1:2', name: 'Hero image', width: 96, height: 64 };

test('in the plugin UI: typing seed 0 edits with seed 0, shows it, and gives the same picture twice', { skip: SKIP_WITHOUT_CHROMIUM }, async (t) => {
  const server = await startTestServerAsync(t);
  const settings: PluginSettings = { ...DEFAULT_SETTINGS, serverUrl: server.httpUrl, token: TEST_TOKEN, parameters: { ...fixedZero, seed: 7 } };
  const ui = await openPluginUiAsync(t, { showUiData: { settings } });
  const main = SimulatedFigmaMain.start(t, ui);
  const { frame } = ui;
  await frame.locator('[data-testid=connection][data-state=connected]').waitFor();
  await main.selectAsync([HERO]);

  // the designer opens Parameters (the summary line under the instruction) and types 0 over the stored 7
  await frame.locator('[data-testid=settings-summary]').click();
  const seedField = frame.locator('#parameter-seed');
  await seedField.fill('0');
  await seedField.press('Tab');
  await frame.locator('[data-testid=settings-summary]', { hasText: 'Custom · 2 steps · 64 px · seed 0' }).waitFor();

  for (const round of [1, 2]) {
    await frame.locator('#instruction').fill('make the frame red');
    await frame.locator('#instruction').press('Enter');
    await frame.locator('[data-testid=history-item][data-phase=done]').nth(round - 1).waitFor({ timeout: 30_000 });
  }
  assert.equal(main.placed.length, 2);
  for (const placed of main.placed) {
    assert.equal(placed.provenance.seed, 0, 'the server edited with seed 0');
    assert.equal(placed.provenance.parameters.seed, 0);
  }
  assert.ok(Buffer.from(main.placed[0].png).equals(Buffer.from(main.placed[1].png)), 'seed 0 twice, the same picture');
  await frame.locator('[data-testid=history-item]', { hasText: 'Placed · seed 0' }).first().waitFor();
  // and it is what the plugin stores for next time
  let saved: (PluginSettings & { index?: number }) | undefined;
  for (let after = 0; saved?.parameters.seed !== 0; ) {
    const message = await ui.waitForMessageFromUiAsync('SAVE_SETTINGS', { after });
    saved = message.args[0] as PluginSettings;
    after = message.index + 1;
  }
  assert.equal(saved.parameters.seedMode, 'fixed');
});
