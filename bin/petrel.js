#!/usr/bin/env node
// The `petrel` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare) or `npm run build`.
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli/main.js')) {
    process.stderr.write('petrel: not built yet: run "npm ci" or "npm run build" first\n');
    process.exit(1);
  }
  throw err;
}

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => {
    process.stderr.write(`petrel: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
