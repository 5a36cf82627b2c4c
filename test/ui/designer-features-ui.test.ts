// The designer features (issue 13) in the built plugin UI: headless Chromium, the UI in a sandboxed
// iframe at the real 360 x 600 window, main simulated, a real companion server on the tiny bundle.
// Every submit the UI sends is read off the WebSocket, so the tests check what reached the server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import { decodeBinaryFrame, type SubmitHeader, splitSubmitPayload } from '../../companion-server/protocol/messages.ts';
import { DEFAULT_SETTINGS, type PluginSettings } from '../../plugin/types.ts';
import { SimulatedFigmaMain } from '../helpers/simulated-figma-main.ts';
import { openPluginUiAsync, type PluginUi, SKIP_WITHOUT_CHROMIUM } from '../helpers/plugin-ui-browser.ts';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';

const SCREENSHOTS = 'test-output/screenshots';
const skip = SKIP_WITHOUT_CHROMIUM;
const WINDOW = { width: 360, height: 600 };
const HERO = { nodeId: '1:2', name: 'Hero image', width: 192, height: 128 };
// Quick real edits on the tiny bundle; a random seed, so a re-run must take the seed from the result.
const QUICK = { ...DEFAULT_SETTINGS.parameters, preset: 'custom' as const, steps: 4, size: 128, seedMode: 'random' as const };

function settingsFor(serverUrl: string, change: Partial<PluginSettings> = {}): PluginSettings {
  return { ...DEFAULT_SETTINGS, serverUrl, token: TEST_TOKEN, parameters: QUICK, ...change };
}

interface SentSubmit {
  header: SubmitHeader;
  image: Uint8Array;
  mask?: Uint8Array;
}

/** Opens the UI connected to a fresh server and records every submit frame the UI sends it. */
async function openAsync(t: TestContext, settings: Partial<PluginSettings> = {}, serverOverrides = {}) {
  const server = await startTestServerAsync(t, serverOverrides);
  const submits: SentSubmit[] = [];
  const ui = await openPluginUiAsync(t, {
    ...WINDOW,
    showUiData: { settings: settingsFor(server.httpUrl, settings) },
    beforeLoad: (page) =>
      page.on('websocket', (socket) =>
        socket.on('framesent', ({ payload }) => {
          if (typeof payload === 'string') return;
          const { header, payload: body } = decodeBinaryFrame(new Uint8Array(payload));
          const submit = header as SubmitHeader;
          if (submit.type === 'submit') submits.push({ header: submit, ...splitSubmitPayload(submit, body) });
        }),
      ),
  });
  const main = SimulatedFigmaMain.start(t, ui);
  await ui.frame.locator('[data-testid=connection][data-state=connected]').waitFor();
  return { ui, main, submits, frame: ui.frame };
}

/** The state in Figma's light and dark themes: Figma swaps the theme class on the document as the designer switches. */
async function screenshotThemesAsync(ui: PluginUi, state: string, scrollTo?: string): Promise<void> {
  // the window is 600 px tall: bring the part the state is about into view, as the designer would scroll
  if (scrollTo !== undefined) await ui.frame.locator(scrollTo).first().evaluate((element) => element.scrollIntoView({ block: 'end' }));
  await ui.screenshotAsync(`${SCREENSHOTS}/${state}-light.png`);
  await ui.frame.evaluate(() => document.body.classList.replace('figma-light', 'figma-dark'));
  await ui.screenshotAsync(`${SCREENSHOTS}/${state}-dark.png`);
  await ui.frame.evaluate(() => document.body.classList.replace('figma-dark', 'figma-light'));
}

async function waitUntilAsync(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function pngSize(png: Uint8Array): [number, number] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return [view.getUint32(16), view.getUint32(20)]; // IHDR
}

