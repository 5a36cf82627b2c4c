// Reads and validates the provenance a placed result carries; anything malformed reads as none.
import type { CanvasNode } from './figma-api.ts';
import { type Provenance, PROVENANCE_KEY } from './types.ts';

export function readProvenance(node: Pick<CanvasNode, 'getPluginData'>): Provenance | undefined {
  const text = node.getPluginData(PROVENANCE_KEY);
  if (text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isProvenance(value) ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isSeed = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;

function isProvenance(value: unknown): value is Provenance {
  if (!isRecord(value)) return false;
  const p = value.parameters;
  return (
    isString(value.instruction) &&
    isString(value.expressiveInstruction) &&
    isSeed(value.seed) &&
    isString(value.model) &&
    isString(value.sourceNodeId) &&
    isString(value.createdAt) &&
    !Number.isNaN(Date.parse(value.createdAt)) &&
    isRecord(p) &&
    isNumber(p.steps) &&
    isNumber(p.guidanceScale) &&
    isNumber(p.imageGuidanceScale) &&
    isNumber(p.size) &&
    (p.sizeMode === undefined || p.sizeMode === 'fit' || p.sizeMode === 'native') &&
    isSeed(p.seed) &&
    isString(p.scheduler)
  );
}
