/** Browser entry of the crypto benchmark: exposes the workload to the page for the Node driver. */
import { runCryptoBench } from './crypto-workload.js';

(globalThis as { runCryptoBench?: typeof runCryptoBench }).runCryptoBench = runCryptoBench;
