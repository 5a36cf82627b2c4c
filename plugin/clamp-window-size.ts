// The plugin window's size within MIN/MAX_WINDOW_SIZE, in whole px; anything that is not a size (an old or
// damaged saved value) reads as the default.
import { DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE, MIN_WINDOW_SIZE, type WindowSize } from './types.ts';

export function clampWindowSize(size: unknown): WindowSize {
  const value = typeof size === 'object' && size !== null ? (size as Record<string, unknown>) : {};
  return {
    width: clamp(value.width, MIN_WINDOW_SIZE.width, MAX_WINDOW_SIZE.width, DEFAULT_WINDOW_SIZE.width),
    height: clamp(value.height, MIN_WINDOW_SIZE.height, MAX_WINDOW_SIZE.height, DEFAULT_WINDOW_SIZE.height),
  };
}

function clamp(value: unknown, min: number, max: number, fallback: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.round(value)));
}