test('Edit what MGIE understood, "Run again with this": same layer, instruction and seed; the submit carries the wording and the result says "Your wording"', { skip }, async (t) => {
  const { ui, main, submits, frame } = await openAsync(t);
  await main.selectAsync([HERO]);
  await frame.locator('#instruction').fill('add snow');
  await frame.locator('#instruction').press('Enter');
  await frame.locator('[data-testid=history-item][data-phase=done]').waitFor({ timeout: 30_000 });
  const first = main.placed[0];
  assert.equal(first.provenance.expressiveInstructionSource, 'model');
  // the newest result is shown large, with its block there (result-view.tsx), not again in its history row
  const block = frame.locator('[data-testid=result-expressive] [data-testid=expressive-block]');
  await block.filter({ hasText: 'MGIE understood this as' }).waitFor();
  assert.equal(await block.locator('[data-testid=expressive]').innerText(), first.provenance.expressiveInstruction);
  // Copy works or, where the sandbox refuses the clipboard, says how (the text is then selected)
  await block.locator('[data-testid=copy-expressive]').click();
  await block.locator('[data-testid=copy-status]', { hasText: /Copied|press (⌘C|Ctrl\+C)/ }).waitFor();
  await screenshotThemesAsync(ui, 'expressive', '[data-testid=result-expressive] [data-testid=expressive-block]');

  await block.locator('[data-testid=edit-expressive]').click();
  const editor = frame.locator('[data-testid=expressive-edit]');
  assert.equal(await editor.inputValue(), first.provenance.expressiveInstruction);
  const wording = 'Snow covers the roofs and the trees, and the sky is pale grey.';
  await editor.fill(wording);
  await screenshotThemesAsync(ui, 'expressive-edit', '[data-testid=run-again]');
  await frame.locator('[data-testid=run-again]').click();

  await waitUntilAsync(() => main.placed.length === 2, 'the re-run is placed');
  const rerun = main.exportRequests.at(-1);
  assert.deepEqual([rerun?.name, rerun?.request.nodeId], ['EXPORT_NODE', HERO.nodeId], 'the same source layer again');
  const sent = submits.at(-1)!.header;
  assert.equal(sent.expressiveInstruction, wording);
  assert.equal(sent.instruction, 'add snow');
  assert.deepEqual([sent.parameters?.seed, sent.parameters?.steps, sent.parameters?.size], [first.provenance.seed, 4, 128]);
  assert.equal(submits[0].header.expressiveInstruction, undefined, 'a plain edit lets MGIE write it');
  const second = main.placed[1];
  assert.deepEqual([second.provenance.expressiveInstruction, second.provenance.expressiveInstructionSource, second.provenance.seed], [wording, 'given', first.provenance.seed]);
  const newest = frame.locator('[data-testid=result-expressive]');
  await newest.locator('[data-testid=expressive-block][data-source=given]', { hasText: 'Your wording' }).waitFor();
  assert.equal(await newest.locator('[data-testid=expressive]').innerText(), wording);
  // the first result's row, no longer the one shown large, keeps MGIE's own wording
  await frame.locator('[data-testid=history-item] [data-testid=expressive-block][data-source=model]').waitFor();
  await screenshotThemesAsync(ui, 'your-wording', '[data-testid=result-expressive] [data-source=given]');
  assert.deepEqual(ui.consoleErrors, []);
});

