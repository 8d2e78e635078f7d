// keyseal-bench: measures any PKCS#11 module (loaded with dlopen) on signing, AES-GCM, multi-threaded
// signing, token object creation and lookup by CKA_ID, key generation and C_Login times. Usage: see
// options.cpp. Timing results are reported, never judged: there is no pass/fail on speed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>

#include "keys.h"
#include "measure.h"
#include "options.h"
#include "p11.h"
#include "report.h"

namespace keyseal::bench {
namespace {

// Runs one measurement; a failure becomes a skipped row with the reason, and the run goes on.
void attempt(Report& rep, const char* key, const char* label, const char* unit, const std::function<void()>& f) {
  try {
    std::fprintf(stderr, "measuring %s ...\n", label);
    f();
  } catch (const std::exception& e) {
    rep.skip(key, label, unit, std::string("failed: ") + e.what());
  }
}

const char* mech_name(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_SHA256_RSA_PKCS:
      return "CKM_SHA256_RSA_PKCS";
    case CKM_SHA256_RSA_PKCS_PSS:
      return "CKM_SHA256_RSA_PKCS_PSS";
    case CKM_ECDSA:
      return "CKM_ECDSA";
    case CKM_EDDSA:
      return "CKM_EDDSA";
    case CKM_AES_GCM:
      return "CKM_AES_GCM";
    default:
      return "mechanism";
  }
}

int run(const Options& o) {
  Module m(o.module);
  const CK_SLOT_ID slot = select_token(m, o.token);
  Report rep;
  rep.module_path = o.module;
  rep.library = m.library_description();
  rep.token = token_label(m.token_info(slot));
  rep.slot = slot;
  rep.seconds = o.seconds;

  Session session(m, slot, true);
  {
    const auto t0 = std::chrono::steady_clock::now();
    session.login(CKU_USER, o.token.user_pin);
    const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (o.wants("login")) rep.add("login_first_ms", "C_Login, first of the process", "ms", first_ms);
  }
  // Without a mechanism list every mechanism is tried, and failures show as "failed" rows.
  std::vector<CK_MECHANISM_TYPE> mechs;
  bool have_list = true;
  try {
    mechs = m.mechanisms(slot);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyseal-bench: %s; trying every mechanism\n", e.what());
    have_list = false;
  }
  auto has = [&](CK_MECHANISM_TYPE t) { return !have_list || std::find(mechs.begin(), mechs.end(), t) != mechs.end(); };

  // Keys, once. A key that cannot be made skips the rows that need it, with the reason.
  std::string rsa_err, ec_err, ed_err, aes_err;
  KeyPair rsa, ec, ed;
  CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
  auto keygen = [](std::string& err, const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      err = e.what();
    }
  };
  std::fprintf(stderr, "generating keys ...\n");
  // With the keygen group each pair type is generated --keygen-count times and timed; the last pair is kept.
  using Generator = KeyPair (*)(const Session&, bool);
  auto pair = [&](std::string& err, KeyPair& kp, Generator gen, const char* key, const char* label) {
    const auto generate = [&](const Session& s) { return gen(s, o.token_keys); };
    if (!o.wants("keygen")) return keygen(err, [&] { kp = generate(session); });
    keygen(err, [&] {
      const Timing t = time_keygen(session, generate, o.keygen_count, kp);
      rep.add(key, label, "ms", t.mean_ms, t.note());
    });
    if (!err.empty()) rep.skip(key, label, "ms", "failed: " + err);
  };
  const bool need_pairs = o.wants("sign") || o.wants("pss") || o.wants("threads") || o.wants("objects") ||
                          o.wants("keygen");
  const std::string kNotMeasured = "not measured";
  rsa_err = ec_err = kNotMeasured;
  if (need_pairs && o.algs.count("rsa")) {
    rsa_err.clear();
    pair(rsa_err, rsa, generate_rsa2048, "keygen_rsa2048_ms", "RSA-2048 C_GenerateKeyPair");
  }
  if (need_pairs && o.algs.count("ec")) {
    ec_err.clear();
    pair(ec_err, ec, generate_ec_p256, "keygen_ec_p256_ms", "EC P-256 C_GenerateKeyPair");
  }
  if (!o.wants("ed25519"))
    ed_err = kNotMeasured;
  else if (has(CKM_EC_EDWARDS_KEY_PAIR_GEN) && has(CKM_EDDSA))
    keygen(ed_err, [&] { ed = generate_ed25519(session, o.token_keys); });
  else
    ed_err = "module lacks CKM_EC_EDWARDS_KEY_PAIR_GEN/CKM_EDDSA";
  if (o.wants("gcm")) keygen(aes_err, [&] { aes = generate_aes256(session); });

