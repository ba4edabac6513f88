'use strict';
// The spec reporter, then one closing line that CI reads: "N passed, N failed[, N skipped]",
// counted from the real results. Inside a multi-pass run (test/support/run-passes.mjs sets
// PATCHBAY_TEST_PASS and PATCHBAY_TEST_TOTALS) the line names its pass and the totals go to the
// file, for the runner's one closing line over every pass.
const { writeFileSync } = require('node:fs');
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats;
      const skipped = pending ? `, ${pending} skipped` : '';
      const pass = process.env.PATCHBAY_TEST_PASS;
      process.stdout.write(`\n${pass ? `${pass} pass: ` : ''}${passes} passed, ${failures} failed${skipped}\n`);
      if (process.env.PATCHBAY_TEST_TOTALS) writeFileSync(process.env.PATCHBAY_TEST_TOTALS, JSON.stringify({ passes, failures, pending }));
    });
  }
}

module.exports = SummaryReporter;