test('Variations 3: a strip of three to pick from, nothing placed until "Place this one"; the 2nd is placed with its own seed', { skip }, async (t) => {
  const { ui, main, submits, frame } = await openAsync(t);
  await main.selectAsync([HERO]);
  await frame.locator('[data-testid=variations]').selectOption('3');
  await frame.locator('#instruction').fill('add snow');
  await frame.locator('#instruction').press('Enter');
  await frame.locator('[data-testid=history-item]', { hasText: '3 variations: pick one to place' }).waitFor({ timeout: 30_000 });
  assert.equal(submits[0].header.variations, 3);
  assert.equal(await frame.locator('[data-testid=variation]').count(), 3);
  // give a wrongly automatic placement time to show up: there must be none
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(main.placed.length, 0, 'variations wait for the designer');
  await screenshotThemesAsync(ui, 'variations', '[data-testid=variation-strip]');

  await frame.locator('[data-testid=variation][data-variation="2"]').click();
  assert.equal(await frame.locator('[data-testid=variation][data-variation="2"]').getAttribute('aria-selected'), 'true');
  await frame.locator('[data-testid=variation-large][alt="Variation 2, large"]').waitFor();
  await screenshotThemesAsync(ui, 'variation-picked', '[data-testid=place-variation]');
  await frame.locator('[data-testid=place-variation]').click();
  await waitUntilAsync(() => main.placed.length === 1, 'the picked variation is placed');
  const { provenance } = main.placed[0];
  assert.deepEqual([provenance.variation, provenance.variations], [2, 3]);
  assert.equal(provenance.seed, provenance.parameters.seed);
  await frame.locator('[data-testid=history-item]', { hasText: `Placed · seed ${provenance.seed}` }).waitFor();
  await frame.locator('[data-testid=variation][data-variation="2"]', { hasText: 'Placed' }).waitFor();
  assert.equal(main.placed.length, 1);
  // the strip's seeds are seed, seed + 1, seed + 2: variation 2's is one above variation 1's
  const firstSeed = Number((await frame.locator('[data-testid=variation][data-variation="1"]').getAttribute('title'))?.match(/seed (\d+)/)?.[1]);
  assert.equal(provenance.seed, firstSeed + 1);
  assert.deepEqual(ui.consoleErrors, []);
});

test('"Then…": a 2-step chain shows both steps with their pictures and wording, and places the final result', { skip }, async (t) => {
  // long enough steps that the chain is still running at its second step for the screenshot, on a busy CI machine too
  const { ui, main, submits, frame } = await openAsync(t, { parameters: { ...QUICK, steps: 200, size: 256 } });
  await main.selectAsync([HERO]);
  await frame.locator('#instruction').fill('add snow');
  await frame.locator('[data-testid=add-chain-step]').click();
  await frame.locator('[data-testid=chain-line]').fill('make it night');
  // the server makes variations of one edit only: with a chain the control is off
  assert.equal(await frame.locator('[data-testid=variations]').isDisabled(), true);
  await frame.locator('[data-testid=chain-line]').press('Enter');
  await frame.locator('[data-testid=job] [data-testid=chain-step][data-step="2"]').waitFor();
  await frame.locator('[data-testid=job] [data-testid=chain-step][data-step="1"][data-done=true]').waitFor({ timeout: 30_000 });
  // (a picture only while it still runs: a slow machine must not fail the chain's behaviour over a screenshot)
  if ((await frame.locator('[data-testid=job] [data-testid=chain-steps]').count()) > 0) await screenshotThemesAsync(ui, 'chain-running', '[data-testid=job] [data-testid=chain-steps]');
  await frame.locator('[data-testid=history-item][data-phase=done]').waitFor({ timeout: 30_000 });
  assert.deepEqual([submits[0].header.instruction, submits[0].header.chain, submits[0].header.variations], ['add snow', ['make it night'], undefined]);
  const steps = frame.locator('[data-testid=history-item] [data-testid=chain-step]');
  assert.equal(await steps.count(), 2);
  for (const [index, instruction] of ['add snow', 'make it night'].entries()) {
    const step = steps.nth(index);
    assert.equal(await step.getAttribute('data-done'), 'true');
    assert.match(await step.innerText(), new RegExp(`${index + 1}\\. ${instruction}[\\s\\S]*MGIE understood: \\S`));
    assert.equal(await step.locator('img').count(), 1, `step ${index + 1} shows its picture`);
  }
  await screenshotThemesAsync(ui, 'chain-done', '[data-testid=history-item] [data-testid=chain-steps]');
  await waitUntilAsync(() => main.placed.length === 1, 'the final result is placed');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(main.placed.length, 1, "chainPlacement 'final': only the last step");
  const { provenance } = main.placed[0];
  assert.deepEqual([provenance.instruction, provenance.chain, provenance.chainStep], ['add snow', ['add snow', 'make it night'], 2]);
  assert.deepEqual(ui.consoleErrors, []);
});

