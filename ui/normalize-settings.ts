// Settings come from figma.clientStorage, which may hold what an older version (or nothing) wrote:
// keep each field only when it has the right type, else use the default.
import {
  DEFAULT_SETTINGS,
  MAX_RECENT_INSTRUCTIONS,
  MAX_WINDOW_SIZE,
  MIN_WINDOW_SIZE,
  type ParameterSettings,
  type PluginSettings,
  type WindowSize,
} from '../plugin/types.ts';

export function normalizeSettings(raw: unknown): PluginSettings {
  const value = isRecord(raw) ? raw : {};
  const parameters = isRecord(value.parameters) ? value.parameters : {};
  const defaults = DEFAULT_SETTINGS.parameters;
  const pick = <T>(candidate: unknown, fallback: T, ok: (v: unknown) => boolean): T => (ok(candidate) ? (candidate as T) : fallback);
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const normalized: ParameterSettings = {
    preset: pick(parameters.preset, defaults.preset, (v) => v === 'default' || v === 'reference' || v === 'custom'),
    steps: pick(parameters.steps, defaults.steps, isNumber),
    guidanceScale: pick(parameters.guidanceScale, defaults.guidanceScale, isNumber),
    imageGuidanceScale: pick(parameters.imageGuidanceScale, defaults.imageGuidanceScale, isNumber),
    size: pick(parameters.size, defaults.size, isNumber),
    sizeMode: pick(parameters.sizeMode, defaults.sizeMode, (v) => v === 'fit' || v === 'native'),
    seedMode: pick(parameters.seedMode, defaults.seedMode, (v) => v === 'random' || v === 'fixed'),
    seed: pick(parameters.seed, defaults.seed, isNumber),
  };
  return {
    serverUrl: pick(value.serverUrl, DEFAULT_SETTINGS.serverUrl, (v) => typeof v === 'string' && v.trim() !== ''),
    token: pick(value.token, DEFAULT_SETTINGS.token, (v) => typeof v === 'string'),
    parameters: normalized,
    placement: pick(value.placement, DEFAULT_SETTINGS.placement, (v) => v === 'beside' || v === 'replace-fills'),
    recentInstructions: Array.isArray(value.recentInstructions)
      ? value.recentInstructions.filter((item): item is string => typeof item === 'string').slice(0, MAX_RECENT_INSTRUCTIONS)
      : [],
    afterPlacing: pick(value.afterPlacing, DEFAULT_SETTINGS.afterPlacing, (v) => v === 'stay' || v === 'select'),
    chainPlacement: pick(value.chainPlacement, DEFAULT_SETTINGS.chainPlacement, (v) => v === 'final' || v === 'every-step'),
    windowSize: clampWindowSize(isRecord(value.windowSize) ? value.windowSize : {}),
  };
}

/** A remembered window size within the limits figma.ui.resize is called with (defaults where missing). */
export function clampWindowSize(size: { width?: unknown; height?: unknown }): WindowSize {
  const side = (v: unknown, fallback: number, min: number, max: number) =>
    typeof v === 'number' && Number.isFinite(v) ? Math.round(Math.min(max, Math.max(min, v))) : fallback;
  return {
    width: side(size.width, DEFAULT_SETTINGS.windowSize.width, MIN_WINDOW_SIZE.width, MAX_WINDOW_SIZE.width),
    height: side(size.height, DEFAULT_SETTINGS.windowSize.height, MIN_WINDOW_SIZE.height, MAX_WINDOW_SIZE.height),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
