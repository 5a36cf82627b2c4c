// Issue 13, "The result first": every state of the plugin window a designer meets, in headless Chromium
// at the real window size (360 x 560 iframe), light and dark, against a real companion server on the tiny
// bundle, with a screenshot of each state in test-output/screenshots/<state>-<theme>.png.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import { DEFAULT_SETTINGS, MIN_WINDOW_SIZE, type PluginSettings, type WindowSize } from '../../plugin/types.ts';
import { SimulatedFigmaMain, type SimulatedLayer } from '../helpers/simulated-figma-main.ts';
import { openPluginUiAsync, type PluginUi, SKIP_WITHOUT_CHROMIUM } from '../helpers/plugin-ui-browser.ts';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';
import type { ServerOptions } from '../../companion-server/server/server-options.ts';

const SCREENSHOTS = 'test-output/screenshots';
const THEMES = ['light', 'dark'] as const;
type Theme = (typeof THEMES)[number];
const skip = SKIP_WITHOUT_CHROMIUM;
/** The iframe's height (plugin-ui-browser.ts default): Figma's 600 px window less its title bar. */
const VIEWPORT_HEIGHT = 560;

const HERO: SimulatedLayer = { nodeId: '1:2', name: 'Hero image', width: 192, height: 128 };
const RECENT = ['make it look like autumn', 'add fog over the hills', 'turn the day into night'];

type Parameters = PluginSettings['parameters'];
const custom = (change: Partial<Parameters>): Parameters => ({ ...DEFAULT_SETTINGS.parameters, preset: 'custom', ...change });

async function openAsync(t: TestContext, theme: Theme, options: { settings?: Partial<PluginSettings>; server?: Partial<ServerOptions> } = {}) {
  const server = await startTestServerAsync(t, options.server);
  const settings: PluginSettings = { ...DEFAULT_SETTINGS, serverUrl: server.httpUrl, token: TEST_TOKEN, ...options.settings };
  const ui = await openPluginUiAsync(t, { showUiData: { settings }, theme });
  const main = SimulatedFigmaMain.start(t, ui);
  return { server, ui, main, frame: ui.frame };
}

async function connectedAsync(ui: PluginUi): Promise<void> {
  await ui.frame.locator('[data-testid=connection][data-state=connected]').waitFor();
}

function shot(ui: PluginUi, state: string, theme: Theme): Promise<void> {
  return ui.screenshotAsync(`${SCREENSHOTS}/${state}-${theme}.png`);
}

async function messagesNamedAsync(ui: PluginUi, name: string) {
  return (await ui.messagesFromUiAsync()).filter((message) => message.name === name);
}

/** The element's box relative to the plugin window (the iframe), and how far its body is scrolled. */
async function boxInWindowAsync(ui: PluginUi, selector: string) {
  const frameBox = await ui.page.locator('#plugin-ui').boundingBox();
  const box = await ui.frame.locator(selector).first().boundingBox();
  assert.ok(frameBox && box, `${selector} has a box`);
  return { x: box.x - frameBox.x, y: box.y - frameBox.y, width: box.width, height: box.height };
}

async function bodyScrollTopAsync(ui: PluginUi): Promise<number> {
  return ui.frame.locator('[data-testid=body]').evaluate((element) => element.scrollTop);
}

