#!/usr/bin/env node
// The `petrel` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => {
    process.stderr.write(`petrel: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
