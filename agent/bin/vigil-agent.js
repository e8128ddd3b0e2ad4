#!/usr/bin/env node
"use strict";
require("../dist/main.js")
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(`vigil-agent: ${err && err.stack ? err.stack : err}`);
      process.exitCode = 1;
    },
  );
