// Mutation testing (issue 14): `npm run mutate`. Not part of CI or `npm test`: a full run takes a long
// time on two cores. Run it when the engine, the request guards, the job queue or the plugin's placement
// and provenance change; test/mutation/REPORT.md records the last score and the survivors judged equivalent.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: [
    'companion-server/engine/**/*.ts',
    'companion-server/server/request-guards.ts',
    'companion-server/server/job-queue.ts',
    'plugin/place-result-async.ts',
    'plugin/private/find-free-position.ts',
    'plugin/private/name-result-layer.ts',
    'plugin/read-provenance.ts',
    'plugin/find-provenance-of-selection.ts',
  ],
  // "tap-ordered" is Stryker's TAP runner for node's test runner, running the test files in the order
  // the patterns below give (test/mutation/ordered-tap-runner.js): a file's rank is the last pattern
  // that matches it. Fast, focused files first; those that load ONNX sessions after them, the one that
  // kills the most bundle mutants first among them; the real-server guard tests last.
  testRunner: 'tap-ordered',
  plugins: ['@stryker-mutator/tap-runner', './test/mutation/ordered-tap-runner.js'],
  tap: {
    // Only the tests of the mutated parts (not the browser UI tests, the CLI or the model builders).
    testFiles: [
      'test/plugin/*.test.ts',
      'test/server/job-queue*.test.ts',
      'test/server/request-guards*.test.ts',
      'test/engine/*.test.ts',
      'test/engine/generation.test.ts',
      'test/engine/bundle-defects.test.ts',
      'test/engine/bundle-files.test.ts',
      'test/engine/pipeline.test.ts',
      'test/engine/stage-contracts.test.ts',
      'test/engine/float16-bundle.test.ts',
      'test/engine/seed-zero.test.ts',
      'test/engine/execution-providers.test.ts',
      'test/server/request-guards-hostile.test.ts',
    ],
    // Each test file runs in its own node process, TypeScript through tsx, like `npm test`.
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap', '-r', '{{hookFile}}', '{{testFile}}'],
  },
  // The TAP runner reports one "test" per test file, so perTest means: each mutant runs only the
  // test files that executed it during the dry run.
  coverageAnalysis: 'perTest',
  // Later runs redo only the mutants whose code or covering tests changed.
  incremental: true,
  incrementalFile: 'test/mutation/stryker-incremental.json',
  // Two cores: two test processes at a time.
  concurrency: 2,
  // A mutant that makes a loop run forever is a timeout after 1.5x the file's dry-run time plus 5 s.
  timeoutFactor: 1.5,
  timeoutMS: 5000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 90, low: 85, break: null },
};