for (const theme of THEMES) {
  test(`empty (${theme}): connected, nothing selected; the summary of the settings under the instruction`, { skip }, async (t) => {
    const { ui, frame } = await openAsync(t, theme);
    await connectedAsync(ui);
    await frame.locator('[data-testid=selection]', { hasText: 'Select a frame, group or image to edit.' }).waitFor();
    const summary = (await frame.locator('[data-testid=settings-summary]').innerText()).trim();
    assert.match(summary, /^▸\s*Default · \d+ steps · \d+ px · random seed$/);
    await frame.locator('[data-testid=placing-summary]', { hasText: 'Place beside · stay where I am' }).waitFor();
    assert.equal(await frame.locator('[data-testid=history]').count(), 0);
    await shot(ui, 'empty', theme);

    // the summary opens the Parameters, in a designer's words with help
    await frame.locator('[data-testid=settings-summary]').click();
    await frame.locator('[data-testid=parameters]').waitFor();
    assert.equal(await frame.locator('[data-testid=settings-summary]').getAttribute('aria-expanded'), 'true');
    await frame.getByText('Custom', { exact: true }).click();
    for (const words of ['How closely to follow the instruction', 'How much of the original to keep', 'Detail (steps)', 'Size']) {
      await frame.getByText(words).first().waitFor();
    }
    // "Place the result" is not in the Parameters panel; it has its own line
    assert.equal(await frame.locator('[data-testid=parameters]').getByText('Place the result').count(), 0);
    await frame.locator('[data-testid=placing-summary]').click();
    await frame.locator('[data-testid=placing]').getByText('Place the result').waitFor();
    await frame.locator('[data-testid=placing]').getByText('Select the result').click();
    await frame.locator('[data-testid=placing]').getByText('Every step').click();
    await frame.locator('[data-testid=placing-summary]', { hasText: 'Place beside · select the result' }).waitFor();
    await shot(ui, 'parameters', theme);
    let saved: PluginSettings | undefined;
    for (let after = 0; saved?.chainPlacement !== 'every-step'; ) {
      const message = await ui.waitForMessageFromUiAsync('SAVE_SETTINGS', { after });
      saved = message.args[0] as PluginSettings;
      after = message.index + 1;
    }
    assert.equal(saved.afterPlacing, 'select');
    assert.deepEqual(ui.consoleErrors, []);
  });

  test(`selection (${theme}): the layer named with its size, Edit ready`, { skip }, async (t) => {
    const { ui, main, frame } = await openAsync(t, theme, { settings: { recentInstructions: RECENT } });
    await connectedAsync(ui);
    await main.selectAsync([HERO]);
    await frame.locator('[data-testid=selection]', { hasText: 'Editing: Hero image (192 × 128)' }).waitFor();
    assert.equal(await frame.locator('[data-testid=submit]').isEnabled(), true);
    await main.selectAsync([HERO, { nodeId: '3:1', name: 'Banner', width: 600, height: 200 }, { nodeId: '3:2', name: 'Avatar', width: 96, height: 96 }]);
    await frame.locator('[data-testid=submit]', { hasText: 'Edit 3 layers' }).waitFor();
    await frame.locator('[data-testid=selection]', { hasText: 'Editing: 3 layers' }).waitFor();
    await shot(ui, 'selection', theme);
  });

  test(`an edit (${theme}): running with its preview in view without scrolling, then the result large, before/after, Show on canvas`, { skip }, async (t) => {
    const parameters = custom({ steps: 150, size: 512, seedMode: 'fixed', seed: 7 });
    const { ui, main, frame } = await openAsync(t, theme, { settings: { parameters, recentInstructions: RECENT } });
    await connectedAsync(ui);
    await main.selectAsync([HERO]);
    await frame.locator('#instruction').fill('make it look like autumn');
    await frame.locator('#instruction').press('Enter');

    // 1. running: the live preview is inside the 560 px window, the body not scrolled
    await frame.locator('[data-testid=job][data-phase=running]').waitFor();
    await frame.waitForFunction(() => {
      const preview = (globalThis as any).document.querySelector('[data-testid=preview]');
      return preview !== null && preview.complete && preview.naturalWidth > 0;
    });
    const preview = await boxInWindowAsync(ui, '[data-testid=preview]');
    assert.equal(await bodyScrollTopAsync(ui), 0);
    assert.ok(preview.y >= 0 && preview.y + preview.height <= VIEWPORT_HEIGHT, `preview at y ${preview.y}..${preview.y + preview.height}, window ${VIEWPORT_HEIGHT}`);
    assert.ok(preview.height >= 100, `preview ${preview.height} px high`);
    await shot(ui, 'running', theme);

    // 2. finished: the result at the panel's full width, its aspect kept (192 x 128 is 3:2)
    await frame.locator('[data-testid=result][data-phase=done]').waitFor({ timeout: 60_000 });
    const image = await boxInWindowAsync(ui, '[data-testid=result-image]');
    assert.ok(image.width >= 300, `result ${image.width} px wide`);
    assert.ok(Math.abs(image.width / image.height - 1.5) < 0.02, `result ${image.width} x ${image.height}`);
    assert.equal(await frame.locator('[data-testid=job]').count(), 0);
    await frame.locator('[data-testid=history-item][data-phase=done] [data-testid=layer-name]', { hasText: 'Hero image' }).waitFor();
    await frame.locator('[data-testid=result-expressive]').waitFor();
    assert.equal(main.placed[0].afterPlacing, 'stay', "the default leaves the designer's selection and view alone");
    await shot(ui, 'finished', theme);

    // the header stays when the body scrolls
    const header = await boxInWindowAsync(ui, '[data-testid=connection]');
    await frame.locator('[data-testid=body]').evaluate((element) => element.scrollTo(0, element.scrollHeight));
    assert.ok((await bodyScrollTopAsync(ui)) > 0, 'the finished window is taller than 560 px, so it scrolls');
    assert.equal((await boxInWindowAsync(ui, '[data-testid=connection]')).y, header.y);
    await frame.locator('[data-testid=body]').evaluate((element) => element.scrollTo(0, 0));

    // 3. Show on canvas selects the placed node
    await frame.locator('[data-testid=show-on-canvas]').click();
    const select = await ui.waitForMessageFromUiAsync('SELECT_NODE');
    assert.deepEqual(select.args[0], { nodeId: '100:1' });

    // 4. before/after: press and hold, the keyboard, the slider
    const original = frame.locator('[data-testid=original-image]');
    const compare = frame.locator('[data-testid=compare]');
    assert.equal(await original.getAttribute('data-shown'), '0');
    const after = await compare.screenshot();
    await frame.locator('[data-testid=hold-before]').hover();
    await ui.page.mouse.down();
    assert.equal(await original.getAttribute('data-shown'), '100');
    const before = await compare.screenshot();
    assert.ok(!before.equals(after), 'holding Before shows another picture: the original');
    await shot(ui, 'before-held', theme);
    await ui.page.mouse.up();
    assert.equal(await original.getAttribute('data-shown'), '0');
    await frame.locator('[data-testid=hold-before]').focus();
    await ui.page.keyboard.down('Space');
    assert.equal(await original.getAttribute('data-shown'), '100');
    await ui.page.keyboard.up('Space');
    assert.equal(await original.getAttribute('data-shown'), '0');
    const slider = frame.locator('[data-testid=compare-slider]');
    await slider.focus();
    await ui.page.keyboard.press('End');
    assert.equal(await original.getAttribute('data-shown'), '100');
    assert.equal(await slider.getAttribute('aria-valuetext'), 'Original only');
    await ui.page.keyboard.press('Home');
    assert.equal(await original.getAttribute('data-shown'), '0');
    await slider.fill('50');
    assert.equal(await original.getAttribute('data-shown'), '50');
    await shot(ui, 'before-after', theme);
    assert.deepEqual(ui.consoleErrors, []);
  });

  test(`a batch (${theme}): three layers are one group with its progress, a time estimate for the waiting ones, and Cancel all`, { skip }, async (t) => {
    // Each at its own size: the small icon finishes first, the two photos take long (the server's most
    // steps, so that the running one is still running when Cancel all is pressed after a screenshot).
    const parameters = custom({ steps: 200, sizeMode: 'native' });
    const { ui, main, frame } = await openAsync(t, theme, { settings: { parameters } });
    await connectedAsync(ui);
    const layers = [
      { nodeId: '5:1', name: 'Icon', width: 64, height: 64 },
      { nodeId: '5:2', name: 'Hero photo', width: 1024, height: 768 },
      { nodeId: '5:3', name: 'Banner photo', width: 1024, height: 768 },
    ];
    await main.selectAsync(layers);
    await frame.locator('#instruction').fill('Watercolor');
    await frame.locator('#instruction').press('Enter');

    const group = frame.locator('[data-testid=history-group]');
    await group.locator('[data-testid=group-title]', { hasText: 'Watercolor · 3 layers · 1/3 done' }).waitFor({ timeout: 60_000 });
    await group.locator('[data-testid=group-status]', { hasText: /1 editing · 1 waiting · about \d+ (s|min) left/ }).waitFor();
    assert.equal(await group.count(), 1, 'one group, not three rows');
    assert.deepEqual(await group.locator('[data-testid=layer-name]').allInnerTexts(), ['Icon', 'Hero photo', 'Banner photo']);
    assert.equal(await frame.locator('[data-testid=job]').count(), 1, 'only the running edit has a card; the waiting one is in its group');
    await group.scrollIntoViewIfNeeded();
    await shot(ui, 'batch', theme);

    await group.locator('[data-testid=cancel-all]').click();
    await group.locator('[data-testid=history-item][data-phase=cancelled]').nth(1).waitFor();
    await group.locator('[data-testid=group-title]', { hasText: 'Watercolor · 3 layers · 1/3 done' }).waitFor();
    assert.equal(await group.locator('[data-testid=cancel-all]').count(), 0);
    assert.equal(await frame.locator('[data-testid=job]').count(), 0);
    assert.equal(main.placed.length, 1);
    await group.scrollIntoViewIfNeeded();
    await shot(ui, 'batch-cancelled', theme);
  });

  test(`a cancelled edit (${theme}): its row says so with an icon, and Run again runs it again`, { skip }, async (t) => {
    const parameters = custom({ steps: 200, size: 1024 });
    const { ui, main, frame } = await openAsync(t, theme, { settings: { parameters } });
    await connectedAsync(ui);
    await main.selectAsync([HERO]);
    await frame.locator('#instruction').fill('turn the day into night');
    await frame.locator('#instruction').press('Enter');
    await frame.locator('[data-testid=job][data-phase=running] [data-testid=cancel]').click();
    const row = frame.locator('[data-testid=history-item][data-phase=cancelled]');
    await row.waitFor();
    assert.equal(await row.locator('[data-testid=history-status]').innerText(), 'Cancelled');
    assert.equal(await row.locator('[data-testid=phase-icon]').innerText(), '⊘', 'an icon, not an empty square');
    assert.equal(await row.locator('[data-testid=layer-name]').innerText(), 'Hero image');
    await shot(ui, 'cancelled', theme);
    const exports = main.exportRequests.length;
    await row.locator('[data-testid=fix-retry]', { hasText: 'Run again' }).click();
    await frame.locator('[data-testid=job][data-phase=running]', { hasText: 'turn the day into night' }).waitFor();
    assert.equal(main.exportRequests.length, exports, 'run again from the original export, not a new one');
    assert.equal(await frame.locator('[data-testid=history-item]').count(), 0, 'the row became the running edit');
    await frame.locator('[data-testid=job] [data-testid=cancel]').click();
    await frame.locator('[data-testid=history-item][data-phase=cancelled]').waitFor();
  });

  test(`a failed edit (${theme}): the row says why with Retry, and Retry works`, { skip }, async (t) => {
    // One waiting edit per designer: of three layers sent at once, the third is refused (server busy).
    const parameters = custom({ steps: 50, size: 512 });
    const { ui, main, frame } = await openAsync(t, theme, { settings: { parameters, afterPlacing: 'select' }, server: { maxQueuedPerClient: 1 } });
    await connectedAsync(ui);
    const layers = [HERO, { nodeId: '3:1', name: 'Banner', width: 300, height: 100 }, { nodeId: '3:2', name: 'Avatar', width: 96, height: 96 }];
    await main.selectAsync(layers);
    await frame.locator('#instruction').fill('add a rainbow');
    await frame.locator('#instruction').press('Enter');
    const failed = frame.locator('[data-testid=history-item][data-phase=failed]').first();
    await failed.waitFor();
    await failed.locator('[data-testid=history-status]', { hasText: 'Failed: The server has too many edits waiting' }).waitFor();
    assert.equal(await failed.locator('[data-testid=phase-icon]').innerText(), '!');
    const layer = await failed.locator('[data-testid=layer-name]').innerText();
    await failed.scrollIntoViewIfNeeded();
    await shot(ui, 'failed', theme);

    // once the others are done, Retry runs the same layer again and it is placed
    const group = frame.locator('[data-testid=history-group]');
    await frame.waitForFunction(
      () => (globalThis as any).document.querySelectorAll('[data-testid=history-group] [data-testid=history-item]:is([data-phase=queued], [data-phase=running], [data-phase=placing])').length === 0,
      undefined,
      { timeout: 60_000 },
    );
    const placedBefore = main.placed.length;
    // "Select the result": once for the batch, with its last result, not once per layer
    assert.deepEqual(
      main.placed.map((request) => request.afterPlacing),
      [...Array(placedBefore - 1).fill('stay'), 'select'],
    );
    await frame.locator('[data-testid=history-item][data-phase=failed] [data-testid=fix-retry]').first().click();
    await frame.locator('[data-testid=history-item][data-phase=done] [data-testid=layer-name]', { hasText: layer }).waitFor({ timeout: 60_000 });
    assert.equal(main.placed.length, placedBefore + 1);
    assert.equal(main.placed.at(-1)?.provenance.sourceNodeId, layers.find((candidate) => candidate.name === layer)?.nodeId);
    assert.equal(await group.locator('[data-testid=history-item]').count(), 3, 'retried in its place in the group');
  });

  test(`errors carry their fix (${theme}): Open parameters for a refused value, Place beside when replacing fills fails`, { skip }, async (t) => {
    // A remembered guidance the server refuses (it takes 0..100): not one of the advertised limits.
    const parameters = custom({ steps: 3, size: 128, guidanceScale: 150 });
    const { ui, main, frame } = await openAsync(t, theme, { settings: { parameters, placement: 'replace-fills' } });
    main.refuseReplaceFills = true;
    await connectedAsync(ui);
    await main.selectAsync([HERO]);
    await frame.locator('#instruction').fill('add snow');
    await frame.locator('#instruction').press('Enter');
    const failed = frame.locator('[data-testid=history-item][data-phase=failed]');
    await failed.locator('[data-testid=history-status]', { hasText: 'guidance must be a number from 0 to 100' }).waitFor();
    assert.equal(await failed.locator('[data-testid=fix-retry]').count(), 0, 'running it again would fail the same way');
    await failed.scrollIntoViewIfNeeded();
    await shot(ui, 'error-open-parameters', theme);
    await failed.locator('[data-testid=fix-open-parameters]').click();
    const guidance = frame.locator('#parameter-guidanceScale');
    await guidance.waitFor();
    await guidance.fill('7.5');
    await guidance.press('Tab');

    // replace-fills refused by main: the result is kept, and Place beside puts it beside the original
    await frame.locator('#instruction').fill('add snow');
    await frame.locator('#instruction').press('Enter');
    const result = frame.locator('[data-testid=result][data-phase=done]');
    await result.getByText('has no fills to replace').waitFor({ timeout: 30_000 });
    assert.equal(main.placed.length, 0);
    await result.locator('[data-testid=fix-place-beside]').scrollIntoViewIfNeeded();
    await shot(ui, 'error-place-beside', theme);
    await result.locator('[data-testid=fix-place-beside]').click();
    await frame.locator('[data-testid=history-item][data-phase=done]', { hasText: 'Placed · seed' }).waitFor();
    assert.equal(main.placed.length, 1);
    assert.equal(main.placed[0].placement, 'beside');
    assert.equal(main.placed[0].provenance.parameters.guidanceScale, 7.5);
    assert.equal(await frame.locator('[data-testid=fix-place-beside]').count(), 0, 'the fix goes once it has worked');
  });

  test(`errors carry their fix (${theme}): a rejected token offers Open settings`, { skip }, async (t) => {
    const { ui, frame } = await openAsync(t, theme, { settings: { token: 'not-the-token-0000000' } });
    await frame.locator('[data-testid=connection][data-state=token-rejected]').waitFor();
    const advice = frame.locator('[data-testid=connection-advice]');
    await advice.locator('[data-testid=open-settings]', { hasText: 'Open settings' }).waitFor();
    await shot(ui, 'error-open-settings', theme);
    await advice.locator('[data-testid=open-settings]').click();
    await frame.locator('#server-token').fill(TEST_TOKEN);
    // Save is possible only after a successful test with these values
    await frame.locator('[data-testid=test-connection]').click();
    await frame.locator('[data-testid=save-settings]:not([disabled])').click();
    await connectedAsync(ui);
    assert.equal(await frame.locator('[data-testid=connection-advice]').count(), 0);
  });

  test(`character count and clamping (${theme}): a live count against the server's limit; steps and size lowered to its limits`, { skip }, async (t) => {
    const parameters = custom({ steps: 500, size: 2048 });
    const limits = { ...DEFAULT_LIMITS, maxInstructionLength: 40, maxSteps: 3, maxEditSize: 200 };
    const { ui, main, frame } = await openAsync(t, theme, { settings: { parameters }, server: { limits } });
    await connectedAsync(ui);
    await main.selectAsync([HERO]);
    // the summary shows what will be used: 3 steps, 192 px (the largest multiple of 64 under 200)
    await frame.locator('[data-testid=settings-summary]', { hasText: "Custom · 3 steps · 192 px · random seed · lowered to the server's limits" }).waitFor();

    const count = frame.locator('[data-testid=character-count]');
    await count.getByText('0 / 40').waitFor();
    const long = 'make the sky a deep orange sunset glow 🌅🌅'; // 39 + 2 emoji, each one character (4 UTF-16 units)
    await frame.locator('#instruction').fill(long);
    assert.equal(await count.innerText(), `${[...long].length} / 40: shorten it`);
    assert.equal([...long].length, 41);
    assert.equal(await count.getAttribute('data-over'), 'true');
    assert.equal(await frame.locator('[data-testid=submit]').isDisabled(), true);
    await frame.locator('#instruction').press('Enter');
    await shot(ui, 'character-count', theme);
    assert.equal(main.exportRequests.length, 0, 'too long: nothing is sent');
    assert.equal(await frame.locator('[data-testid=notice]').count(), 0, 'the count says it; no second message');

    await frame.locator('#instruction').fill('make the sky orange 🌅');
    assert.equal(await count.innerText(), '21 / 40');
    await frame.locator('#instruction').press('Enter');
    await frame.locator('[data-testid=history-item][data-phase=done]').waitFor({ timeout: 30_000 });
    assert.equal(main.placed[0].provenance.parameters.steps, 3);
    assert.equal(main.placed[0].provenance.parameters.size, 192);
  });

  test(`notices (${theme}): each appears once and clears itself when it no longer applies`, { skip }, async (t) => {
    const { ui, main, frame } = await openAsync(t, theme);
    await connectedAsync(ui);
    const notice = frame.locator('[data-testid=notice]');
    // empty instruction: typing clears it
    await frame.locator('[data-testid=submit]').click();
    await notice.getByText('Type what to change').waitFor();
    await frame.locator('#instruction').fill('add a rainbow');
    assert.equal(await notice.count(), 0);

    // nothing selected: said once (not also in the selection line), twice Enter is still once
    await frame.locator('#instruction').press('Enter');
    await notice.getByText('Select a frame, group or image to edit.').waitFor();
    await frame.locator('#instruction').press('Enter');
    assert.equal(await frame.getByText('Select a frame, group or image to edit.').count(), 1);
    await shot(ui, 'notice', theme);
    await main.selectAsync([HERO]);
    await notice.waitFor({ state: 'detached' });
    await frame.locator('[data-testid=selection]', { hasText: 'Editing: Hero image' }).waitFor();
    assert.equal(main.exportRequests.length, 0);
  });

  test(`resize handle (${theme}): dragging the corner asks main for the new size, throttled and within the limits; the layout follows`, { skip }, async (t) => {
    const { ui, frame } = await openAsync(t, theme);
    await connectedAsync(ui);
    // Room around the window to grow into, as the Figma canvas gives it.
    await ui.page.setViewportSize({ width: 900, height: 900 });
    const handle = frame.locator('[data-testid=resize-handle]');
    const corner = await boxInWindowAsync(ui, '[data-testid=resize-handle]');
    assert.ok(corner.x + corner.width <= 360 && corner.y + corner.height <= VIEWPORT_HEIGHT && corner.x > 330 && corner.y > VIEWPORT_HEIGHT - 30, 'in the bottom-right corner');

    const sizes = async () => (await messagesNamedAsync(ui, 'RESIZE_WINDOW')).map((message) => message.args[0] as WindowSize);
    // What main does with RESIZE_WINDOW (figma.ui.resize): the window takes the size, so the corner
    // follows the pointer as in Figma.
    const followAsync = async () => {
      const size = (await sizes()).at(-1);
      if (size) await ui.page.evaluate(({ width, height }) => {
        const iframe = (globalThis as any).document.getElementById('plugin-ui');
        iframe.width = String(width);
        iframe.height = String(height);
      }, size);
    };
    const dragAsync = async (dx: number, dy: number, moves: number) => {
      const box = await handle.boundingBox();
      assert.ok(box);
      const x = box.x + box.width / 2;
      const y = box.y + box.height / 2;
      await ui.page.mouse.move(x, y);
      await ui.page.mouse.down();
      for (let i = 1; i <= moves; i++) {
        await ui.page.mouse.move(x + (dx * i) / moves, y + (dy * i) / moves);
        await followAsync();
      }
      // The window follows a throttled size, a step or two behind the pointer; a designer's pointer
      // rests at the end: once the window has caught up, the same point is over the corner again.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await followAsync();
      await ui.page.mouse.move(x + dx + 0.5, y + dy + 0.5);
      await ui.page.mouse.move(x + dx, y + dy);
      await ui.page.mouse.up();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await followAsync();
    };

    await dragAsync(100, 50, 60);
    // (within 2 px: when the window lags the pointer, the pointer's last move may fall outside it)
    const last = (await sizes()).at(-1)!;
    assert.ok(Math.abs(last.width - 460) <= 2 && Math.abs(last.height - (VIEWPORT_HEIGHT + 50)) <= 2, `the last size is where the pointer stopped: ${JSON.stringify(last)}`);
    // the layout uses the width
    const body = await boxInWindowAsync(ui, '[data-testid=body]');
    assert.equal(Math.round(body.width), last.width);
    await shot(ui, 'resize', theme);

    // 50 pointer moves within one frame's time: the first size and the last, not 50 messages
    const before = (await sizes()).length;
    // (no named functions in here: tsx would wrap them in a helper the page does not have)
    await handle.evaluate((element) => {
      const events: Array<[string, number]> = [['pointerdown', 0]];
      for (let dx = 1; dx <= 50; dx++) events.push(['pointermove', dx]);
      events.push(['pointerup', 50]);
      for (const [type, dx] of events) element.dispatchEvent(new PointerEvent(type, { bubbles: true, pointerId: 7, screenX: 1000 + dx, screenY: 1000 }));
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const burst = (await sizes()).slice(before);
    assert.ok(burst.length <= 2, `${burst.length} messages for 50 moves: throttled`);
    assert.deepEqual(burst.at(-1), { width: 460 + 50, height: VIEWPORT_HEIGHT + 50 });
    await followAsync();

    // smaller than the smallest window: clamped to it
    await dragAsync(-200, -250, 40);
    assert.deepEqual((await sizes()).at(-1), MIN_WINDOW_SIZE);

    // and from the keyboard
    await handle.focus();
    await ui.page.keyboard.press('ArrowRight');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual((await sizes()).at(-1), { width: MIN_WINDOW_SIZE.width + 10, height: MIN_WINDOW_SIZE.height });
  });
}
