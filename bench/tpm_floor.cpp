// keyseal-tpm-floor: the floor for TPM signing, one raw TPM2_Sign round trip through ESAPI (TPM 2.0 Part 3
// section 20.2 TPM2_Sign) with the key already loaded, and TPM2_Create + TPM2_Load times for the same keys.
// No PKCS#11 module is involved: a module's signature can cost no less than this. Timing is reported, never
// judged; the last signature of each loop is checked with TPM2_VerifySignature.
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "peer_cpu.h"
#include "report.h"

namespace keyseal::bench {
namespace {

constexpr const char* kUsage =
    "usage: keyseal-tpm-floor --tcti TCTI [--seconds N] [--keygen-count N] [--keys rsa|ec] [--peer-pid PID]\n"
    "                         [--json FILE]\n"
    "  --tcti TCTI         TCTI configuration, e.g. swtpm:host=127.0.0.1,port=2321 (default: tss2 default)\n"
    "  --seconds N         signing window per key (default 2)\n"
    "  --keygen-count N    TPM2_Create + TPM2_Load timings per key type (default 3)\n"
    "  --keys rsa|ec       measure one key type only (default: both)\n"
    "  --peer-pid PID      the TPM simulator's process: its CPU time per signature is reported too\n"
    "  --json FILE         results in keyseal-bench's JSON shape\n";

using Clock = std::chrono::steady_clock;

struct Options {
  std::string tcti;
  double seconds = 2;
  int keygen_count = 3;
  pid_t peer = 0;
  std::string keys;  // empty: both
  std::string json;
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "keyseal-tpm-floor: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

double positive(const char* s, const char* opt) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (!end || *end || !(v > 0)) usage_error(std::string(opt) + " needs a positive number, got '" + s + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (a == "--tcti")
      o.tcti = next();
    else if (a == "--seconds")
      o.seconds = positive(next(), "--seconds");
    else if (a == "--keygen-count")
      o.keygen_count = static_cast<int>(positive(next(), "--keygen-count"));
    else if (a == "--peer-pid")
      o.peer = static_cast<pid_t>(positive(next(), "--peer-pid"));
    else if (a == "--keys") {
      o.keys = next();
      if (o.keys != "rsa" && o.keys != "ec") usage_error("--keys takes rsa or ec");
    } else if (a == "--json")
      o.json = next();
    else
      usage_error("unknown option " + a);
  }
  return o;
}

void check(TSS2_RC rc, const char* what) {
  if (rc != TSS2_RC_SUCCESS) throw std::runtime_error(std::string(what) + ": " + Tss2_RC_Decode(rc));
}

// One ESAPI context on one TCTI; the destructor flushes what `loaded` still names (no resource manager
// cleans up after us on a raw connection) and closes the connection.
class Tpm {
 public:
  explicit Tpm(const std::string& tcti) {
    check(Tss2_TctiLdr_Initialize(tcti.empty() ? nullptr : tcti.c_str(), &tcti_), "Tss2_TctiLdr_Initialize");
    if (const TSS2_RC rc = Esys_Initialize(&ctx_, tcti_, nullptr); rc != TSS2_RC_SUCCESS) {
      Tss2_TctiLdr_Finalize(&tcti_);
      check(rc, "Esys_Initialize");
    }
    // swtpm runs with startup-clear; a real TPM was started by the firmware. Either way TPM_RC_INITIALIZE.
    const TSS2_RC rc = Esys_Startup(ctx_, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
      close();
      check(rc, "Esys_Startup");
    }
  }
  ~Tpm() {
    for (ESYS_TR h : loaded) Esys_FlushContext(ctx_, h);
    close();
  }
  Tpm(const Tpm&) = delete;
  Tpm& operator=(const Tpm&) = delete;

  ESYS_CONTEXT* ctx() const { return ctx_; }
  void flush(ESYS_TR h) {
    check(Esys_FlushContext(ctx_, h), "Esys_FlushContext");
    loaded.erase(std::remove(loaded.begin(), loaded.end(), h), loaded.end());
  }
  std::vector<ESYS_TR> loaded;

