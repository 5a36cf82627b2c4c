// Prints the mutation score per file and the mutants that were not killed, from Stryker's JSON
// report (default: the incremental file, which always holds the latest result of every mutant).
//   node test/mutation/summarize.js [report.json] [--survivors]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? 'test/mutation/stryker-incremental.json';
const report = JSON.parse(readFileSync(file, 'utf8'));

const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const rows = [];
const totals = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 };
for (const [name, { mutants, source }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const count = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 };
  for (const m of mutants) count[m.status in count ? m.status : 'other']++;
  for (const key of Object.keys(totals)) totals[key] += count[key];
  rows.push({ name, count, source, mutants });
}

const score = (c) => {
  const detected = c.Killed + c.Timeout;
  const valid = detected + c.Survived + c.NoCoverage;
  return valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(1)}%`;
};
console.log('| file | score | killed | timeout | survived | no coverage | invalid |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const { name, count } of rows) {
  console.log(`| ${name} | ${score(count)} | ${count.Killed} | ${count.Timeout} | ${count.Survived} | ${count.NoCoverage} | ${count.other} |`);
}
console.log(`| **all** | **${score(totals)}** | ${totals.Killed} | ${totals.Timeout} | ${totals.Survived} | ${totals.NoCoverage} | ${totals.other} |`);

if (args.includes('--survivors')) {
  for (const { name, source, mutants } of rows) {
    const lines = source.split('\n');
    for (const m of mutants.filter((x) => UNDETECTED.has(x.status)).sort((a, b) => a.location.start.line - b.location.start.line)) {
      const { start, end } = m.location;
      const original = start.line === end.line ? lines[start.line - 1].slice(start.column - 1, end.column - 1) : `${lines[start.line - 1].slice(start.column - 1)}…`;
      console.log(`${name}:${start.line}:${start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(original).slice(0, 80)} -> ${JSON.stringify(m.replacement ?? '').slice(0, 80)}`);
    }
  }
}
