/**
 * The crypto benchmark's workload, shared by Node and Chromium (no Node modules): seal + sign
 * and verify + open of one message, each against raw WebCrypto AES-256-GCM encrypt / decrypt of
 * the same bytes, measured in the same run and interleaved round by round so that drift (CPU
 * frequency, GC, other load) hits both sides alike.
 */
import { randomBytes } from '../src/crypto/bytes.js';
import { parseEnvelopePrefix } from '../src/crypto/envelope.js';
import { prepareMessageSubject, MESSAGE_SUBJECT } from './crypto-subject.js';

/** One measured operation. */
export interface BenchFigure {
  name: string;
  /** Median over rounds of operations per second. */
  opsPerSec: number;
  /** opsPerSec × message size, in MiB/s. */
  mibPerSec: number;
  /** The fastest round: the least disturbed by other load on the machine. */
  bestOpsPerSec: number;
  /** Operations per second in each round. */
  rounds: number[];
  /** Where the environment can tell (Node): median over rounds of CPU ms per operation, all threads. */
  cpuMsPerOp?: number;
  /** CPU ms per operation in each round. */
  cpuRounds?: number[];
}

/** Everything one environment measured. */
export interface CryptoBenchReport {
  environment: string;
  subject: string;
  sizeBytes: number;
  figures: BenchFigure[];
  /**
   * seal+sign ops/s ÷ raw AES-GCM encrypt ops/s, and verify+open ÷ raw decrypt: the median over
   * rounds of each round's ratio (the two are measured back to back, so load drift mostly cancels).
   */
  ratios: { sealVsEncrypt: number; openVsDecrypt: number };
  /** The same ratios for the reference floors: the best any envelope that hashes its ciphertext can do. */
  floorRatios: { sealVsEncrypt: number; openVsDecrypt: number };
  /** The same ratios from each operation's fastest round. */
  bestRatios: { sealVsEncrypt: number; openVsDecrypt: number };
  /**
   * Where CPU time is known (Node): raw CPU ms per operation ÷ the subject's, median over rounds. It
   * counts every thread's work and none of the waiting, so other load on the machine moves it less.
   */
  cpuRatios?: { sealVsEncrypt: number; openVsDecrypt: number };
  /**
   * Time to first audio byte for a toy on a 5 MiB message, the download itself instantaneous (so
   * only the CPU counts): streamed (verify the fields before the chunks, open the first chunk) vs
   * the whole-message path (receive everything, then verify and open). Median ms over rounds,
   * interleaved, and the envelope bytes each needs before its first audio byte (which a real link
   * adds at its own rate).
   */
  firstAudio: { messageBytes: number; streamedMs: number; wholeMs: number; ratio: number; streamedBytesNeeded: number; wholeBytesNeeded: number };
}

/** How long and how big. */
export interface CryptoBenchOptions {
  environment: string;
  sizeBytes?: number;
  rounds?: number;
  roundMs?: number;
  /** The process's CPU time so far in ms, all threads (Node: `process.cpuUsage()`); absent in a browser. */
  cpuMs?: () => number;
}

type Operation = () => Promise<unknown>;

