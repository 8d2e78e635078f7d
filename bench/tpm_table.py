#!/usr/bin/env python3
# bench/tpm_table.py: the TPM run's markdown table (read by bench/run_tpm.sh) from the JSON files that
# keyseal-tpm-floor and keyseal-bench wrote into the results directory; with --check, the smoke test's
# verdict (every number present, no failed signature) without judging any timing.
#   tpm_table.py RESULTS THREADS SECONDS "LOADAVG AT START" "LOADAVG AT END"
#   tpm_table.py --check RESULTS THREADS REQUIRE_KEYSEAL(0|1)
import json
import os
import sys


def load(results, name):
    p = os.path.join(results, "tpm-%s.json" % name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)["results"]


def left(results, name):
    p = os.path.join(results, "tpm-%s.left" % name)
    return open(p).read().strip() if os.path.exists(p) else None


def value(r, key):
    return r.get(key, {}).get("value") if r else None


def commands(results, name, alg):
    """The command-count run's result for one module and key type (tpm_commands.py), or None."""
    p = os.path.join(results, "tpm-%s-commands-%s.json" % (name, alg))
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def log_mentions(results, name, text):
    p = os.path.join(results, "tpm-%s.log" % name)
    return os.path.exists(p) and text in open(p, errors="replace").read()


def rows(t):
    return [
        ("rsa2048_pkcs1_sign", "RSA-2048 sign, 1 thread (sig/s) [1]"),
        ("rsa2048_pkcs1_sign_%st" % t, "RSA-2048 sign, %s threads (sig/s) [2]" % t),
        ("rsa2048_pkcs1_sign_%st_errors" % t, "RSA-2048 failed signatures, %s threads" % t),
        ("ecdsa_p256_sign", "ECDSA P-256 sign, 1 thread (sig/s) [1]"),
        ("ecdsa_p256_sign_%st" % t, "ECDSA P-256 sign, %s threads (sig/s) [2]" % t),
        ("ecdsa_p256_sign_%st_errors" % t, "ECDSA P-256 failed signatures, %s threads" % t),
        ("commands_rsa", "TPM commands per RSA signature [6]"),
        ("commands_ec", "TPM commands per ECDSA signature [6]"),
        ("rsa2048_pkcs1_sign_client_cpu_us", "client CPU per RSA signature (us, lower is better) [3]"),
        ("ecdsa_p256_sign_client_cpu_us", "client CPU per ECDSA signature (us, lower is better) [3]"),
        ("rsa2048_pkcs1_sign_peer_cpu_us", "swtpm CPU per RSA signature (us) [4]"),
        ("ecdsa_p256_sign_peer_cpu_us", "swtpm CPU per ECDSA signature (us) [4]"),
        ("rsa_per_cpu", "RSA-2048 sig per CPU-second, client + swtpm [7]"),
        ("ec_per_cpu", "ECDSA P-256 sig per CPU-second, client + swtpm [7]"),
        ("keygen_rsa2048_ms", "RSA-2048 key generation (ms, lower is better) [5]"),
        ("keygen_ec_p256_ms", "P-256 key generation (ms, lower is better) [5]"),
        ("login_first_ms", "C_Login, first in the process (ms, lower is better)"),
        ("login_ms", "C_Login after C_Logout (ms, lower is better)"),
    ]


def fmt(v, key=""):
    if v is None:
        return "-"
    if key.endswith("_errors"):
        return "%d" % v
    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v


def ratio(a, b):
    if a is None or not b:
        return "-"
    r = a / b
    return "%.2f" % r if r >= 0.1 else "%.2g" % r


def failures(r):
    """(label, note) of the measurements that failed in one keyseal-bench run (not those only lacking a key)."""
    out = []
    for v in (r or {}).values():
        if v["value"] is None and v["note"] and not v["note"].startswith("no key: "):
            out.append((v["label"], v["note"]))
        elif v["unit"] == "count" and v["value"]:
            out.append((v["label"], "%d failed signatures, %s" % (v["value"], v["note"])))
    return out


def best(a, b):
    """The floor from its runs at the start and at the end: per row the better value (higher rate, lower
    time or CPU), since the other load on the machine only ever makes a floor worse."""
    if not a or not b:
        return a or b
    out = {}
    for key in set(a) | set(b):
        va, vb = value(a, key), value(b, key)
        pick = a.get(key) or b.get(key)
        if va is not None and vb is not None:
            higher = a[key]["unit"] == "ops/s"
            pick = a[key] if (va >= vb) == higher else b[key]
        out[key] = pick
    return out