test('Regions: "only under" the shapes, the mask sent fitted to the image\'s size when the layer is downscaled, the result masked', { skip }, async (t) => {
  const { ui, main, submits, frame } = await openAsync(t, {}, { limits: { ...DEFAULT_LIMITS, maxInputSide: 1024 } });
  await main.selectAsync([{ nodeId: '5:1', name: 'Poster', width: 1600, height: 1200, regionShapeNames: ['Circle', 'Star'] }]);
  await frame.locator('[data-testid=region-note]', { hasText: 'Only under “Circle” and “Star”' }).waitFor();
  await screenshotThemesAsync(ui, 'region');
  await frame.locator('#instruction').fill('make it gold');
  await frame.locator('#instruction').press('Enter');
  await frame.locator('[data-testid=history-item][data-phase=done]').waitFor({ timeout: 60_000 });
  const [sent] = submits;
  assert.ok(sent.mask !== undefined && sent.header.maskBytes === sent.mask.length, 'the mask follows the image in the frame');
  assert.deepEqual(pngSize(sent.image), [1024, 768], 'the layer is downscaled to the server limit');
  assert.deepEqual(pngSize(sent.mask), pngSize(sent.image), 'the mask is fitted to the same size');
  const { provenance } = main.placed[0];
  assert.equal(provenance.masked, true);
  assert.deepEqual(ui.consoleErrors, []);
  // a layer without shapes over it sends no mask and says nothing about regions
  await main.selectAsync([HERO]);
  await frame.locator('[data-testid=selection]', { hasText: 'Hero image' }).waitFor();
  assert.equal(await frame.locator('[data-testid=region-note]').count(), 0);
  await frame.locator('#instruction').press('Enter');
  await waitUntilAsync(() => main.placed.length === 2, 'the unmasked edit is placed');
  assert.equal(submits[1].mask, undefined);
  assert.equal(main.placed[1].provenance.masked, false);
});

test("Place every step (settings.chainPlacement 'every-step'): each step's result is placed, in order, each saying which step it is", { skip }, async (t) => {
  const { ui, main, frame } = await openAsync(t);
  await main.selectAsync([HERO]);
  await frame.locator('#instruction').fill('add snow');
  assert.equal(await frame.locator('[data-testid=chain-placement]').count(), 0, 'asked only when there is a chain');
  await frame.locator('[data-testid=add-chain-step]').click();
  await frame.locator('[data-testid=chain-line]').fill('make it night');
  assert.equal(await frame.locator('[data-testid=chain-placement]').inputValue(), 'final');
  await frame.locator('[data-testid=chain-placement]').selectOption('every-step');
  const saved = await ui.waitForMessageFromUiAsync('SAVE_SETTINGS');
  assert.equal((saved.args[0] as PluginSettings).chainPlacement, 'every-step', 'remembered for next time');
  await frame.locator('[data-testid=add-chain-step]').click();
  await frame.locator('[data-testid=chain-line]').nth(1).fill('   '); // an empty "Then…" line is left out
  await frame.locator('[data-testid=submit]').click();
  await waitUntilAsync(() => main.placed.length === 2, 'both steps are placed');
  assert.deepEqual(main.placed.map((request) => [request.provenance.chainStep, request.provenance.expressiveInstruction.length > 0]), [[1, true], [2, true]]);
  assert.deepEqual(main.placed[1].provenance.chain, ['add snow', 'make it night']);
  assert.equal(main.placed[0].provenance.seed, main.placed[1].provenance.seed, 'a chain uses one seed for every step');
  await frame.locator('[data-testid=history-item][data-phase=done]').waitFor();
  assert.deepEqual(ui.consoleErrors, []);
});
