// `npm run tiny-bundle` (with --force to rebuild) and the first step of `npm test` / `npm start`.
import { ensureGeneratedBundleAsync } from './ensure-generated-bundle.ts';
import { BENCH_BUNDLE_CONFIG, TINY_BUNDLE_CONFIG } from './generated-bundle-config.ts';

const force = process.argv.includes('--force');
const config = process.argv.includes('--bench') ? BENCH_BUNDLE_CONFIG : TINY_BUNDLE_CONFIG;
const result = await ensureGeneratedBundleAsync(config, { force });
console.log(result.created ? `Generated the ${config.name} bundle in ${result.directory} (${(result.milliseconds / 1000).toFixed(1)} s).` : `The ${config.name} bundle is up to date in ${result.directory}.`);
