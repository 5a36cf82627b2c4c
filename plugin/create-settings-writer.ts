// Every write of the settings goes through one queue: clientStorage is async, so a window resize and a
// SAVE_SETTINGS from the UI that overlap could otherwise each load, change and save, and one be lost.
import type { PluginSettings } from './types.ts';

export interface SettingsStorage {
  loadAsync(): Promise<PluginSettings>;
  saveAsync(settings: PluginSettings): Promise<void>;
}

export interface SettingsWriter {
  /** Loads the saved settings, applies `change` and saves the result, after every earlier update. */
  updateAsync(change: (saved: PluginSettings) => PluginSettings): Promise<void>;
}

export function createSettingsWriter(storage: SettingsStorage): SettingsWriter {
  let previous: Promise<unknown> = Promise.resolve();
  return {
    updateAsync(change) {
      const run = previous.then(async () => storage.saveAsync(change(await storage.loadAsync())));
      previous = run.catch(() => undefined);
      return run;
    },
  };
}
