// The bundle an edit would use: manifest, files, checksums, size and precision, without loading it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { inspectBundleAsync } from '../../engine/bundle/inspect-bundle-async.ts';
import { isMgieError } from '../../engine/errors.ts';
import { tinyBundleDir } from '../../../models/tiny/ensure-generated-bundle.ts';
import { TINY_BUNDLE_CONFIG } from '../../../models/tiny/generated-bundle-config.ts';
import { generatorStamp } from '../../../models/tiny/write-generated-bundle.ts';
import { check, type DoctorCheck, formatBytes } from './doctor-check.ts';

export interface BundleCheck {
  check: DoctorCheck;
  /** Bytes of the bundle folder, for the memory check; undefined when unknown. */
  bytes?: number;
}

export async function checkBundleAsync(bundle: string | undefined): Promise<BundleCheck> {
  const dir = bundle ? path.resolve(bundle) : tinyBundleDir();
  const label = bundle ? dir : `the tiny demo bundle (${path.relative(process.cwd(), dir) || dir})`;
  if (!bundle && !(await isCurrentTinyBundleAsync(dir))) {
    return { check: check('ok', 'bundle', `${label}: generated on first use by mgie serve or mgie edit (a few seconds, about 3 MB)`) };
  }
  try {
    const found = await inspectBundleAsync(dir);
    const weights = found.manifest.llm.weights;
    // A quantized LLM is what decides whether a 7B fits a laptop: say it next to the precision.
    const llm = weights?.blockSize ? ` (LLM ${weights.format}, blocks of ${weights.blockSize})` : '';
    const precision = (found.precision ?? 'precision not recorded in the manifest') + llm;
    const checksums = found.checkedFiles > 0 ? `${found.checkedFiles} checksums match` : 'no checksums in the manifest';
    const demo = bundle ? '' : '; random weights, edits are not meaningful';
    return {
      check: check('ok', 'bundle', `${label}: "${found.manifest.name}", ${formatBytes(found.totalBytes)}, ${precision}, ${checksums}${demo}`),
      bytes: found.totalBytes,
    };
  } catch (error) {
    if (!isMgieError(error)) throw error;
    return { check: check('fail', 'bundle', error.message) };
  }
}

async function isCurrentTinyBundleAsync(dir: string): Promise<boolean> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'mgie-bundle.json'), 'utf8'))?.generator?.stamp === generatorStamp(TINY_BUNDLE_CONFIG);
  } catch {
    return false;
  }
}
