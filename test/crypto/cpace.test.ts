import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import {
  calculateGenerator, cpaceSidOutput, generatorString, lvCat, orderedCat, prependLen, scalarMult, scalarMultVfy,
  startCPace, transcriptIr, transcriptOc, CPACE_DSI,
} from '../../src/crypto/cpace.js';

// Known-answer vectors from draft-irtf-cfrg-cpace-21 (github.com/cfrg/draft-irtf-cfrg-cpace, tag
// draft-irtf-cfrg-cpace-21), appendix "CPace function definitions" and appendix section
// "Test vector for CPace using group ristretto255 and hash SHA-512".
const h = (text: string): Uint8Array => fromHex(text.replace(/\s+/g, ''));

const R255 = {
  prs: utf8('Password'),
  ci: h('0b415f696e69746961746f720b425f726573706f6e646572'),
  sid: h('7e4b4791d6a8ef019b936c79fb7f2c57'),
  generatorString: h(`11435061636552697374726574746f3235350850617373776f726464
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000180b415f696e69746961746f
    720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
    2c57`),
  generatorHash: h(`da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288
    b6663af06bf645c93cd1c51512307199c80e84908916d983b34af772
    05f90851a657ee27`),
  g: h('222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56'),
  ya: h('da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08'),
  adA: utf8('ADa'),
  Ya: h('d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157'),
  yb: h('d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d'),
  adB: utf8('ADb'),
  Yb: h('3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258'),
  K: h('80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f'),
  transcriptIr: h(`20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e
    ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa
    8232b5ebe63324e2d9e7433f725803414462`),
  iskIr: h(`b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc
    ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c
    3fa2068af7900447`),
  transcriptOc: h(`6f6320d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f
    8d0eec482b915703414461203ea7e0b19560d7c0b0f5734f63b95528
    6dfa8232b5ebe63324e2d9e7433f725803414462`),
  iskOc: h(`544199d71f62f8d9a1fee55727e24fe4a45844593c2b6013c4fa3969
    d0e5debb2244675c0b43397cbb68d342b01fc0f98fc961469a25134d
    e9f0f813c1a57476`),
  sidOutputIr: h(`bb1c449b35f0ea79a65c209f329a693d475e0ce2387bed9fe4b78f60
    b2a27c219813fb2cfe175ef40d2222d9261e66da7d78f7c55a303b1b
    8611dcdfab880c47`),
  sidOutputOc: h(`10d5941d4933497fe31b9188d690b84465e2a2d158332a7267284a07
    1a8d0876fc5c8c329dc735d59a9f8ef6623ee23924704a2f929dd631
    ca981227ee82fff2`),
};

// "Test case for scalar_mult with valid inputs" and "Invalid inputs for scalar_mult_vfy".
const VFY = {
  s: h('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05'),
  X: h('2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c'),
  sX: h('7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e'),
  invalid: h('2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c'),
  identity: new Uint8Array(32),
};

describe('CPace string utilities (draft-irtf-cfrg-cpace-21 appendix vectors)', () => {
  it('prepend_len encodes the length as LEB128', () => {
    expect(toHex(prependLen(new Uint8Array()))).toBe('00');
    expect(toHex(prependLen(utf8('1234')))).toBe('0431323334');
    const r127 = Uint8Array.from({ length: 127 }, (_, i) => i);
    const r128 = Uint8Array.from({ length: 128 }, (_, i) => i);
    expect(toHex(prependLen(r127))).toBe(`7f${toHex(r127)}`);
    expect(toHex(prependLen(r128))).toBe(`8001${toHex(r128)}`);
    expect(toHex(prependLen(new Uint8Array(300)).subarray(0, 2))).toBe('ac02');
  });

  it('lv_cat length-prefixes each argument', () => {
    expect(toHex(lvCat(utf8('1234'), utf8('5'), utf8(''), utf8('678')))).toBe('043132333401350003363738');
  });

  it('o_cat puts the lexicographically larger string first', () => {
    expect(toHex(orderedCat(utf8('ABCD'), utf8('BCD')))).toBe('6f6342434441424344');
    expect(toHex(orderedCat(utf8('BCD'), utf8('ABCDE')))).toBe('6f634243444142434445');
    expect(toHex(orderedCat(h('00'), h('0000')))).toBe('6f63000000');
  });

  it('transcript_ir and transcript_oc match the draft', () => {
    expect(toHex(transcriptIr(utf8('123'), utf8('PartyA'), utf8('234'), utf8('PartyB')))).toBe('03313233065061727479410332333406506172747942');
    expect(toHex(transcriptIr(utf8('3456'), utf8('PartyA'), utf8('2345'), utf8('PartyB')))).toBe('043334353606506172747941043233343506506172747942');
    expect(toHex(transcriptOc(utf8('123'), utf8('PartyA'), utf8('234'), utf8('PartyB')))).toBe('6f6303323334065061727479420331323306506172747941');
    expect(toHex(transcriptOc(utf8('3456'), utf8('PartyA'), utf8('2345'), utf8('PartyB')))).toBe('6f63043334353606506172747941043233343506506172747942');
  });
});

