#!/usr/bin/env node
import { main } from './program';
import { processIo } from './io';

main(process.argv.slice(2), processIo).then(
  // Registry watchers and client sockets may outlive a command by a timer tick: the answer is printed, so leave.
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`PLEXUS_ERR_CLI_UNEXPECTED: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