def table(results, t, secs, load_start, load_end):
    floor, ks = best(load(results, "floor"), load(results, "floor-end")), load(results, "keyseal")
    p11_one = load(results, "tpm2-pkcs11")
    split = [load(results, "tpm2-pkcs11-" + n) for n in ("rsa", "ec", "login")]
    # tpm2-pkcs11: the one-process run where it gave a number, else the one-key-per-process runs (marked *).
    p11, marked = {}, set()
    for key, _ in rows(t):
        v = value(p11_one, key)
        if v is None:
            for s in split:
                if value(s, key) is not None:
                    v = value(s, key)
                    marked.add(key)
                    break
        p11[key] = v

    # Plain {key: value} per column, with the command counts (tpm_commands.py) added.
    cols = {"floor": {k: value(floor, k) for k, _ in rows(t)} if floor else None,
            "keyseal": {k: value(ks, k) for k, _ in rows(t)} if ks else None,
            "tpm2-pkcs11": p11}
    for name, col in cols.items():
        for alg in ("rsa", "ec"):
            c = commands(results, name, alg)
            if col is not None and c is not None:
                col["commands_" + alg] = c["per_signature"]
        # A load-independent rate: one signature is a synchronous round trip, client CPU then swtpm CPU.
        for alg, sign in (("rsa", "rsa2048_pkcs1_sign"), ("ec", "ecdsa_p256_sign")):
            if col is None:
                continue
            client, peer = col.get(sign + "_client_cpu_us"), col.get(sign + "_peer_cpu_us")
            col[alg + "_per_cpu"] = 1e6 / (client + peer) if client and peer else None
            if name == "tpm2-pkcs11" and sign + "_client_cpu_us" in marked:
                marked.add(alg + "_per_cpu")
    print("### TPM signing on one swtpm (%s s per measurement)" % secs)
    print()
    print("| metric | floor: raw TPM2_Sign (ESAPI) | keyseal TPM token | tpm2-pkcs11 | keyseal/tpm2-pkcs11 |"
          " keyseal/floor |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, label in rows(t):
        f, k, p = [(cols[n] or {}).get(key) for n in ("floor", "keyseal", "tpm2-pkcs11")]
        fs = "not run" if key.endswith("_%st" % t) and floor else fmt(f, key)
        if key.endswith("_errors") or key.startswith("login"):
            fs = "-"
        ps = fmt(p, key) + (" *" if key in marked else "")
        print("| %s | %s | %s | %s | %s | %s |" % (label, fs, fmt(k, key), ps, ratio(k, p), ratio(k, f)))
    print()
    print("- [1] `C_SignInit` + `C_Sign` per signature (`CKM_SHA256_RSA_PKCS` on 32 bytes, `CKM_ECDSA` on a 32-byte"
          " hash); the floor is `Esys_Sign` on a loaded key with a password session, nothing else. The floor ran"
          " first and again last; each floor cell is the better of its two runs.")
    print("- [2] %s threads, one session each, on one TPM. The TPM executes one command at a time, but a second"
          " thread overlaps the client's work and the socket round trip with the TPM's, so the ceiling is"
          " 1 / (swtpm CPU per signature), above the 1-thread floor. The failed-signature rows count"
          " `C_SignInit`/`C_Sign` calls that did not return CKR_OK." % t)
    print("- [3] user+system CPU of the benchmark process (all threads) per signature in the 1-thread window:"
          " the module's and the TSS's own work; the floor's is ESAPI + TCTI alone.")
    print("- [4] swtpm's user+system CPU (/proc/PID/stat, 10 ms ticks) per signature in the same window: the"
          " TPM's work for one TPM2_Sign; it differs between modules by the authorization session they use"
          " (keyseal and the floor: a password session) and by noise.")
    print("- [5] keyseal-bench: `C_GenerateKeyPair` of token keys (CKA_TOKEN true: tpm2-pkcs11 has no session"
          " keys), mean over the runs; floor: `TPM2_Create` + `TPM2_Load`.")
    print("- [6] a separate short run per key type through tpm2-tss's pcap TCTI (`pcap:` + the same TCTI): the"
          " commands the client sent from its first TPM2_Sign to its last, divided by (signatures - 1); which:")
    for name, label in (("floor", "floor"), ("keyseal", "keyseal"), ("tpm2-pkcs11", "tpm2-pkcs11")):
        for alg in ("rsa", "ec"):
            c = commands(results, name, alg)
            if c is None:
                print("  - %s %s: no capture (see tpm-%s-commands.log)." % (label, alg, name))
            elif c["per_signature"] is not None:
                print("  - %s %s: %s (%d signatures)." % (label, alg, ", ".join(
                    "%s %.2f" % kv for kv in c["breakdown"].items()), c["signatures"]))
    print("- [7] 1 / (client CPU + swtpm CPU) per signature, rows [3] + [4]: the signing rate on otherwise idle"
          " cores, since client and TPM work one after the other. Other load barely changes CPU time, so this"
          " row compares modules better than the wall-clock rows on a loaded machine.")
    if marked:
        print("- \\* tpm2-pkcs11 could not give this number in one process on a raw TPM (no resource manager):"
              " measured in a process of its own (one key pair, one key generation; C_Login cycles alone).")
    one = failures(p11_one)
    if p11_one is None:
        print("- tpm2-pkcs11, one process: no results (see tpm-tpm2-pkcs11.log).")
    elif one:
        why = " Its log shows TPM error 0x902 (out of memory for object contexts): it keeps its keys loaded," \
              " and a TPM without a resource manager holds about 3 objects." \
              if log_mentions(results, "tpm2-pkcs11", "0x00000902") else ""
        print("- tpm2-pkcs11, one process like keyseal's, failed at: " +
              "; ".join("%s (%s)" % (l.strip(" ."), n) for l, n in one) + "." + why)
    for s, n in zip(split, ("rsa", "ec", "login")):
        for l, note in failures(s):
            print("- tpm2-pkcs11, %s process: %s (%s)." % (n, l.strip(" ."), note))
    for name, r in (("keyseal", ks), ("floor", floor)):
        if r is None:
            print("- %s: no results (see tpm-%s.log)." % (name, name))
        for l, note in failures(r):
            print("- %s: %s (%s)." % (name, l.strip(" ."), note))
    lefts = [(n, left(results, n)) for n in ("floor", "floor-end", "keyseal", "tpm2-pkcs11", "tpm2-pkcs11-rsa",
                                             "tpm2-pkcs11-ec",
                                             "tpm2-pkcs11-login")]
    print("- Transient TPM objects still loaded after each process exited (flushed before the next): " +
          ", ".join("%s %s" % (n, v) for n, v in lefts if v is not None) + ".")
    print("- Load average (1/5/15 min) at start %s, at end %s: other engineers' builds shared the 2 cores, so"
          " wall-clock rates are lower and noisier than on an idle machine." % (load_start, load_end))


def check(results, t, require_keyseal):
    bad = []
    floor = load(results, "floor")
    for key in ("rsa2048_pkcs1_sign", "ecdsa_p256_sign", "keygen_rsa2048_ms", "keygen_ec_p256_ms"):
        if not (value(floor, key) or 0) > 0:
            bad.append("floor: " + key)
    if require_keyseal:
        ks = load(results, "keyseal")
        for key, _ in rows(t):
            if key.endswith("_per_cpu"):
                continue  # derived from the CPU rows, which are checked; 10 ms ticks can make one 0 in a smoke run
            v = value(ks, key)
            if key.startswith("commands_"):
                c = commands(results, "keyseal", key[len("commands_"):])
                v = c["per_signature"] if c else None
            if key.endswith("_errors"):
                if v != 0:
                    bad.append("keyseal: %s = %s" % (key, v))
            elif key.endswith("_peer_cpu_us") or key.endswith("_client_cpu_us"):
                if v is None or v < 0:
                    bad.append("keyseal: " + key)
            elif not (v or 0) > 0:
                bad.append("keyseal: " + key)
    if bad:
        sys.exit("TPM bench smoke: missing, failed or non-positive: " + ", ".join(bad))
    print("TPM bench smoke: floor%s complete, no failed signature" % (" and keyseal" if require_keyseal else ""))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3], sys.argv[4] == "1")
    else:
        table(*sys.argv[1:6])
