/**
 * RFC 9180 base-mode single-shot Seal, written from the RFC with @noble primitives, for checking
 * the scope-key wrap vectors independently of @hpke/core: DHKEM(X25519, HKDF-SHA256) (§4.1,
 * §7.1.3), X-Wing as the draft's "Use in HPKE" has it, HKDF-SHA256 and AES-256-GCM.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { cat, text } from './independent.js';

const i2osp2 = (n: number): Uint8Array => Uint8Array.of(n >>> 8, n & 255);
const HPKE_V1 = text('HPKE-v1');

function labeledExtract(suiteId: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  return extract(sha256, cat(HPKE_V1, suiteId, text(label), ikm), salt);
}

function labeledExpand(suiteId: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Uint8Array {
  return expand(sha256, prk, cat(i2osp2(length), HPKE_V1, suiteId, text(label), info), length);
}

/** DHKEM(X25519) Encap with DeriveKeyPair(ikmE): enc and shared_secret (RFC 9180 §4.1, §7.1.3). */
export function dhkemX25519Encap(recipientPublicKey: Uint8Array, ikmE: Uint8Array): { enc: Uint8Array; sharedSecret: Uint8Array } {
  const kemSuite = cat(text('KEM'), i2osp2(0x0020));
  const skE = labeledExpand(kemSuite, labeledExtract(kemSuite, new Uint8Array(0), 'dkp_prk', ikmE), 'sk', new Uint8Array(0), 32);
  const enc = x25519.getPublicKey(skE);
  const dh = x25519.getSharedSecret(skE, recipientPublicKey);
  const eaePrk = labeledExtract(kemSuite, new Uint8Array(0), 'eae_prk', dh);
  return { enc, sharedSecret: labeledExpand(kemSuite, eaePrk, 'shared_secret', cat(enc, recipientPublicKey), 32) };
}

/** DHKEM(X25519) Decap with the recipient's private key (§4.1): the same shared_secret. */
export function dhkemX25519Decap(enc: Uint8Array, recipientPrivateKey: Uint8Array): Uint8Array {
  const kemSuite = cat(text('KEM'), i2osp2(0x0020));
  const dh = x25519.getSharedSecret(recipientPrivateKey, enc);
  const eaePrk = labeledExtract(kemSuite, new Uint8Array(0), 'eae_prk', dh);
  return labeledExpand(kemSuite, eaePrk, 'shared_secret', cat(enc, x25519.getPublicKey(recipientPrivateKey)), 32);
}

/** X-Wing Encap with the 64-byte eseed; the shared secret goes to HPKE as is. */
export function xwingEncap(recipientPublicKey: Uint8Array, eseed: Uint8Array): { enc: Uint8Array; sharedSecret: Uint8Array } {
  const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(recipientPublicKey, eseed);
  return { enc: cipherText, sharedSecret };
}

/** The base-mode key schedule (§5.1) for KEM `kemId`, HKDF-SHA256 (0x0001), AES-256-GCM (0x0002). */
export function keySchedule(kemId: number, sharedSecret: Uint8Array, info: Uint8Array): { key: Uint8Array; baseNonce: Uint8Array } {
  const suite = cat(text('HPKE'), i2osp2(kemId), i2osp2(0x0001), i2osp2(0x0002));
  const empty = new Uint8Array(0);
  const context = cat(Uint8Array.of(0), labeledExtract(suite, empty, 'psk_id_hash', empty), labeledExtract(suite, empty, 'info_hash', info));
  const secret = labeledExtract(suite, sharedSecret, 'secret', empty);
  return { key: labeledExpand(suite, secret, 'key', context, 32), baseNonce: labeledExpand(suite, secret, 'base_nonce', context, 12) };
}

/** Single-shot Seal: AES-256-GCM under the schedule's key with nonce = base_nonce (sequence 0). */
export async function sealOnce(key: Uint8Array, baseNonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const aes = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: baseNonce as Uint8Array<ArrayBuffer>, additionalData: aad as Uint8Array<ArrayBuffer> }, aes, plaintext as Uint8Array<ArrayBuffer>));
}