describe('CPACE-RISTR255-SHA512 known-answer vectors (draft-irtf-cfrg-cpace-21)', () => {
  it('builds the generator string and the generator', () => {
    const genStr = generatorString(CPACE_DSI, R255.prs, R255.ci, R255.sid, 128);
    expect(toHex(genStr)).toBe(toHex(R255.generatorString));
    expect(toHex(sha512(genStr))).toBe(toHex(R255.generatorHash));
    expect(toHex(calculateGenerator(R255.prs, R255.ci, R255.sid).toBytes())).toBe(toHex(R255.g));
  });

  it('computes Ya, Yb and K from the published scalars', () => {
    const g = calculateGenerator(R255.prs, R255.ci, R255.sid);
    expect(toHex(scalarMult(R255.ya, g))).toBe(toHex(R255.Ya));
    expect(toHex(scalarMult(R255.yb, g))).toBe(toHex(R255.Yb));
    expect(toHex(scalarMultVfy(R255.ya, R255.Yb))).toBe(toHex(R255.K));
    expect(toHex(scalarMultVfy(R255.yb, R255.Ya))).toBe(toHex(R255.K));
  });

  it('derives the initiator/responder ISK on both sides', () => {
    const inputs = { prs: R255.prs, ci: R255.ci, sid: R255.sid };
    const a = startCPace({ ...inputs, ad: R255.adA, role: 'initiator', scalar: R255.ya });
    const b = startCPace({ ...inputs, ad: R255.adB, role: 'responder', scalar: R255.yb });
    expect(toHex(a.share.y)).toBe(toHex(R255.Ya));
    expect(toHex(b.share.y)).toBe(toHex(R255.Yb));
    expect(toHex(a.finish(b.share)!)).toBe(toHex(R255.iskIr));
    expect(toHex(b.finish(a.share)!)).toBe(toHex(R255.iskIr));
    expect(toHex(transcriptIr(R255.Ya, R255.adA, R255.Yb, R255.adB))).toBe(toHex(R255.transcriptIr));
  });

  it('derives the symmetric (parallel) ISK on both sides', () => {
    const inputs = { prs: R255.prs, ci: R255.ci, sid: R255.sid, mode: 'symmetric' as const };
    const a = startCPace({ ...inputs, ad: R255.adA, role: 'initiator', scalar: R255.ya });
    const b = startCPace({ ...inputs, ad: R255.adB, role: 'responder', scalar: R255.yb });
    expect(toHex(a.finish(b.share)!)).toBe(toHex(R255.iskOc));
    expect(toHex(b.finish(a.share)!)).toBe(toHex(R255.iskOc));
    expect(toHex(transcriptOc(R255.Ya, R255.adA, R255.Yb, R255.adB))).toBe(toHex(R255.transcriptOc));
  });

  it('computes the optional session id output', () => {
    expect(toHex(cpaceSidOutput(R255.transcriptIr))).toBe(toHex(R255.sidOutputIr));
    expect(toHex(cpaceSidOutput(R255.transcriptOc))).toBe(toHex(R255.sidOutputOc));
  });

  it('scalar_mult_vfy multiplies a valid encoding', () => {
    expect(toHex(scalarMultVfy(VFY.s, VFY.X))).toBe(toHex(VFY.sX));
  });

  it('scalar_mult_vfy returns the identity for an invalid encoding and for the identity', () => {
    expect(toHex(scalarMultVfy(VFY.s, VFY.invalid))).toBe(toHex(VFY.identity));
    expect(toHex(scalarMultVfy(VFY.s, VFY.identity))).toBe(toHex(VFY.identity));
  });

  it('a party aborts when the peer sends an invalid encoding or the identity', () => {
    for (const y of [VFY.invalid, VFY.identity, new Uint8Array(31), new Uint8Array(33), new Uint8Array(32).fill(0xff)]) {
      const a = startCPace({ prs: R255.prs, ci: R255.ci, sid: R255.sid, ad: R255.adA, role: 'initiator' });
      expect(a.finish({ y, ad: R255.adB })).toBeNull();
    }
  });
});

