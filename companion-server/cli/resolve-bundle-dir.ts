import { ensureGeneratedBundleAsync } from '../../models/tiny/ensure-generated-bundle.ts';
import { TINY_BUNDLE_CONFIG } from '../../models/tiny/generated-bundle-config.ts';

export const TINY_BUNDLE_NOTICE =
  'Using the tiny demo bundle: its weights are random, so its edits are not meaningful. For real edits convert the MGIE weights (models/README.md) and pass --bundle.';

/** The bundle to use: the one given, or the tiny demo bundle, generated on first use (said on stderr, also with --json). */
export async function resolveBundleDirAsync(bundle: string | undefined): Promise<string> {
  if (bundle) return bundle;
  const { directory, created } = await ensureGeneratedBundleAsync(TINY_BUNDLE_CONFIG);
  process.stderr.write(`${created ? `Generated the tiny bundle in ${directory}.\n` : ''}${TINY_BUNDLE_NOTICE}\n`);
  return directory;
}
