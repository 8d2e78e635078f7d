// keyseal-bench: measures any PKCS#11 module (loaded with dlopen) on signing, AES-GCM, multi-threaded
// signing, token object creation and lookup by CKA_ID. Usage: see kUsage. Timing results are reported,
// never judged: there is no pass/fail on speed.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>

#include "keys.h"
#include "measure.h"
#include "p11.h"
#include "report.h"

namespace keyseal::bench {
namespace {

constexpr const char* kUsage =
    "usage: keyseal-bench --module PATH [--slot ID | --token-label L] --pin P [--so-pin S --init]\n"
    "                     [--seconds N] [--objects N] [--lookups N] [--threads N] [--max-fill-seconds N]\n"
    "                     [--cleanup] [--strict] [--json FILE]\n"
    "  --init              C_InitToken on the first uninitialized slot (or --slot) with label --token-label\n"
    "                      (default keyseal-bench) and SO PIN --so-pin, then C_InitPIN with --pin\n"
    "  --seconds N         window per measurement (default 2)\n"
    "  --objects N         fill the token to N token objects (default 10000)\n"
    "  --lookups N         random C_FindObjects lookups by CKA_ID (default 200)\n"
    "  --threads N         threads for the parallel signing rows (default 2)\n"
    "  --max-fill-seconds  stop filling after this long (default 900)\n"
    "  --cleanup           destroy the objects this run created\n"
    "  --strict            exit 3 when a measurement failed (a missing mechanism is not a failure)\n";

struct Options {
  std::string module;
  TokenChoice token;
  double seconds = 2;
  uint64_t objects = 10000;
  size_t lookups = 200;
  int threads = 2;
  double max_fill_seconds = 900;
  bool cleanup = false;
  bool strict = false;
  std::string json;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "keyseal-bench: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

double parse_number(const char* s, const char* opt) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (!end || *end || !(v > 0)) usage_error(std::string(opt) + " needs a positive number, got '" + s + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_pin = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (a == "--module")
      o.module = next();
    else if (a == "--slot") {
      o.token.has_slot = true;
      o.token.slot = std::strtoul(next(), nullptr, 0);
    } else if (a == "--token-label")
      o.token.label = next();
    else if (a == "--pin") {
      o.token.user_pin = next();
      have_pin = true;
    } else if (a == "--so-pin")
      o.token.so_pin = next();
    else if (a == "--init")
      o.token.init = true;
    else if (a == "--seconds")
      o.seconds = parse_number(next(), "--seconds");
    else if (a == "--objects")
      o.objects = static_cast<uint64_t>(parse_number(next(), "--objects"));
    else if (a == "--lookups")
      o.lookups = static_cast<size_t>(parse_number(next(), "--lookups"));
    else if (a == "--threads")
      o.threads = static_cast<int>(parse_number(next(), "--threads"));
    else if (a == "--max-fill-seconds")
      o.max_fill_seconds = parse_number(next(), "--max-fill-seconds");
    else if (a == "--cleanup")
      o.cleanup = true;
    else if (a == "--strict")
      o.strict = true;
    else if (a == "--json")
      o.json = next();
    else
      usage_error("unknown option " + a);
  }
  if (o.module.empty()) usage_error("--module is required");
  if (!have_pin) usage_error("--pin is required");
  if (o.token.init && o.token.label.empty()) o.token.label = "keyseal-bench";
  return o;
}

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
  session.login(CKU_USER, o.token.user_pin);
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
  keygen(rsa_err, [&] { rsa = generate_rsa2048(session); });
  keygen(ec_err, [&] { ec = generate_ec_p256(session); });
  if (has(CKM_EC_EDWARDS_KEY_PAIR_GEN) && has(CKM_EDDSA))
    keygen(ed_err, [&] { ed = generate_ed25519(session); });
  else
    ed_err = "module lacks CKM_EC_EDWARDS_KEY_PAIR_GEN/CKM_EDDSA";
  keygen(aes_err, [&] { aes = generate_aes256(session); });

  Bytes message(32);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(0xa5 ^ i);
  static CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};

  struct Row {
    const char* key;
    const char* label;
    CK_MECHANISM mech;
    const KeyPair* kp;
    const std::string* err;
  };
  const Row rows[] = {
      {"rsa2048_pkcs1_sign",
       "RSA-2048 PKCS#1 v1.5 sign (SHA256_RSA_PKCS)",
       {CKM_SHA256_RSA_PKCS, nullptr, 0},
       &rsa,
       &rsa_err},
      {"rsa2048_pss_sign",
       "RSA-2048 PSS sign (SHA256, salt 32)",
       {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss},
       &rsa,
       &rsa_err},
      {"ecdsa_p256_sign", "ECDSA P-256 sign (32-byte hash)", {CKM_ECDSA, nullptr, 0}, &ec, &ec_err},
      {"ed25519_sign", "Ed25519 sign (32-byte message)", {CKM_EDDSA, nullptr, 0}, &ed, &ed_err},
  };
  auto sign_case = [&](const Row& r) { return SignCase{r.mech, r.kp->priv, r.kp->pub, message}; };
  // False (with a skipped row under `key`) when the module lacks the mechanism or the key could not be made.
  auto usable = [&](const Row& r, const std::string& key, const std::string& label) {
    if (!has(r.mech.mechanism))
      rep.skip(key, label, "ops/s", std::string("module lacks ") + mech_name(r.mech.mechanism));
    else if (!r.err->empty())
      rep.skip(key, label, "ops/s", "no key: " + *r.err);
    else
      return true;
    return false;
  };

  for (const Row& r : rows) {
    if (!usable(r, r.key, r.label)) continue;
    attempt(rep, r.key, r.label, "ops/s", [&] {
      const Rate rate = sign_rate(m, slot, sign_case(r), o.seconds, 1);
      rep.add(r.key, r.label, "ops/s", rate.per_second(), {}, rate.per_cpu_second());
    });
  }

  const size_t kGcmMessage = 4096;
  const char* gcm_label = "AES-256-GCM encrypt, 4 KiB messages";
  if (!has(CKM_AES_GCM))
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
    const std::string key = std::string(r->key) + "_" + nt + "t";
    const std::string label =
        std::string(r->label).substr(0, std::string(r->label).find(" (")) + ", " + nt + " threads";
    if (!usable(*r, key, label)) continue;
    attempt(rep, key.c_str(), label.c_str(), "ops/s", [&] {
      const Rate parallel = sign_rate(m, slot, sign_case(*r), o.seconds, o.threads);
      const double rate = parallel.per_second();
      rep.add(key, label, "ops/s", rate, {}, parallel.per_cpu_second());
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
  if (tmpl.kind.empty()) {
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
  if (fill.ids.empty()) {
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

  rep.print_table();
  if (!o.json.empty()) rep.write_json(o.json);
  if (o.strict)
    for (const Result& r : rep.results)
      if (r.note.rfind("failed: ", 0) == 0 || r.note.rfind("no key: ", 0) == 0) return 3;
  return 0;
}

}  // namespace
}  // namespace keyseal::bench

int main(int argc, char** argv) {
  const keyseal::bench::Options o = keyseal::bench::parse(argc, argv);
  try {
    return keyseal::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyseal-bench: %s\n", e.what());
    return 1;
  }
}