describe('CPace properties', () => {
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });

  it('two parties with the same PRS, CI and sid agree on a 64-byte ISK', () => {
    fc.assert(fc.property(bytes(40), bytes(40), bytes(40), bytes(20), bytes(20), fc.boolean(), (prs, ci, sid, adA, adB, symmetric) => {
      const mode = symmetric ? 'symmetric' as const : 'initiator-responder' as const;
      const a = startCPace({ prs, ci, sid, ad: adA, role: 'initiator', mode });
      const b = startCPace({ prs, ci, sid, ad: adB, role: 'responder', mode });
      const iskA = a.finish(b.share);
      expect(iskA).toHaveLength(64);
      expect(b.finish(a.share)).toEqual(iskA);
    }), { numRuns: 25 });
  });

  it('a different PRS, CI or sid gives different keys', () => {
    fc.assert(fc.property(bytes(20), bytes(20), fc.integer({ min: 0, max: 2 }), (base, other, which) => {
      fc.pre(toHex(base) !== toHex(other));
      const a = startCPace({ prs: base, ci: base, sid: base, ad: new Uint8Array(), role: 'initiator' });
      const b = startCPace({
        prs: which === 0 ? other : base, ci: which === 1 ? other : base, sid: which === 2 ? other : base,
        ad: new Uint8Array(), role: 'responder',
      });
      expect(a.finish(b.share)).not.toEqual(b.finish(a.share));
    }), { numRuns: 25 });
  });

  it('changing any byte of a relayed share or its associated data changes or aborts the key', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 34 }), fc.integer({ min: 1, max: 255 }), (index, flip) => {
      const inputs = { prs: utf8('12345678'), ci: utf8('ci'), sid: utf8('sid') };
      const a = startCPace({ ...inputs, ad: utf8('ADa'), role: 'initiator' });
      const b = startCPace({ ...inputs, ad: utf8('ADb'), role: 'responder' });
      const y = a.share.y.slice();
      const ad = a.share.ad.slice();
      if (index < 32) y[index] = y[index]! ^ flip;
      else ad[index - 32] = ad[index - 32]! ^ flip;
      const iskB = b.finish({ y, ad });
      const iskA = a.finish(b.share);
      expect(iskA).not.toBeNull();
      if (iskB !== null) expect(toHex(iskB)).not.toBe(toHex(iskA!));
    }), { numRuns: 40 });
  });

  it('misuse throws a TypeError naming the argument; a hostile peer share is a null result', () => {
    const junk: unknown[] = [undefined, null, 0, 'text', {}, [], new ArrayBuffer(32)];
    for (const bad of junk) {
      expect(() => prependLen(bad as Uint8Array)).toThrow(/data/);
      expect(() => calculateGenerator(bad as Uint8Array, utf8(''), utf8(''))).toThrow(/prs/);
      expect(() => calculateGenerator(utf8('p'), bad as Uint8Array, utf8(''))).toThrow(/ci/);
      expect(() => calculateGenerator(utf8('p'), utf8(''), bad as Uint8Array)).toThrow(/sid/);
      expect(() => startCPace({ prs: utf8('p'), ci: utf8(''), sid: utf8(''), ad: bad as Uint8Array, role: 'initiator' })).toThrow(/^ad must/);
      const party = startCPace({ prs: utf8('p'), ci: utf8(''), sid: utf8(''), ad: utf8(''), role: 'initiator' });
      expect(party.finish(bad as never)).toBeNull();
      expect(scalarMultVfy(VFY.s, bad as Uint8Array)).toEqual(VFY.identity);
    }
    expect(() => startCPace({ prs: utf8('p'), ci: utf8(''), sid: utf8(''), ad: utf8(''), role: 'both' as never })).toThrow(/role/);
    expect(() => startCPace({ prs: utf8('p'), ci: utf8(''), sid: utf8(''), ad: utf8(''), role: 'initiator', mode: 'x' as never })).toThrow(/mode/);
  });

  it('refuses scalars outside [1, order) and a second finish', () => {
    const inputs = { prs: utf8('p'), ci: utf8(''), sid: utf8(''), ad: utf8(''), role: 'initiator' as const };
    expect(() => startCPace({ ...inputs, scalar: new Uint8Array(32) })).toThrow(RangeError);
    expect(() => startCPace({ ...inputs, scalar: new Uint8Array(32).fill(0xff) })).toThrow(RangeError);
    expect(() => startCPace({ ...inputs, scalar: new Uint8Array(31) })).toThrow(TypeError);
    const a = startCPace(inputs);
    const b = startCPace({ ...inputs, role: 'responder' });
    a.finish(b.share);
    expect(() => a.finish(b.share)).toThrow();
  });
});
