// Reads and validates the provenance a placed result carries; anything malformed reads as none. The
// designer-feature fields are optional (older results lack them) but, when present, must have their type
// and agree with each other (a chain step within its chain, a variation within its count).
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
    isString(p.scheduler) &&
    hasValidExtras(value)
  );
}

const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1;

function hasValidExtras(value: Record<string, unknown>): boolean {
  const { expressiveInstructionSource: source, masked, chain, chainStep, variation, variations } = value;
  if (source !== undefined && source !== 'model' && source !== 'given') return false;
  if (masked !== undefined && typeof masked !== 'boolean') return false;
  // chain and chainStep come together: a step means nothing without its chain
  if ((chain === undefined) !== (chainStep === undefined)) return false;
  if (chain !== undefined) {
    if (!Array.isArray(chain) || chain.length === 0 || !chain.every(isString)) return false;
    if (!isCount(chainStep) || chainStep > chain.length) return false;
  }
  if ((variation === undefined) !== (variations === undefined)) return false;
  if (variations !== undefined && !(isCount(variations) && isCount(variation) && variation <= variations)) return false;
  return true;
}
