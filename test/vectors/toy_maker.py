#!/usr/bin/env python3
"""A toy maker's check: Burrow's published vectors (docs/vectors) verified from docs/protocol.md
alone, with Python's standard library (hashlib, hmac) and, when it is installed, the
`cryptography` package for Ed25519 and AES-256-GCM. No Burrow code is used.

Usage: toy_maker.py DOCS_VECTORS_DIR. Prints one line per check; exits 0 when all pass, 1 on the
first failure, 77 when the directory is missing.
"""
import hashlib
import hmac
import json
import os
import sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.exceptions import InvalidSignature, InvalidTag
    HAVE_CRYPTOGRAPHY = True
except ImportError:  # hashes and MACs are still checked
    HAVE_CRYPTOGRAPHY = False


# --- "Canonical encoding" ----------------------------------------------------------------------
def u8(n): return n.to_bytes(1, "big")
def u32(n): return n.to_bytes(4, "big")
def u64(n): return n.to_bytes(8, "big")
def string(s): return u32(len(s.encode())) + s.encode()
def labelled(label, data): return label.encode() + b"\x00" + data
def h(x): return bytes.fromhex(x)


def hkdf_sha256(ikm, salt, info, length=32):
    """RFC 5869; an empty salt is HashLen zero bytes."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info.encode() + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def ed25519_ok(public_key_hex, signature_hex, message):
    try:
        Ed25519PublicKey.from_public_bytes(h(public_key_hex)).verify(h(signature_hex), message)
        return True
    except InvalidSignature:
        return False


def gcm_open(key, box, aad):
    """The sealed box: 0x01 ‖ nonce (12) ‖ ciphertext ‖ tag; GCM authenticates 0x01 ‖ aad."""
    try:
        return AESGCM(key).decrypt(box[1:13], box[13:], b"\x01" + aad)
    except InvalidTag:
        return None


def load(directory, name):
    with open(os.path.join(directory, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


# --- "Receipts" --------------------------------------------------------------------------------
def receipts(d):
    f = load(d, "receipt")
    v, i = f["vectors"][0], f["vectors"][0]["inputs"]
    body = (u8(1) + string(i["familyId"]) + h(i["messageId"]) + u8(i["kindCode"]) + string(i["signerId"])
            + u64(i["rosterEpoch"]) + h(i["rosterHead"]) + u64(i["at"]))
    check("receipt body from the layout", body.hex() == v["body"])
    if HAVE_CRYPTOGRAPHY:
        key = i["signer"]["signingKey"]
        check("receipt signature (Ed25519 over label ‖ 0x00 ‖ body)", ed25519_ok(key, v["signature"], labelled(v["label"], body)))
        for r in f["refusals"]:
            check(f"receipt refusal {r['name']} does not verify", not ed25519_ok(key, r["input"]["signature"], labelled(v["label"], h(r["input"]["body"]))))


# --- "Approvals and declines" ------------------------------------------------------------------
def approvals(d):
    f = load(d, "approval")
    for v in f["vectors"]:
        i = v["inputs"]
        decision = string(i["familyId"]) + h(i["messageId"]) + h(i["ciphertextHash"]) + u64(i["rosterEpoch"]) + h(i["rosterHead"])
        check(f"{v['name']} decision bytes (family id length-prefixed, the rest raw)", decision.hex() == v["decisionBytes"])
        if HAVE_CRYPTOGRAPHY:
            check(f"{v['name']} signature", ed25519_ok(i["guardian"]["signingKey"], v["signature"], labelled(v["label"], decision)))
    if HAVE_CRYPTOGRAPHY:
        approval, decline = f["vectors"]
        check("a decline is not an approval", not ed25519_ok(approval["inputs"]["guardian"]["signingKey"], decline["signature"], labelled(approval["label"], h(approval["decisionBytes"]))))


# --- "Key commitment" --------------------------------------------------------------------------
def commitments(d):
    for v in load(d, "key-commitment")["vectors"]:
        i = v["inputs"]
        commit_key = hkdf_sha256(h(i["familyKey"]), b"", v["label"])
        tag = hmac.new(commit_key, labelled(v["label"], string(i["familyId"]) + u64(i["epoch"])), hashlib.sha256).digest()
        check(f"key commitment of epoch {i['epoch']}", commit_key.hex() == v["commitKey"] and tag.hex() == v["commitment"])


# --- "The family roster" -----------------------------------------------------------------------
def roster(d):
    previous = bytes(32)
    for v in load(d, "roster-entry")["vectors"]:
        encoded = h(v["body"]) + u32(64) + h(v["signature"])
        check(f"roster {v['name']} encoding and link", encoded.hex() == v["encoded"] and v["entry"]["previousHash"] == previous.hex())
        digest = hashlib.sha256(labelled("burrow/roster-hash/v1", encoded)).digest()
        check(f"roster {v['name']} hash", digest.hex() == v["hash"])
        if HAVE_CRYPTOGRAPHY:
            signer = next(m for m in v["entry"]["members"] if m["accountId"] == v["entry"]["signerId"])
            check(f"roster {v['name']} signature", ed25519_ok(signer["keys"]["signingKey"], v["signature"], labelled("burrow/roster-entry/v1", h(v["body"]))))
        previous = digest


# --- "Voice-message envelopes" -----------------------------------------------------------------
def envelopes(d):
    v = load(d, "envelope")["vectors"][0]
    i = v["inputs"]
    header = (b"BRWM" + u8(2) + string(i["familyId"]) + u64(i["epoch"]) + h(i["rosterHead"]) + h(i["messageId"])
              + string(i["senderId"]) + u32(len(i["recipients"])) + b"".join(string(r) for r in i["recipients"]) + u64(i["createdAt"]))
    check("envelope header", header.hex() == v["headerBytes"])
    key = hkdf_sha256(h(i["familyKey"]), h(i["messageId"]), "burrow/message-key/v1")
    check("message key (HKDF, salt = message id)", key.hex() == v["messageKey"])
    ciphertext = h(v["ciphertext"])
    check("ciphertext hash", hashlib.sha256(ciphertext).hexdigest() == v["ciphertextHash"])
    check("envelope bytes", (header + u32(len(ciphertext)) + ciphertext + u32(64) + h(v["signature"])).hex() == v["envelope"])
    if HAVE_CRYPTOGRAPHY:
        inner = gcm_open(key, ciphertext, header)
        check("envelope opens with the header as additional data", inner is not None and inner.hex() == v["innerPlaintext"])
        signed = labelled("burrow/message/v1", header + hashlib.sha256(ciphertext).digest())
        check("envelope signature", ed25519_ok(i["senderSigningKey"], v["signature"], signed))


# --- "Family security log" ---------------------------------------------------------------------
def family_log(d):
    for v in load(d, "family-log")["vectors"]:
        e = v["event"]
        details = b"".join(string(k) + (u8(1) + u64(e["details"][k]) if isinstance(e["details"][k], int) else u8(2) + string(e["details"][k]))
                           for k in sorted(e["details"]))
        subject = u8(1) + string(e["subjectId"]) if "subjectId" in e else u8(0)
        event = string(e["familyId"]) + u64(e["seq"]) + u64(e["at"]) + string(e["kind"]) + string(e["actorId"]) + subject + u32(len(e["details"])) + details
        digest = hashlib.sha256(labelled(v["hashLabel"], event + h(v["previousHash"]))).digest()
        check(f"log event {e['seq']} bytes and hash", event.hex() == v["eventBytes"] and digest.hex() == v["hash"])
        if HAVE_CRYPTOGRAPHY:
            check(f"log event {e['seq']} signature", ed25519_ok(v["logKey"], v["signature"], labelled(v["signatureLabel"], digest)))


# --- "Pairing a toy": the toy's key confirmation from ISK (the group operations need ristretto255) --
def lv_cat(*parts):
    out = b""
    for p in parts:
        n, prefix = len(p), b""
        while True:
            prefix += bytes([n if n < 128 else (n & 0x7F) | 0x80])
            n //= 128
            if n == 0:
                break
        out += prefix + p
    return out


def pairing(d):
    v = load(d, "pairing")["vectors"][0]
    i, sid, isk = v["inputs"], h(v["inputs"]["sid"]), h(v["isk"])
    confirm_key = hkdf_sha256(isk, sid, "burrow/pairing/v1 confirm")
    mac_key = hkdf_sha256(isk, sid, "burrow/pairing/v1 mac")
    check("pairing keys from ISK (HKDF, salt = sid)", confirm_key.hex() == v["confirmKey"] and mac_key.hex() == v["macKey"])
    transcript = lv_cat(h(v["ya"]), b"") + lv_cat(h(v["yb"]), b"")
    framing = lambda t: bytes([2, t, len(sid)]) + sid
    k = i["toyKeys"]
    keys = h(k["signingKey"]) + h(k["agreementKey"]) + h(k["kemKey"])
    keys_mac = hmac.new(mac_key, lv_cat(b"toy keys with kem", h(k["signingKey"]), h(k["agreementKey"]), h(k["kemKey"])), hashlib.sha256).digest()
    tc_toy = hmac.new(confirm_key, lv_cat(b"toy confirms", transcript), hashlib.sha256).digest()
    check("pairing message 3 (type 5)", (framing(5) + keys + keys_mac + tc_toy).hex() == v["message3"])
    head_mac = hmac.new(mac_key, lv_cat(b"roster head", h(i["headHash"])), hashlib.sha256).digest()
    tc_guardian = hmac.new(confirm_key, lv_cat(b"guardian confirms", transcript), hashlib.sha256).digest()
    check("pairing message 4", (framing(4) + h(i["headHash"]) + head_mac + tc_guardian).hex() == v["message4"])


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "docs/vectors"
    if not os.path.isdir(directory):
        print(f"no vectors at {directory}")
        sys.exit(77)
    if not HAVE_CRYPTOGRAPHY:
        print("note: the `cryptography` package is missing: signatures and AES-GCM are not checked")
    for run in (receipts, approvals, commitments, roster, envelopes, family_log, pairing):
        run(directory)
    print("all vectors check out")


if __name__ == "__main__":
    main()
