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
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
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


# --- "Key hierarchy": scope-key commitments ------------------------------------------------------
def scope_commitment(family_id, scope, generation, key):
    commit_key = hkdf_sha256(key, b"", "burrow/scope-key-commitment/v1")
    tag = hmac.new(commit_key, labelled("burrow/scope-key-commitment/v1", string(family_id) + string(scope) + u64(generation)), hashlib.sha256).digest()
    return commit_key, tag


def commitments(d):
    for v in load(d, "scope-key-commitment")["vectors"]:
        i = v["inputs"]
        commit_key, tag = scope_commitment(i["familyId"], i["scope"], i["generation"], h(i["scopeKey"]))
        check(f"scope-key commitment {v['name']}", commit_key.hex() == v["commitKey"] and tag.hex() == v["commitment"])


# --- "Key hierarchy": scope-key wraps (RFC 9180 base mode, single shot) --------------------------
def hpke_extract(suite_id, salt, label, ikm):
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite_id + label.encode() + ikm, hashlib.sha256).digest()


def hpke_expand(suite_id, prk, label, info, length):
    info = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label.encode() + info
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def hpke_schedule(kem_id, shared_secret, info):
    suite = b"HPKE" + kem_id.to_bytes(2, "big") + (1).to_bytes(2, "big") + (2).to_bytes(2, "big")
    context = b"\x00" + hpke_extract(suite, b"", "psk_id_hash", b"") + hpke_extract(suite, b"", "info_hash", info)
    secret = hpke_extract(suite, shared_secret, "secret", b"")
    return hpke_expand(suite, secret, "key", context, 32), hpke_expand(suite, secret, "base_nonce", context, 12)


def dhkem_x25519_encap(recipient_public, ikm_e):
    """DHKEM(X25519, HKDF-SHA256) Encap with DeriveKeyPair(ikmE) (RFC 9180 §4.1, §7.1.3)."""
    kem = b"KEM" + (0x20).to_bytes(2, "big")
    sk_e = hpke_expand(kem, hpke_extract(kem, b"", "dkp_prk", ikm_e), "sk", b"", 32)
    private = X25519PrivateKey.from_private_bytes(sk_e)
    enc = private.public_key().public_bytes_raw()
    dh = private.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    return enc, hpke_expand(kem, hpke_extract(kem, b"", "eae_prk", dh), "shared_secret", enc + recipient_public, 32)


def wraps(d):
    for v in load(d, "scope-key-wrap")["vectors"]:
        w, hp = v["wrap"], v["hpke"]
        scope, generation = v["scope"], v["generation"]
        info = labelled("burrow/scope-key/v1", string(v["familyId"]) + string(scope) + u64(generation))
        aad = labelled("burrow/scope-key-recipient/v1", string(w["recipientId"]) + string(scope) + u64(generation))
        check(f"scope-key wrap {v['name']} info and aad (scope and generation bound in)", info.hex() == v["info"] and aad.hex() == v["aad"] and w["scope"] == scope and w["generation"] == generation)
        key, nonce = hpke_schedule(int(hp["kemId"], 16), h(hp["sharedSecret"]), info)
        check(f"scope-key wrap {v['name']} key schedule", key.hex() == hp["aeadKey"] and nonce.hex() == hp["baseNonce"])
        if HAVE_CRYPTOGRAPHY:
            check(f"scope-key wrap {v['name']} ciphertext", AESGCM(key).encrypt(nonce, h(v["scopeKey"]), aad).hex() == w["ciphertext"])
            if v["name"] == "x25519":
                enc, shared = dhkem_x25519_encap(h(v["recipientAgreementKey"]), h(v["ekm"]))
                check("scope-key wrap x25519 DHKEM encapsulation from ekm", enc.hex() == w["enc"] and shared.hex() == hp["sharedSecret"])


# --- "The family roster" -----------------------------------------------------------------------
def holders(e):
    """Who holds each scope's key ("Key hierarchy"): every member the family-wide one (""); a child's
    the guardians, the relatives allowed the child and the child's toys."""
    who = lambda i, k: (i, k["signingKey"], k["agreementKey"], k.get("kemKey"))
    # The entry lists the family's children (after its toys); each has a scope, and every child a
    # relative is allowed or a toy belongs to is among them.
    children = e["children"]
    named = {c for m in e["members"] if m["role"] == "relative" for c in m["children"]} | {t["childId"] for t in e["toys"]}
    if not named <= set(children) or children != sorted(set(children)):
        return {}
    out = {"": [who(m["accountId"], m["keys"]) for m in e["members"]]}
    for c in children:
        out[c] = ([who(m["accountId"], m["keys"]) for m in e["members"] if m["role"] == "guardian" or c in m["children"]]
                  + [who(t["toyId"], t["keys"]) for t in e["toys"] if t["childId"] == c])
    return out


