// The resizable window: sizes clamped to MIN/MAX_WINDOW_SIZE in whole px, damaged saved values read as
// the default, and settings writes that cannot overtake each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampWindowSize } from '../../plugin/clamp-window-size.ts';
import { createSettingsWriter } from '../../plugin/create-settings-writer.ts';
import { DEFAULT_SETTINGS, DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE, MIN_WINDOW_SIZE, type PluginSettings } from '../../plugin/types.ts';

test('clampWindowSize keeps sizes in range, rounds them, and reads anything else as the default', () => {
  assert.deepEqual(clampWindowSize({ width: 360, height: 600 }), { width: 360, height: 600 });
  assert.deepEqual(clampWindowSize({ width: 480.6, height: 720.4 }), { width: 481, height: 720 });
  assert.deepEqual(clampWindowSize({ width: 10, height: 99999 }), { width: MIN_WINDOW_SIZE.width, height: MAX_WINDOW_SIZE.height });
  assert.deepEqual(clampWindowSize({ width: 5000, height: -3 }), { width: MAX_WINDOW_SIZE.width, height: MIN_WINDOW_SIZE.height });
  assert.deepEqual(clampWindowSize(MIN_WINDOW_SIZE), MIN_WINDOW_SIZE);
  assert.deepEqual(clampWindowSize(MAX_WINDOW_SIZE), MAX_WINDOW_SIZE);
  for (const bad of [undefined, null, 'big', 7, {}, { width: '500', height: Number.NaN }, { width: Infinity, height: 700 }]) {
    const size = clampWindowSize(bad);
    assert.equal(size.width, DEFAULT_WINDOW_SIZE.width, JSON.stringify(bad));
  }
  assert.deepEqual(clampWindowSize({ width: Infinity, height: 700 }), { width: 360, height: 700 });
});

test('settings updates run one after another, each on what the previous saved', async () => {
  let stored: PluginSettings = DEFAULT_SETTINGS;
  const log: string[] = [];
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
  const writer = createSettingsWriter({
    async loadAsync() {
      log.push('load');
      await pause();
      return stored;
    },
    async saveAsync(settings) {
      log.push('save');
      await pause();
      stored = settings;
    },
  });
  await Promise.all([
    writer.updateAsync((saved) => ({ ...saved, windowSize: { width: 500, height: 700 } })),
    writer.updateAsync((saved) => ({ ...saved, token: 'new-token' })),
  ]);
  // without the queue both would load the defaults and the second save would drop the window size
  assert.deepEqual(log, ['load', 'save', 'load', 'save']);
  assert.deepEqual(stored, { ...DEFAULT_SETTINGS, windowSize: { width: 500, height: 700 }, token: 'new-token' });
});

test('a failed update rejects for its caller but does not stop the next', async () => {
  let stored = DEFAULT_SETTINGS;
  let fail = true;
  const writer = createSettingsWriter({
    loadAsync: async () => stored,
    async saveAsync(settings) {
      if (fail) {
        fail = false;
        throw new Error('storage full');
      }
      stored = settings;
    },
  });
  const first = writer.updateAsync((saved) => ({ ...saved, token: 'a' }));
  const second = writer.updateAsync((saved) => ({ ...saved, serverUrl: 'http://gpu-box:8765' }));
  await assert.rejects(first, /storage full/);
  await second;
  assert.deepEqual(stored, { ...DEFAULT_SETTINGS, serverUrl: 'http://gpu-box:8765' });
});
