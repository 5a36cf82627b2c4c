// `npm run mutate:fast`: the same mutants, tested only with the fast test files (none that loads a
// whole pipeline or starts a server). A mutant that only those slow files would kill counts as
// survived, and code only they run as not covered, so its score is a lower bound of `npm run mutate`'s.
// It keeps its own incremental file and reports (in the git-ignored reports/), so it never replaces a
// full run's results with its weaker ones.
import config from './stryker.config.mjs';

const SLOW = [
  'test/engine/bundle-defects.test.ts',
  'test/engine/pipeline.test.ts',
  'test/engine/stage-contracts.test.ts',
  'test/engine/float16-bundle.test.ts',
  'test/engine/seed-zero.test.ts',
  'test/engine/execution-providers.test.ts',
  'test/server/request-guards-hostile.test.ts',
];

export default {
  ...config,
  incrementalFile: 'reports/mutation-fast/stryker-incremental.json',
  htmlReporter: { fileName: 'reports/mutation-fast/index.html' },
  jsonReporter: { fileName: 'reports/mutation-fast/mutation.json' },
  tap: {
    ...config.tap,
    testFiles: [...config.tap.testFiles.filter((pattern) => !SLOW.includes(pattern)), ...SLOW.map((file) => `!${file}`)],
  },
};