 private:
  void close() {
    Esys_Finalize(&ctx_);
    Tss2_TctiLdr_Finalize(&tcti_);
  }
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* ctx_ = nullptr;
};

// A key's authValue, as a PKCS#11 module would derive one from the user PIN: signing uses a password session.
const TPM2B_AUTH kKeyAuth = {16, {'f', 'l', 'o', 'o', 'r', '-', 'k', 'e', 'y', '-', 'a', 'u', 't', 'h', '-', '1'}};

constexpr TPMA_OBJECT kKeyAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;

// The TCG storage primary template for ECC P-256 (TCG "Provisioning Guidance" SRK template).
TPM2B_PUBLIC storage_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kKeyAttributes | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.eccDetail.symmetric.keyBits.aes = 128;
  p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  p.unique.ecc.x.size = 32;
  p.unique.ecc.y.size = 32;
  return t;
}

TPM2B_PUBLIC rsa2048_signing_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kKeyAttributes | TPMA_OBJECT_SIGN_ENCRYPT;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;  // 65537
  return t;
}

TPM2B_PUBLIC p256_signing_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kKeyAttributes | TPMA_OBJECT_SIGN_ENCRYPT;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

ESYS_TR create_primary(Tpm& tpm) {
  const TPM2B_SENSITIVE_CREATE sensitive{};
  const TPM2B_PUBLIC tmpl = storage_template();
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION pcrs{};
  ESYS_TR primary = ESYS_TR_NONE;
  check(Esys_CreatePrimary(tpm.ctx(), ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                           &tmpl, &outside, &pcrs, &primary, nullptr, nullptr, nullptr, nullptr),
        "Esys_CreatePrimary");
  tpm.loaded.push_back(primary);
  return primary;
}

// TPM2_Create + TPM2_Load of one signing key under `parent`; the key stays loaded. `ms` gets the time taken.
ESYS_TR create_and_load(Tpm& tpm, ESYS_TR parent, const TPM2B_PUBLIC& tmpl, double& ms) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  sensitive.sensitive.userAuth = kKeyAuth;
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION pcrs{};
  TPM2B_PRIVATE* priv = nullptr;
  TPM2B_PUBLIC* pub = nullptr;
  const auto t0 = Clock::now();
  check(Esys_Create(tpm.ctx(), parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &tmpl, &outside,
                    &pcrs, &priv, &pub, nullptr, nullptr, nullptr),
        "Esys_Create");
  std::unique_ptr<TPM2B_PRIVATE, decltype(&Esys_Free)> priv_owner(priv, &Esys_Free);
  std::unique_ptr<TPM2B_PUBLIC, decltype(&Esys_Free)> pub_owner(pub, &Esys_Free);
  ESYS_TR key = ESYS_TR_NONE;
  check(Esys_Load(tpm.ctx(), parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &key), "Esys_Load");
  ms = ms_since(t0);
  tpm.loaded.push_back(key);
  check(Esys_TR_SetAuth(tpm.ctx(), key, &kKeyAuth), "Esys_TR_SetAuth");
  return key;
}

struct SignLoop {
  uint64_t ops = 0;
  double seconds = 0;
  double client_cpu = 0;
  std::optional<double> peer_cpu;
};

