#!/usr/bin/env node
/** The `burrow` executable: {@link runCli} with the real process's streams, environment and signals. */
import { processIo } from './io.js';
import { runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), processIo());
