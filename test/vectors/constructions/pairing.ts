/**
 * Pairing a toy (docs/protocol.md, "Pairing a toy"): one full run of the four messages with fixed
 * scalars, every CPace and key-confirmation intermediate, and the refusals of a toy.
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { utf8 } from '../../../src/crypto/bytes.js';
import { calculateGenerator, CPACE_DSI, generatorString, lvCat, sampleScalar, scalarMultVfy, transcriptIr } from '../../../src/crypto/cpace.js';
import { hkdfSha256 } from '../../../src/crypto/kdf.js';
import { startGuardianPairing, startToyPairing } from '../../../src/crypto/pairing.js';
import { vectorFamily } from '../family.js';
import { cat, expectHex, hexOf, hkdfSha256 as nobleHkdf, hmacSha256, text, u8 } from '../independent.js';
import { fixedBytes, flipByte, hex, withFixedRandom, type Construction } from '../support.js';

const CODE = '12345678';
const CI = lvCat(utf8('burrow/pairing/v1'), utf8('toy'), utf8('guardian'));

/** LEB128 length ‖ data, concatenated: CPace's lv_cat, written again from the draft. */
function lv(...parts: Uint8Array[]): Uint8Array {
  return cat(...parts.map((p) => {
    const prefix: number[] = [];
    let n = p.length;
    do {
      prefix.push(n < 128 ? n : (n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    } while (n > 0);
    return cat(Uint8Array.from(prefix), p);
  }));
}

function scalarOf(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

export const pairing: Construction = {
  name: 'pairing',
  async generate() {
    const family = await vectorFamily();
    const sid = fixedBytes('pairing/sid', 16);
    const headHash = family.hashes[0]!;
    const toyKeys = family.toy.publicKeys;
    // Each side's scalar is the first draw of its own fixed stream; drawn once to show it.
    const toyScalar = await withFixedRandom('pairing/toy', async () => sampleScalar());
    const guardianScalar = await withFixedRandom('pairing/guardian', async () => sampleScalar());
    const start = () => ({
      toy: withFixedRandom('pairing/toy', async () => startToyPairing({ code: CODE, toyKeys, sessionId: sid })),
      guardian: (code: string) => withFixedRandom('pairing/guardian', async () => startGuardianPairing({ code, sessionId: sid, headHash })),
    });
    const run = start();
    const toy = await run.toy;
    const guardian = await run.guardian(CODE);
    const m3 = await toy.receiveGuardianShare(guardian.share);
    const m4 = await guardian.receiveToyShare(toy.share);
    if (!m3.ok || !m4.ok) throw new Error('pairing run failed');
    const gotKeys = await guardian.receiveToyConfirmation(m3.value.message);
    const gotHead = await toy.receiveGuardianConfirmation(m4.value.message);
    if (!gotKeys.ok || !gotHead.ok) throw new Error('pairing confirmation failed');

    const ya = toy.share.subarray(3 + sid.length);
    const yb = guardian.share.subarray(3 + sid.length);
    const k = scalarMultVfy(toyScalar, yb);
    const transcript = transcriptIr(ya, new Uint8Array(0), yb, new Uint8Array(0));
    const isk = sha512(cat(lvCat(cat(CPACE_DSI, utf8('_ISK')), sid, k), transcript));
    const confirmKey = await hkdfSha256({ ikm: isk, salt: sid, info: utf8('burrow/pairing/v1 confirm'), length: 32 });
    const macKey = await hkdfSha256({ ikm: isk, salt: sid, info: utf8('burrow/pairing/v1 mac'), length: 32 });

    // Refusals, each against a fresh toy with the same scalar.
    const wrong = start();
    const wrongToy = await wrong.toy;
    const wrongGuardian = await wrong.guardian('12345670');
    await wrongToy.receiveGuardianShare(wrongGuardian.share);
    const wrongM4 = await wrongGuardian.receiveToyShare(wrongToy.share);
    if (!wrongM4.ok) throw new Error('wrong-code run failed early');
    const wrongResult = await wrongToy.receiveGuardianConfirmation(wrongM4.value.message);
    const swapped = start();
    const swappedToy = await swapped.toy;
    await swappedToy.receiveGuardianShare(guardian.share);
    const swappedM4 = flipByte(m4.value.message, 3 + sid.length + 5);
    const swappedResult = await swappedToy.receiveGuardianConfirmation(swappedM4);
    return {
      construction: 'pairing',
      version: { message: toy.share[0]! },
      spec: 'Pairing a toy',
      description: `One run: the toy (the vector family's) shows ${CODE}; the guardian types it and vouches for the head of epoch 0.`,
      vectors: [
        {
          name: 'toy-and-guardian',
          inputs: { code: CODE, sid: hex(sid), ci: hex(CI), toyScalar: hex(toyScalar), guardianScalar: hex(guardianScalar), toyKeys: { signingKey: hex(toyKeys.signingKey), agreementKey: hex(toyKeys.agreementKey), kemKey: hex(toyKeys.kemKey!) }, headHash: hex(headHash) },
          generatorString: hex(generatorString(CPACE_DSI, utf8(CODE), CI, sid, 128)),
          generator: hex(calculateGenerator(utf8(CODE), CI, sid).toBytes()),
          ya: hex(ya),
          yb: hex(yb),
          k: hex(k),
          transcript: hex(transcript),
          isk: hex(isk),
          confirmKey: hex(confirmKey),
          macKey: hex(macKey),
          message1: hex(toy.share),
          message2: hex(guardian.share),
          message3: hex(m3.value.message),
          message4: hex(m4.value.message),
        },
      ],
      refusals: [
        { name: 'wrong-code', change: 'the guardian typed 12345670; the toy checks message 4', input: { message2: hex(wrongGuardian.share), message4: hex(wrongM4.value.message) }, expected: wrongResult.ok ? 'accepted' : wrongResult.code },
        { name: 'altered-head-hash', change: 'one bit of the head hash in message 4 flipped by the relay', input: { message4: hex(swappedM4) }, expected: swappedResult.ok ? 'accepted' : swappedResult.code },
      ],
    };
  },
  checkIndependently(file) {
    const v = file.vectors[0]!;
    const i = v.inputs as { code: string; sid: string; ci: string; toyScalar: string; guardianScalar: string; headHash: string; toyKeys: Record<string, string> };
    const sid = hexOf(i.sid);
    const ci = lv(text('burrow/pairing/v1'), text('toy'), text('guardian'));
    expectHex(ci, i.ci, 'channel identifier');
    const dsi = text('CPaceRistretto255');
    const prs = text(i.code);
    const zpad = new Uint8Array(128 - 1 - lv(prs).length - lv(dsi).length);
    const gs = lv(dsi, prs, zpad, ci, sid);
    expectHex(gs, v.generatorString, 'generator string');
    const g = ristretto255_hasher.deriveToCurve!(sha512(gs));
    expectHex(g.toBytes(), v.generator, 'generator');
    const ya = g.multiply(scalarOf(hexOf(i.toyScalar)));
    const yb = g.multiply(scalarOf(hexOf(i.guardianScalar)));
    expectHex(ya.toBytes(), v.ya, 'Ya');
    expectHex(yb.toBytes(), v.yb, 'Yb');
    const k = ristretto255.Point.fromBytes(yb.toBytes()).multiply(scalarOf(hexOf(i.toyScalar)));
    expectHex(k.toBytes(), v.k, 'K');
    const transcript = cat(lv(ya.toBytes(), new Uint8Array(0)), lv(yb.toBytes(), new Uint8Array(0)));
    expectHex(transcript, v.transcript, 'transcript_ir');
    const isk = sha512(cat(lv(cat(dsi, text('_ISK')), sid, k.toBytes()), transcript));
    expectHex(isk, v.isk, 'ISK');
    const confirmKey = nobleHkdf(isk, sid, 'burrow/pairing/v1 confirm');
    const macKey = nobleHkdf(isk, sid, 'burrow/pairing/v1 mac');
    expectHex(confirmKey, v.confirmKey, 'confirmation key');
    expectHex(macKey, v.macKey, 'MAC key');
    const head = (type: number) => cat(u8(2), u8(type), u8(sid.length), sid);
    expectHex(cat(head(1), ya.toBytes()), v.message1, 'message 1');
    expectHex(cat(head(2), yb.toBytes()), v.message2, 'message 2');
    const keys = i.toyKeys;
    const keysMac = hmacSha256(macKey, lv(text('toy keys with kem'), hexOf(keys.signingKey), hexOf(keys.agreementKey), hexOf(keys.kemKey)));
    const tcToy = hmacSha256(confirmKey, lv(text('toy confirms'), transcript));
    expectHex(cat(head(5), hexOf(keys.signingKey), hexOf(keys.agreementKey), hexOf(keys.kemKey), keysMac, tcToy), v.message3, 'message 3 (type 5)');
    const headMac = hmacSha256(macKey, lv(text('roster head'), hexOf(i.headHash)));
    const tcGuardian = hmacSha256(confirmKey, lv(text('guardian confirms'), transcript));
    expectHex(cat(head(4), hexOf(i.headHash), headMac, tcGuardian), v.message4, 'message 4');
  },
};