  Bytes message(32);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(0xa5 ^ i);
  static CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};

  struct Row {
    const char* group;
    const char* key;
    const char* label;
    CK_MECHANISM mech;
    const KeyPair* kp;
    const std::string* err;
  };
  const Row rows[] = {
      {"sign",
       "rsa2048_pkcs1_sign",
       "RSA-2048 PKCS#1 v1.5 sign (SHA256_RSA_PKCS)",
       {CKM_SHA256_RSA_PKCS, nullptr, 0},
       &rsa,
       &rsa_err},
      {"pss",
       "rsa2048_pss_sign",
       "RSA-2048 PSS sign (SHA256, salt 32)",
       {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss},
       &rsa,
       &rsa_err},
      {"sign", "ecdsa_p256_sign", "ECDSA P-256 sign (32-byte hash)", {CKM_ECDSA, nullptr, 0}, &ec, &ec_err},
      {"ed25519", "ed25519_sign", "Ed25519 sign (32-byte message)", {CKM_EDDSA, nullptr, 0}, &ed, &ed_err},
  };
  auto sign_case = [&](const Row& r) { return SignCase{r.mech, r.kp->priv, r.kp->pub, message}; };
  // False (with a skipped row under `key`, unless --algs left the key out) when the module lacks the mechanism
  // or the key could not be made.
  auto usable = [&](const Row& r, const std::string& key, const std::string& label) {
    if (*r.err == kNotMeasured)
      return false;  // --algs left this key type out: no row at all
    if (!has(r.mech.mechanism))
      rep.skip(key, label, "ops/s", std::string("module lacks ") + mech_name(r.mech.mechanism));
    else if (!r.err->empty())
      rep.skip(key, label, "ops/s", "no key: " + *r.err);
    else
      return true;
    return false;
  };

  // A signing rate with its failures (always shown for parallel rows) and, with --peer-pid, the CPU time per
  // signature of this process and of the peer (the TPM simulator).
  auto add_rate = [&](const std::string& key, const std::string& label, const Rate& rate, bool parallel) {
    rep.add(key, label, "ops/s", rate.per_second(), {}, rate.per_cpu_second());
    if (parallel || rate.errors > 0)
      rep.add(key + "_errors", "  ... failed signatures", "count", static_cast<double>(rate.errors),
              rate.first_error.empty() ? std::string() : "first: " + rate.first_error);
    if (o.peer > 0 && rate.cpu_ops > 0) {
      rep.add(key + "_client_cpu_us", "  ... client CPU per signature", "us",
              rate.cpu_seconds * 1e6 / static_cast<double>(rate.cpu_ops));
      if (rate.peer_cpu_seconds)
        rep.add(key + "_peer_cpu_us", "  ... peer (pid " + std::to_string(o.peer) + ") CPU per signature", "us",
                *rate.peer_cpu_seconds * 1e6 / static_cast<double>(rate.cpu_ops));
    }
  };

  for (const Row& r : rows) {
    if (!o.wants(r.group) || !usable(r, r.key, r.label)) continue;
    attempt(rep, r.key, r.label, "ops/s", [&] {
      add_rate(r.key, r.label, sign_rate(m, slot, sign_case(r), o.seconds, 1, o.peer), false);
    });
  }

  const size_t kGcmMessage = 4096;
  const char* gcm_label = "AES-256-GCM encrypt, 4 KiB messages";
  if (!o.wants("gcm")) {
    // not measured
  } else if (!has(CKM_AES_GCM))
    rep.skip("aes256_gcm_4k_encrypt", gcm_label, "MB/s", "module lacks CKM_AES_GCM");
  else if (!aes_err.empty())
    rep.skip("aes256_gcm_4k_encrypt", gcm_label, "MB/s", "no key: " + aes_err);
  else
    attempt(rep, "aes256_gcm_4k_encrypt", gcm_label, "MB/s", [&] {
      const Rate r = gcm_encrypt_rate(session, aes, kGcmMessage, o.seconds);
      rep.add("aes256_gcm_4k_encrypt", gcm_label, "MB/s", r.per_second() * kGcmMessage / 1e6,
              "Init+Encrypt per message", r.per_cpu_second() * kGcmMessage / 1e6);
    });

  // Parallel signing: each thread has its own session; the ratio is against the one-thread row above.
  const std::string nt = std::to_string(o.threads);
  for (const Row* r : {&rows[2], &rows[0]}) {
    if (!o.wants("threads")) break;
    const std::string key = std::string(r->key) + "_" + nt + "t";
    const std::string label =
        std::string(r->label).substr(0, std::string(r->label).find(" (")) + ", " + nt + " threads";
    if (!usable(*r, key, label)) continue;
    attempt(rep, key.c_str(), label.c_str(), "ops/s", [&] {
      const Rate parallel = sign_rate(m, slot, sign_case(*r), o.seconds, o.threads, o.peer);
      const double rate = parallel.per_second();
      add_rate(key, label, parallel, true);
      if (const auto one = rep.value(r->key); one && *one > 0)
        rep.add(key + "_ratio", "  ... speed-up over 1 thread", "x", rate / *one,
                "ideal: " + nt + ".0 on " + nt + "+ free cores");
    });
  }

  // Token objects: public keys (CKA_ID is a key attribute; data objects have none), each with its own CKA_ID.
  ObjectTemplate tmpl;
  if (ec_err.empty()) {
    tmpl.kind = "EC P-256 public keys";
    tmpl.attributes = {{CKA_CLASS, ulong_bytes(CKO_PUBLIC_KEY)},
                       {CKA_KEY_TYPE, ulong_bytes(CKK_EC)},
                       {CKA_EC_PARAMS, kP256Params},
                       {CKA_EC_POINT, {}}};
  } else if (rsa_err.empty()) {
    tmpl.kind = "RSA-2048 public keys";
    tmpl.attributes = {{CKA_CLASS, ulong_bytes(CKO_PUBLIC_KEY)},
                       {CKA_KEY_TYPE, ulong_bytes(CKK_RSA)},
                       {CKA_MODULUS, {}},
                       {CKA_PUBLIC_EXPONENT, {}}};
  }
  FillResult fill;
  const char* create_label = "token object creation (C_CreateObject)";
  if (!o.wants("objects")) {
    // not measured
  } else if (tmpl.kind.empty()) {
    rep.skip("object_create", create_label, "objects/s", "no EC or RSA public key to copy");
  } else {
    attempt(rep, "object_create", create_label, "objects/s", [&] {
      const CK_OBJECT_HANDLE src = ec_err.empty() ? ec.pub : rsa.pub;
      for (auto& [type, value] : tmpl.attributes)
        if (value.empty()) value = read_attribute(session, src, type);
      fill = fill_token(session, tmpl, o.objects, o.max_fill_seconds);
      const uint64_t total = fill.existing + fill.created;
      std::string note = std::to_string(fill.created) + " " + tmpl.kind + ", token now holds " + std::to_string(total);
      if (fill.stopped_early) note += " (stopped after --max-fill-seconds)";
      if (fill.created == 0)
        rep.skip("object_create", create_label, "objects/s",
                 "token already holds " + std::to_string(fill.existing) + " objects; nothing created");
      else
        rep.add("object_create", create_label, "objects/s", fill.created / fill.seconds, note,
                fill.cpu_seconds > 0 ? std::optional<double>(fill.created / fill.cpu_seconds) : std::nullopt);
      if (fill.first_rate > 0)
        rep.add("object_create_first10", "  ... first 10% of creations", "objects/s", fill.first_rate);
      if (fill.last_rate > 0)
        rep.add("object_create_last10", "  ... last 10% of creations", "objects/s", fill.last_rate);
    });
  }

  const char* med_label = "find by CKA_ID, median";
  const char* p95_label = "find by CKA_ID, p95";
  if (!o.wants("objects")) {
    // not measured
  } else if (fill.ids.empty()) {
    rep.skip("find_by_id_median_us", med_label, "us", "no objects created by this run");
  } else {
    attempt(rep, "find_by_id_median_us", med_label, "us", [&] {
      const LookupResult l = find_by_id(session, fill.ids, o.lookups);
      const std::string among = "among " + std::to_string(fill.existing + fill.created) + " objects, " +
                                std::to_string(l.lookups) + " lookups";
      rep.add("find_by_id_median_us", med_label, "us", l.median_us, among, l.cpu_median_us);
      rep.add("find_by_id_p95_us", p95_label, "us", l.p95_us, {}, l.cpu_p95_us);
    });
    if (o.cleanup) {
      std::fprintf(stderr, "destroying %zu objects ...\n", fill.ids.size());
      destroy_by_id(session, fill.ids);
    }
  }

  if (o.token_keys) {
    for (const KeyPair* kp : {&rsa, &ec, &ed}) {
      if (kp->priv == CK_INVALID_HANDLE) continue;
      try {
        destroy_pair(session, *kp);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "keyseal-bench: %s (a benchmark key stays on the token)\n", e.what());
      }
    }
  }

  // C_Logout + C_Login cycles come last: C_Logout invalidates the handles of private objects (PKCS#11 v2.40
  // section 5.6), and tpm2-pkcs11 leaves a TPM object loaded per C_Login on a TPM without a resource manager.
  if (o.wants("login"))
    attempt(rep, "login_ms", "C_Login after C_Logout", "ms", [&] {
      const Timing t = time_login(session, o.token.user_pin, o.login_count);
      rep.add("login_ms", "C_Login after C_Logout", "ms", t.mean_ms, t.note());
    });

  rep.print_table();
  if (!o.json.empty()) rep.write_json(o.json);
  if (o.strict)
    for (const Result& r : rep.results)
      if (r.note.rfind("failed: ", 0) == 0 || r.note.rfind("no key: ", 0) == 0 ||
          (r.unit == "count" && r.value && *r.value > 0))
        return 3;
  return 0;
}

}  // namespace
}  // namespace keyseal::bench

int main(int argc, char** argv) {
  const keyseal::bench::Options o = keyseal::bench::parse_options(argc, argv);
  try {
    return keyseal::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyseal-bench: %s\n", e.what());
    return 1;
  }
}
