#!/usr/bin/env python3
"""Reads a WebAuthn/ACME "tpm" attestation object the way a CA that is not keyseal would, and prints what it
holds as JSON, so enrol.sh can check keyseal's --format tpm output independently of keyseal's own verifier.

Usage: statement.py FILE  ->  {"fmt", "ver", "alg", "x5c": [base64 DER], "pubArea": hex, "certInfo": {...}}
Only the CBOR that the format uses is decoded (RFC 8949 major types 0-5, definite lengths): anything else is
an error, as it would be for a strict CA. certInfo is parsed as TPMS_ATTEST (TPM 2.0 Part 2, 10.12.12) up to
the attested name.
"""
import base64
import json
import sys


class Cbor:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("CBOR truncated")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def item(self):
        first = self.take(1)[0]
        major, info = first >> 5, first & 0x1F
        if info < 24:
            arg = info
        elif info in (24, 25, 26, 27):
            arg = int.from_bytes(self.take(1 << (info - 24)), "big")
        else:
            raise ValueError("indefinite or reserved CBOR length (info %d)" % info)
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return bytes(self.take(arg))
        if major == 3:
            return self.take(arg).decode("utf-8")
        if major == 4:
            return [self.item() for _ in range(arg)]
        if major == 5:
            out = {}
            for _ in range(arg):
                k = self.item()
                out[k] = self.item()
            return out
        raise ValueError("CBOR major type %d not expected in a tpm statement" % major)


def tpm2b(buf, pos):
    n = int.from_bytes(buf[pos:pos + 2], "big")
    if pos + 2 + n > len(buf):
        raise ValueError("TPM2B truncated")
    return buf[pos + 2:pos + 2 + n], pos + 2 + n


def attest_fields(buf):
    # magic, type, qualifiedSigner, extraData, clockInfo (17 bytes), firmwareVersion (8), attested
    magic = int.from_bytes(buf[0:4], "big")
    typ = int.from_bytes(buf[4:6], "big")
    signer, pos = tpm2b(buf, 6)
    extra, pos = tpm2b(buf, pos)
    pos += 17 + 8
    fields = {"magic": "%08x" % magic, "type": "%04x" % typ, "qualifiedSigner": signer.hex(),
              "extraData": extra.hex()}
    if typ == 0x8017:  # TPM_ST_ATTEST_CERTIFY: TPMS_CERTIFY_INFO {name, qualifiedName}
        name, pos = tpm2b(buf, pos)
        fields["name"] = name.hex()
    return fields


def main():
    obj = Cbor(open(sys.argv[1], "rb").read())
    top = obj.item()
    if obj.pos != len(obj.data):
        raise ValueError("bytes after the attestation object")
    st = top["attStmt"]
    print(json.dumps({
        "fmt": top["fmt"],
        "authData": top.get("authData", b"").hex(),
        "ver": st["ver"],
        "alg": st["alg"],
        "x5c": [base64.b64encode(c).decode() for c in st.get("x5c", [])],
        "sig": st["sig"].hex(),
        "pubArea": st["pubArea"].hex(),
        "certInfo": attest_fields(st["certInfo"]),
    }, indent=2))


if __name__ == "__main__":
    main()
