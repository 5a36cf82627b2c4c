// This process's memory as Linux counts it (/proc/self/status): resident memory split into anonymous
// pages (the heap, arenas, weights onnxruntime copied) and file-backed ones (mapped files: code, and
// weights mapped from external-data files), to tell whether a weight sits in memory once and where.
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  /** Resident now, MiB. */
  rssMB: number;
  /** Peak resident since the process started, MiB. */
  peakRssMB: number;
  anonMB: number;
  fileMB: number;
}

export function readProcessMemory(): ProcessMemory {
  let text = '';
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // Not Linux: only what Node itself knows.
    const rss = process.memoryUsage.rss() / 2 ** 20;
    return { rssMB: rss, peakRssMB: process.resourceUsage().maxRSS / 1024, anonMB: Number.NaN, fileMB: Number.NaN };
  }
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rssMB: kib('VmRSS') / 1024, peakRssMB: kib('VmHWM') / 1024, anonMB: kib('RssAnon') / 1024, fileMB: kib('RssFile') / 1024 };
}
