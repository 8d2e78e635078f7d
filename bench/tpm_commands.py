#!/usr/bin/env python3
# bench/tpm_commands.py PCAP JSON: TPM commands per signature, from a capture made by tpm2-tss's pcap TCTI
# (TCTI "pcap:<child TCTI>", file in TCTI_PCAP_FILE; pcapng with one fake TCP packet per command and
# response, commands sent to port 2321). The steady-state cycle is what a client sends from one TPM2_Sign
# to the next: commands after the first TPM2_Sign up to and including the last, divided by (signatures - 1).
# Writes {"signatures", "per_signature", "breakdown": {command: per signature}} to JSON.
import json
import re
import struct
import sys

TPM_PORT = 2321
SIGN = 0x15D


def command_names():
    names = {}
    try:
        with open("/usr/include/tss2/tss2_tpm2_types.h") as f:
            for m in re.finditer(r"#define TPM2_CC_(\w+)\s+\(\(TPM2_CC\)\s*(0x[0-9a-fA-F]+)\)", f.read()):
                names.setdefault(int(m.group(2), 16), m.group(1))
    except OSError:
        pass
    return names


def commands(path):
    """Command codes in capture order."""
    data = open(path, "rb").read()
    out, off = [], 0
    endian = "<"
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if btype == 0x0A0D0D0A:  # section header: its byte-order magic sets the endianness
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12:
            break
        if btype == 6:  # enhanced packet block
            caplen = struct.unpack_from(endian + "I", data, off + 20)[0]
            pkt = data[off + 28:off + 28 + caplen]
            ihl = (pkt[0] & 0x0F) * 4 if pkt else 0
            if len(pkt) >= ihl + 20:
                dport = struct.unpack_from(">H", pkt, ihl + 2)[0]
                tcp_len = (pkt[ihl + 12] >> 4) * 4
                payload = pkt[ihl + tcp_len:]
                if dport == TPM_PORT and len(payload) >= 10:
                    out.append(struct.unpack_from(">I", payload, 6)[0])
        off += blen
    return out


def main(pcap, out_json):
    cmds = commands(pcap)
    signs = [i for i, c in enumerate(cmds) if c == SIGN]
    result = {"signatures": len(signs), "commands": len(cmds), "per_signature": None, "breakdown": {}}
    if len(signs) >= 2:
        cycle = cmds[signs[0] + 1:signs[-1] + 1]
        n = len(signs) - 1
        names = command_names()
        counts = {}
        for c in cycle:
            counts[c] = counts.get(c, 0) + 1
        result["per_signature"] = len(cycle) / n
        result["breakdown"] = {names.get(c, "0x%x" % c): round(k / n, 3)
                               for c, k in sorted(counts.items(), key=lambda kv: -kv[1])}
    with open(out_json, "w") as f:
        json.dump(result, f, indent=1)
    print("%s: %d signatures, %s TPM commands per signature %s" %
          (pcap, len(signs), result["per_signature"], result["breakdown"]), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
