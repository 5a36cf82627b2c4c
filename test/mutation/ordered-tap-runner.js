// Stryker's TAP runner ("tap"), with one change: test files run in the order of the `tap.testFiles`
// patterns instead of the order the file system lists them. Each test file is one "test" to Stryker,
// a mutant runs the files that covered it one after the other and stops at the first failing one, so
// listing the fast, focused test files first and the files that load ONNX sessions last makes a killed
// mutant cheap. A file's rank is the LAST pattern that matches it (so a catch-all pattern can come
// before the explicit slow files); files of one rank run in name order. A pattern that starts with
// "!" leaves out the files it matches (stryker.fast.config.mjs uses that).
import path from 'node:path';
import { INSTRUMENTER_CONSTANTS } from '@stryker-mutator/api/core';
import { commonTokens, declareFactoryPlugin, PluginKind, tokens } from '@stryker-mutator/api/plugin';
import { TapTestRunner } from '@stryker-mutator/tap-runner';

export function orderTestFiles(files, patterns) {
  const excluded = patterns.filter((pattern) => pattern.startsWith('!')).map((pattern) => pattern.slice(1));
  const included = patterns.filter((pattern) => !pattern.startsWith('!'));
  const rank = (file) => included.findLastIndex((pattern) => path.matchesGlob(file, pattern));
  return files.filter((file) => !excluded.some((pattern) => path.matchesGlob(file, pattern))).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

class OrderedTapTestRunner extends TapTestRunner {
  static inject = TapTestRunner.inject;

  async init() {
    await super.init();
    this.testFiles = orderTestFiles(this.testFiles, this.options.tap.testFiles);
  }
}

function createOrderedTapTestRunner(injector) {
  return injector.provideValue('globalNamespace', INSTRUMENTER_CONSTANTS.NAMESPACE).injectClass(OrderedTapTestRunner);
}
createOrderedTapTestRunner.inject = tokens(commonTokens.injector);

export const strykerPlugins = [declareFactoryPlugin(PluginKind.TestRunner, 'tap-ordered', createOrderedTapTestRunner)];