/** Runs `operation` for `ms`: operations per second, and CPU ms per operation when `cpuMs` is given. */
async function timeFor(operation: Operation, ms: number, cpuMs?: () => number): Promise<{ opsPerSec: number; cpuMsPerOp?: number }> {
  let ops = 0;
  const cpuStart = cpuMs?.();
  const start = performance.now();
  let elapsed = 0;
  do {
    await operation();
    ops++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  const opsPerSec = (ops * 1000) / elapsed;
  return cpuMs === undefined || cpuStart === undefined ? { opsPerSec } : { opsPerSec, cpuMsPerOp: (cpuMs() - cpuStart) / ops };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** Runs the benchmark in the current environment. */
export async function runCryptoBench(options: CryptoBenchOptions): Promise<CryptoBenchReport> {
  const sizeBytes = options.sizeBytes ?? 1024 * 1024;
  const roundCount = options.rounds ?? 7;
  const roundMs = options.roundMs ?? 400;
  const subtle = globalThis.crypto.subtle;
  const plaintext = randomBytes(sizeBytes);

  // Raw baseline: one imported AES-256-GCM key, a fresh 96-bit nonce per encryption.
  const aesKey = await subtle.importKey('raw', buf(randomBytes(32)), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const rawIv = buf(randomBytes(12));
  const rawCiphertext = await subtle.encrypt({ name: 'AES-GCM', iv: rawIv }, aesKey, buf(plaintext));
  const subject = await prepareMessageSubject(plaintext);
  const sealed = await subject.seal();
  await subject.open(sealed);

  const operations: Array<[string, Operation]> = [
    ['raw AES-256-GCM encrypt', () => subtle.encrypt({ name: 'AES-GCM', iv: buf(randomBytes(12)) }, aesKey, plaintext as Uint8Array<ArrayBuffer>)],
    ['seal + sign', () => subject.seal()],
    ['raw AES-256-GCM decrypt', () => subtle.decrypt({ name: 'AES-GCM', iv: rawIv }, aesKey, rawCiphertext)],
    ['verify + open', () => subject.open(sealed)],
    // Reference floors for a design that signs SHA-256(ciphertext): the two passes over the data it
    // cannot avoid, with no copies — sequential when sealing (the hash needs the ciphertext),
    // concurrent when opening (hash and decryption both start from the ciphertext).
    ['floor: encrypt, then SHA-256', async () => subtle.digest('SHA-256', await subtle.encrypt({ name: 'AES-GCM', iv: buf(randomBytes(12)) }, aesKey, plaintext as Uint8Array<ArrayBuffer>))],
    ['floor: decrypt ∥ SHA-256', () => Promise.all([subtle.decrypt({ name: 'AES-GCM', iv: rawIv }, aesKey, rawCiphertext), subtle.digest('SHA-256', rawCiphertext)])],
  ];
  for (const [, operation] of operations) await timeFor(operation, roundMs / 2);

  const perRound = operations.map((): number[] => []);
  const cpuPerRound = operations.map((): number[] => []);
  for (let round = 0; round < roundCount; round++) {
    for (const [i, [, operation]] of operations.entries()) {
      const { opsPerSec, cpuMsPerOp } = await timeFor(operation, roundMs, options.cpuMs);
      perRound[i]!.push(opsPerSec);
      if (cpuMsPerOp !== undefined) cpuPerRound[i]!.push(cpuMsPerOp);
    }
  }
  const figures = operations.map(([name], i): BenchFigure => {
    const opsPerSec = median(perRound[i]!);
    const figure: BenchFigure = { name, opsPerSec, mibPerSec: (opsPerSec * sizeBytes) / (1024 * 1024), bestOpsPerSec: Math.max(...perRound[i]!), rounds: perRound[i]! };
    if (cpuPerRound[i]!.length > 0) Object.assign(figure, { cpuMsPerOp: median(cpuPerRound[i]!), cpuRounds: cpuPerRound[i]! });
    return figure;
  });
  const firstAudio = await measureFirstAudio(roundCount);
  const rounds = (name: string) => figures.find((f) => f.name === name)!.rounds;
  const paired = (subject: string, raw: string) => median(rounds(subject).map((r, i) => r / rounds(raw)[i]!));
  const best = (name: string) => figures.find((f) => f.name === name)!.bestOpsPerSec;
  const cpuRounds = (name: string) => figures.find((f) => f.name === name)!.cpuRounds ?? [];
  // CPU per operation is a cost, so raw ÷ subject reads like the throughput ratios.
  const cpuPaired = (subject: string, raw: string) => median(cpuRounds(raw).map((r, i) => r / cpuRounds(subject)[i]!));
  const cpuRatios = options.cpuMs === undefined ? {} : {
    cpuRatios: {
      sealVsEncrypt: cpuPaired('seal + sign', 'raw AES-256-GCM encrypt'),
      openVsDecrypt: cpuPaired('verify + open', 'raw AES-256-GCM decrypt'),
    },
  };
  return {
    environment: options.environment,
    subject: MESSAGE_SUBJECT,
    sizeBytes,
    figures,
    ratios: {
      sealVsEncrypt: paired('seal + sign', 'raw AES-256-GCM encrypt'),
      openVsDecrypt: paired('verify + open', 'raw AES-256-GCM decrypt'),
    },
    floorRatios: {
      sealVsEncrypt: paired('floor: encrypt, then SHA-256', 'raw AES-256-GCM encrypt'),
      openVsDecrypt: paired('floor: decrypt ∥ SHA-256', 'raw AES-256-GCM decrypt'),
    },
    bestRatios: {
      sealVsEncrypt: best('seal + sign') / best('raw AES-256-GCM encrypt'),
      openVsDecrypt: best('verify + open') / best('raw AES-256-GCM decrypt'),
    },
    ...cpuRatios,
    firstAudio,
  };
}

const FIRST_AUDIO_MESSAGE_BYTES = 5 * 1024 * 1024;
/** Pieces as a download delivers them (64 KiB). */
const PIECE_BYTES = 64 * 1024;

async function measureFirstAudio(roundCount: number): Promise<CryptoBenchReport['firstAudio']> {
  const subject = await prepareMessageSubject(randomBytes(FIRST_AUDIO_MESSAGE_BYTES));
  const sealed = await subject.seal();
  const streamed: number[] = [];
  const whole: number[] = [];
  const time = async (operation: () => Promise<unknown>): Promise<number> => {
    const start = performance.now();
    await operation();
    return performance.now() - start;
  };
  await subject.firstAudioStreamed(sealed, PIECE_BYTES);
  await subject.firstAudioWhole(sealed, PIECE_BYTES);
  for (let round = 0; round < roundCount; round++) {
    streamed.push(await time(() => subject.firstAudioStreamed(sealed, PIECE_BYTES)));
    whole.push(await time(() => subject.firstAudioWhole(sealed, PIECE_BYTES)));
  }
  // What the stream reads before its first audio: the fields before the chunks and the first sealed chunk, in whole pieces.
  const firstChunkEnd = streamedBytesNeeded(sealed);
  return {
    messageBytes: sealed.length,
    streamedMs: median(streamed),
    wholeMs: median(whole),
    ratio: median(streamed.map((s, i) => s / whole[i]!)),
    streamedBytesNeeded: firstChunkEnd,
    wholeBytesNeeded: sealed.length,
  };
}

/** Bytes up to the end of the first sealed chunk, rounded up to whole pieces. */
function streamedBytesNeeded(sealed: Uint8Array): number {
  const prefix = parseEnvelopePrefix(sealed);
  if (!prefix.ok) throw new Error(prefix.code);
  const end = prefix.value.headerLength + 11 + 32 * prefix.value.chunkCount + 64 + 65_536 + 16;
  return Math.min(sealed.length, Math.ceil(end / PIECE_BYTES) * PIECE_BYTES);
}
