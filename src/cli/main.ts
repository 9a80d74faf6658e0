#!/usr/bin/env node
/**
 * The `burrow` executable: {@link runCli} with the real process's streams, environment and signals.
 * The compile cache comes first, so every module loaded after it (the commands, the server) is
 * compiled once and then read from the cache (compile-cache.ts).
 */
import { startCompileCache } from './compile-cache.js';

startCompileCache(process.env);
const { processIo } = await import('./io.js');
const { runCli } = await import('./run-cli.js');
process.exitCode = await runCli(process.argv.slice(2), processIo());
