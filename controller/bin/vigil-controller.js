#!/usr/bin/env node
"use strict";
require("../dist/main.js")
  .main(process.argv.slice(2))
  .then(
    (code) => {
      if (typeof code === "number") process.exitCode = code;
    },
    (err) => {
      console.error(`vigil-controller: ${err && err.message ? err.message : err}`);
      process.exitCode = 1;
    },
  );