// Esys_Sign with the key's own scheme on a fixed SHA-256 digest, once untimed and then for `seconds`.
SignLoop sign_loop(Tpm& tpm, ESYS_TR key, double seconds, pid_t peer) {
  TPM2B_DIGEST digest{};
  digest.size = 32;
  for (int i = 0; i < 32; ++i) digest.buffer[i] = static_cast<uint8_t>(0xa5 ^ i);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPMT_TK_HASHCHECK validation{};
  validation.tag = TPM2_ST_HASHCHECK;
  validation.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  auto sign = [&] {
    Esys_Free(sig);
    sig = nullptr;
    check(Esys_Sign(tpm.ctx(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &validation, &sig),
          "Esys_Sign");
  };
  sign();
  SignLoop r;
  const double cpu0 = rusage_cpu_seconds();
  const auto peer0 = peer_cpu_seconds(peer);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto now = start;
  do {
    sign();
    ++r.ops;
    now = Clock::now();
  } while (now < deadline);
  r.seconds = std::chrono::duration<double>(now - start).count();
  r.client_cpu = rusage_cpu_seconds() - cpu0;
  if (const auto peer1 = peer_cpu_seconds(peer); peer0 && peer1) r.peer_cpu = *peer1 - *peer0;

  TPMT_TK_VERIFIED* verified = nullptr;
  const TSS2_RC rc = Esys_VerifySignature(tpm.ctx(), key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, sig,
                                          &verified);
  Esys_Free(verified);
  Esys_Free(sig);
  check(rc, "Esys_VerifySignature (the last signature does not verify)");
  return r;
}

struct KeyCase {
  const char* type;    // "rsa" or "ec", as --keys names it
  const char* key;     // JSON name, as keyseal-bench names the same row
  const char* label;
  const char* keygen_key;
  const char* keygen_label;
  TPM2B_PUBLIC tmpl;
};

int run(const Options& o) {
  Tpm tpm(o.tcti);
  Report rep;
  rep.tool = "keyseal-tpm-floor";
  rep.module_path = "(no PKCS#11 module: ESAPI TPM2_Sign)";
  rep.library = "tpm2-tss ESAPI";
  rep.token = o.tcti.empty() ? "(tss2 default TCTI)" : o.tcti;
  rep.seconds = o.seconds;

  auto t0 = Clock::now();
  const ESYS_TR primary = create_primary(tpm);
  rep.add("primary_ms", "TPM2_CreatePrimary (ECC P-256 storage key)", "ms", ms_since(t0));

  const KeyCase cases[] = {
      {"rsa", "rsa2048_pkcs1_sign", "RSA-2048 TPM2_Sign (RSASSA SHA-256)", "keygen_rsa2048_ms",
       "RSA-2048 key: TPM2_Create + TPM2_Load", rsa2048_signing_template()},
      {"ec", "ecdsa_p256_sign", "ECC P-256 TPM2_Sign (ECDSA SHA-256)", "keygen_ec_p256_ms",
       "ECC P-256 key: TPM2_Create + TPM2_Load", p256_signing_template()},
  };
  for (const KeyCase& c : cases) {
    if (!o.keys.empty() && o.keys != c.type) continue;
    std::fprintf(stderr, "floor: %s ...\n", c.keygen_label);
    // Keys are made and loaded one at a time: a TPM without a resource manager has about 3 object slots.
    std::vector<double> times;
    ESYS_TR key = ESYS_TR_NONE;
    for (int i = 0; i < o.keygen_count; ++i) {
      if (key != ESYS_TR_NONE) tpm.flush(key);
      double ms = 0;
      key = create_and_load(tpm, primary, c.tmpl, ms);
      times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    double mean = 0;
    for (double t : times) mean += t / static_cast<double>(times.size());
    rep.add(c.keygen_key, c.keygen_label, "ms", mean,
            "mean of " + std::to_string(times.size()) + ", min " + std::to_string(static_cast<int>(times.front())) +
                " max " + std::to_string(static_cast<int>(times.back())));

    std::fprintf(stderr, "floor: %s ...\n", c.label);
    const SignLoop s = sign_loop(tpm, key, o.seconds, o.peer);
    // cpu_value: signatures per second of this process's CPU, the same field keyseal-bench fills.
    const double per_cpu = s.client_cpu > 0 ? static_cast<double>(s.ops) / s.client_cpu : 0;
    rep.add(c.key, c.label, "ops/s", static_cast<double>(s.ops) / s.seconds,
            std::to_string(s.ops) + " signatures", per_cpu > 0 ? std::optional<double>(per_cpu) : std::nullopt);
    rep.add(std::string(c.key) + "_client_cpu_us", "  ... client CPU per signature", "us",
            s.client_cpu * 1e6 / static_cast<double>(s.ops));
    if (s.peer_cpu)
      rep.add(std::string(c.key) + "_peer_cpu_us", "  ... TPM process CPU per signature", "us",
              *s.peer_cpu * 1e6 / static_cast<double>(s.ops), "pid " + std::to_string(o.peer));
    tpm.flush(key);
  }
  rep.print_table();
  if (!o.json.empty()) rep.write_json(o.json);
  return 0;
}

}  // namespace
}  // namespace keyseal::bench

int main(int argc, char** argv) {
  const keyseal::bench::Options o = keyseal::bench::parse(argc, argv);
  try {
    return keyseal::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "keyseal-tpm-floor: %s\n", e.what());
    return 1;
  }
}