def rotation_rule_holds(previous, e):
    before, after = holders(previous), holders(e)
    if list(after) != [k["scope"] for k in e["scopeKeys"]]:
        return False
    for k in e["scopeKeys"]:
        if k["generation"] == e["epoch"]:
            continue
        old = next((p for p in previous["scopeKeys"] if p["scope"] == k["scope"]), None)
        loses = any(x not in after[k["scope"]] for x in before.get(k["scope"], []))
        if old is None or loses or old["generation"] != k["generation"] or old["commitment"] != k["commitment"]:
            return False
    return True


def roster(d):
    previous, previous_entry = bytes(32), None
    f = load(d, "roster-entry")
    for v in f["vectors"]:
        e = v["entry"]
        encoded = h(v["body"]) + u32(64) + h(v["signature"])
        check(f"roster {v['name']} encoding and link", encoded.hex() == v["encoded"] and e["previousHash"] == previous.hex())
        digest = hashlib.sha256(labelled("burrow/roster-hash/v1", encoded)).digest()
        check(f"roster {v['name']} hash", digest.hex() == v["hash"])
        if HAVE_CRYPTOGRAPHY:
            signer = next(m for m in e["members"] if m["accountId"] == e["signerId"])
            check(f"roster {v['name']} signature", ed25519_ok(signer["keys"]["signingKey"], v["signature"], labelled("burrow/roster-entry/v1", h(v["body"]))))
        ok = all(k["generation"] == 0 for k in e["scopeKeys"]) if previous_entry is None else rotation_rule_holds(previous_entry, e)
        check(f"roster {v['name']} scopes and generations follow the rotation rule", ok)
        for n, k in enumerate(e["scopeKeys"]):
            given = v["scopeKeys"][n]
            _, tag = scope_commitment(e["familyId"], k["scope"], k["generation"], h(given["key"]))
            check(f"roster {v['name']} commitment of scope {n}", given["scope"] == k["scope"] and tag.hex() == k["commitment"])
            if HAVE_CRYPTOGRAPHY:
                sealed = h(e["settings"]["sealedQuietHours"][n])
                key = hkdf_sha256(h(given["key"]), b"", "burrow/quiet-hours/v2")
                aad = labelled("burrow/quiet-hours/v2", string(e["familyId"]) + u64(e["epoch"]) + string(k["scope"]))
                plain = AESGCM(key).decrypt(sealed[1:13], sealed[13:], sealed[:1] + aad)
                check(f"roster {v['name']} quiet hours sealed under scope {n}", plain == string("19:30") + string("07:00") + string("Europe/Berlin"))
        previous, previous_entry = digest, e
    rosters_refused(f)


def scope_keys_of(encoded):
    """The scope list of an encoded entry: after version, familyId, epoch, createdAt and previousHash."""
    at = 1 + 4 + int.from_bytes(encoded[1:5], "big") + 8 + 8 + 32
    count, at = int.from_bytes(encoded[at:at + 4], "big"), at + 4
    out = []
    for _ in range(count):
        n = int.from_bytes(encoded[at:at + 4], "big")
        scope, at = encoded[at + 4:at + 4 + n].decode(), at + 4 + n
        out.append({"scope": scope, "generation": int.from_bytes(encoded[at:at + 8], "big"), "commitment": encoded[at + 8:at + 40].hex()})
        at += 40
    return out


def rosters_refused(f):
    """key-not-rotated: epoch 2's members and toys with epoch 1's scope list, which the rotation rule refuses."""
    r = next(x for x in f["refusals"] if x["name"] == "key-not-rotated")
    encoded = h(r["input"]["chain"][2])
    epoch1, epoch2 = f["vectors"][1]["entry"], f["vectors"][2]["entry"]
    kept = scope_keys_of(encoded)
    check("roster refusal key-not-rotated keeps epoch 1's scope keys", kept == epoch1["scopeKeys"])
    check("roster refusal key-not-rotated breaks the rotation rule", not rotation_rule_holds(epoch1, dict(epoch2, scopeKeys=kept)))
    if HAVE_CRYPTOGRAPHY:
        mum = next(m for m in epoch1["members"] if m["role"] == "guardian")
        check("roster refusal key-not-rotated is validly signed", ed25519_ok(mum["keys"]["signingKey"], encoded[-64:].hex(), labelled("burrow/roster-entry/v1", encoded[:-68])))


# --- "Voice-message envelopes" (version 4: scoped, padded, sealed in 64 KiB chunks) ---------------------
CHUNK = 65536


def bucket_of(length):
    """The smallest bucket at least `length`: B0 = 16,384, B(k+1) = Bk + floor(Bk / 4)."""
    bucket = 16384
    while bucket < length:
        bucket += bucket // 4
    return bucket


def chunk_nonce(prefix, i, last):
    return prefix + u32(i) + u8(1 if last else 0)


def cut_envelope(env):
    """header ‖ commitment (u32 paddedLength ‖ noncePrefix (7) ‖ 32 per chunk) ‖ signature (64) ‖ sealed chunks."""
    at = 0

    def take(n):
        nonlocal at
        if at + n > len(env):
            raise ValueError("short")
        at += n
        return env[at - n:at]

    def uint(n): return int.from_bytes(take(n), "big")
    def skip_string(): take(uint(4))
    def read_string(): return take(uint(4)).decode()
    if take(4) != b"BRWM" or uint(1) != 4:
        raise ValueError("not BRWM version 4")
    skip_string(); take(8); take(32)
    scope = read_string()
    message_id = take(16)
    skip_string()
    recipients = [read_string() for _ in range(uint(4))]
    take(8)
    header, commitment_start = env[:at], at
    padded_length = uint(4)
    if bucket_of(padded_length) != padded_length:
        raise ValueError("paddedLength is not a bucket")
    n = -(-padded_length // CHUNK)
    prefix = take(7)
    hashes = [take(32) for _ in range(n)]
    commitment = env[commitment_start:at]
    signature = take(64)
    chunks = [take(min(CHUNK, padded_length - i * CHUNK) + 16) for i in range(n)]
    if at != len(env):
        raise ValueError("bytes after the last chunk")
    return header, message_id, commitment, padded_length, prefix, hashes, signature, chunks, scope, recipients


def open_envelope(env, scope_key, signing_key):
    """Returns the padded plaintext, or raises naming the first check that fails."""
    header, message_id, commitment, padded_length, prefix, hashes, signature, chunks, _, _ = cut_envelope(env)
    if not ed25519_ok(signing_key, signature.hex(), labelled("burrow/message/v1", header + hashlib.sha256(commitment).digest())):
        raise ValueError("signature")
    key = hkdf_sha256(scope_key, message_id, "burrow/message-key/v1")
    padded = b""
    for i, sealed in enumerate(chunks):
        if hashlib.sha256(sealed).digest() != hashes[i]:
            raise ValueError(f"chunk {i} is not the committed one")
        try:
            padded += AESGCM(key).decrypt(chunk_nonce(prefix, i, i == len(chunks) - 1), sealed, header)
        except InvalidTag:
            raise ValueError(f"chunk {i} fails its tag")
    at = 1 + 4 + int.from_bytes(padded[1:5], "big") + 4
    if padded[0] != 2:
        raise ValueError("inner version")
    if padded[at] == 1:
        at += 1 + 4 + int.from_bytes(padded[at + 1:at + 5], "big")
    else:
        at += 1
    inner_length = at + 4 + int.from_bytes(padded[at:at + 4], "big")
    if any(padded[inner_length:]) or bucket_of(inner_length) != padded_length:
        raise ValueError("padding")
    return padded


def edited(env, edit):
    """A refusal's edit of the vector's envelope."""
    if "flipLowBitOf" in edit:
        at = edit["flipLowBitOf"]
        return env[:at] + bytes([env[at] ^ 1]) + env[at + 1:]
    if "keepFirst" in edit:
        return env[:edit["keepFirst"]]
    chunks = cut_envelope(env)[7]
    body = sum(len(c) for c in chunks)
    return env[:len(env) - body] + b"".join(chunks[i] for i in edit["chunkOrder"])


def envelopes(d):
    f = load(d, "envelope")
    for v in f["vectors"]:
        i, name = v["inputs"], v["name"]
        header = (b"BRWM" + u8(4) + string(i["familyId"]) + u64(i["epoch"]) + h(i["rosterHead"]) + string(i["scope"]) + h(i["messageId"])
                  + string(i["senderId"]) + u32(len(i["recipients"])) + b"".join(string(r) for r in i["recipients"]) + u64(i["createdAt"]))
        check(f"{name} envelope header (version 4, with the scope)", header.hex() == v["headerBytes"])
        key = hkdf_sha256(h(i["scopeKey"]), h(i["messageId"]), "burrow/message-key/v1")
        check(f"{name} message key (HKDF of the scope key, salt = message id)", key.hex() == v["messageKey"])
        audio = h(i["audio"])
        caption = u8(1) + string(i["caption"]) if "caption" in i else u8(0)
        metadata = u8(2) + string(i["audioType"]) + u32(i["durationMs"]) + caption + u32(len(audio))
        padded_length = bucket_of(len(metadata) + len(audio))
        check(f"{name} inner record and its bucket", metadata.hex() == v["innerMetadata"] and padded_length == v["paddedLength"])
        n = -(-padded_length // CHUNK)
        prefix = h(v["noncePrefix"])
        env = h(v["envelope"])
        sealed = [env[c["offset"]:c["offset"] + c["sealedLength"]] for c in v["chunks"]]
        check(f"{name}: {n} chunk nonces (prefix ‖ u32 index ‖ u8 last)", [chunk_nonce(prefix, k, k == n - 1).hex() for k in range(n)] == [c["nonce"] for c in v["chunks"]])
        commitment = u32(padded_length) + prefix + b"".join(hashlib.sha256(s).digest() for s in sealed)
        check(f"{name} commitment lists SHA-256 of every sealed chunk", commitment.hex() == v["commitment"])
        check(f"{name} ciphertextHash = SHA-256(commitment)", hashlib.sha256(commitment).hexdigest() == v["ciphertextHash"])
        signed = labelled("burrow/message/v1", header + hashlib.sha256(commitment).digest())
        check(f"{name} signed bytes", signed.hex() == v["signedBytes"])
        check(f"{name} envelope bytes", (header + commitment + h(v["signature"]) + b"".join(sealed)).hex() == v["envelope"])
        if HAVE_CRYPTOGRAPHY:
            check(f"{name} envelope signature", ed25519_ok(i["senderSigningKey"], v["signature"], signed))
            padded = open_envelope(env, h(i["scopeKey"]), i["senderSigningKey"])
            check(f"{name}: every chunk opens with the header as AAD; audio, then zero padding", padded == metadata + audio + bytes(padded_length - len(metadata) - len(audio)))
    first = f["vectors"][0]
    env, i = h(first["envelope"]), first["inputs"]
    for r in f["refusals"]:
        if r["name"] == "removed-sender":  # a roster rule, not a byte check
            continue
        bad = edited(env, r["input"]) if r["input"]["envelope"] == "vectors[0].envelope" else h(r["input"]["envelope"])
        if r["name"] == "wrong-scope":  # a message to the child must name the child's scope
            cut = cut_envelope(bad)
            check("envelope refusal wrong-scope names another scope than its recipients give", cut[9] == i["recipients"] and cut[8] != i["scope"])
        if HAVE_CRYPTOGRAPHY:
            try:
                open_envelope(bad, h(i["scopeKey"]), i["senderSigningKey"])
                refused = False
            except ValueError:
                refused = True
            check(f"envelope refusal {r['name']} is refused", refused)


# --- "Sealed profiles" (version 3) --------------------------------------------------------------
def profiles(d):
    for v in load(d, "profile")["vectors"]:
        i, name = v["inputs"], v["name"]
        check(f"profile {name} scope (a child's record under the child's scope, else family-wide)", i["scope"] == (i["objectId"] if i["kind"] == "child" else ""))
        header = b"BRWP" + u8(3) + u64(i["epoch"]) + h(i["signerKey"])
        check(f"profile {name} header", header.hex() == v["header"])
        target = string(i["familyId"]) + string(i["kind"]) + string(i["objectId"])
        key = hkdf_sha256(h(i["scopeKey"]), string(i["kind"]) + string(i["objectId"]), "burrow/profile-key/v1")
        check(f"profile {name} key (HKDF of the scope key)", key.hex() == v["key"])
        if HAVE_CRYPTOGRAPHY:
            box = h(v["box"])
            plain = AESGCM(key).decrypt(box[1:13], box[13:], box[:1] + labelled("burrow/profile/v2", header + target))
            record = string(i["json"])
            check(f"profile {name} opens to the padded record", plain == record + bytes(-len(record) % 64))
            body = header + box
            check(f"profile {name} signature", ed25519_ok(i["signerKey"], v["signature"], labelled("burrow/profile-signature/v1", target + u32(len(body)) + body)))


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
    for run in (receipts, approvals, commitments, wraps, roster, envelopes, profiles, family_log, pairing):
        run(directory)
    print("all vectors check out")


if __name__ == "__main__":
    main()
