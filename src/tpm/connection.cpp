// Connection: TCTI loading behind a counting shim, TPM2_Startup, the storage parent (TCG SRK template,
// Provisioning Guidance section 7.5) and the loaded-object LRU with TPM2_Load / TPM2_FlushContext.
#include "tpm/connection.h"

#include "common/log.h"
#include "tpm/tss_errors.h"

#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <map>

namespace keyseal::tpm {

// A TCTI that forwards to the real one and counts the commands it transmits: the honest "TPM commands per
// signature" number, whatever ESYS does inside.
struct Connection::Tcti {
  TSS2_TCTI_CONTEXT_COMMON_V2 common{};  // first member: ESYS sees a TSS2_TCTI_CONTEXT*
  TSS2_TCTI_CONTEXT* inner = nullptr;
  std::atomic<uint64_t>* counter = nullptr;

  static Tcti* self(TSS2_TCTI_CONTEXT* c) { return reinterpret_cast<Tcti*>(c); }
  static TSS2_RC transmit(TSS2_TCTI_CONTEXT* c, size_t size, const uint8_t* cmd) {
    self(c)->counter->fetch_add(1);
    return Tss2_Tcti_Transmit(self(c)->inner, size, cmd);
  }
  static TSS2_RC receive(TSS2_TCTI_CONTEXT* c, size_t* size, uint8_t* resp, int32_t timeout) {
    return Tss2_Tcti_Receive(self(c)->inner, size, resp, timeout);
  }
  static void finalize(TSS2_TCTI_CONTEXT*) {}  // the owner finalizes the inner TCTI
  static TSS2_RC cancel(TSS2_TCTI_CONTEXT* c) { return Tss2_Tcti_Cancel(self(c)->inner); }
  static TSS2_RC poll(TSS2_TCTI_CONTEXT* c, TSS2_TCTI_POLL_HANDLE* h, size_t* n) {
    return Tss2_Tcti_GetPollHandles(self(c)->inner, h, n);
  }
  static TSS2_RC locality(TSS2_TCTI_CONTEXT* c, uint8_t l) { return Tss2_Tcti_SetLocality(self(c)->inner, l); }
  static TSS2_RC sticky(TSS2_TCTI_CONTEXT* c, TPM2_HANDLE* h, uint8_t s) {
    return Tss2_Tcti_MakeSticky(self(c)->inner, h, s);
  }

  Tcti(TSS2_TCTI_CONTEXT* in, std::atomic<uint64_t>* n) : inner(in), counter(n) {
    common.v1.magic = TSS2_TCTI_MAGIC(in);
    common.v1.version = TSS2_TCTI_VERSION(in) >= 2 ? 2 : 1;
    common.v1.transmit = transmit;
    common.v1.receive = receive;
    common.v1.finalize = finalize;
    common.v1.cancel = cancel;
    common.v1.getPollHandles = poll;
    common.v1.setLocality = locality;
    common.makeSticky = sticky;
  }
  ~Tcti() {
    TSS2_TCTI_CONTEXT* c = inner;
    Tss2_TctiLdr_Finalize(&c);
  }
  TSS2_TCTI_CONTEXT* outer() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(&common); }
};

namespace {

TPM2B_PUBLIC srk_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.eccDetail.symmetric.keyBits.aes = 128;
  p.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

bool is_storage_key(const TPMT_PUBLIC& p) {
  const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  return (p.objectAttributes & need) == need && (p.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0 &&
         (p.type == TPM2_ALG_ECC || p.type == TPM2_ALG_RSA);
}

}  // namespace

TSS2_RC create_srk_primary(ESYS_CONTEXT* ctx, ESYS_TR& h, TPM2B_NAME& name) {
  const TPM2B_SENSITIVE_CREATE sens{};
  const TPM2B_PUBLIC tmpl = srk_template();
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION no_pcrs{};
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_CREATION_DATA* cdata = nullptr;
  TPM2B_DIGEST* chash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  h = ESYS_TR_NONE;
  TSS2_RC rc = Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                                  &outside, &no_pcrs, &h, &pub, &cdata, &chash, &ticket);
  Esys_Free(pub), Esys_Free(cdata), Esys_Free(chash), Esys_Free(ticket);
  if (rc != TSS2_RC_SUCCESS) {
    h = ESYS_TR_NONE;
    return rc;
  }
  TPM2B_NAME* n = nullptr;
  rc = Esys_TR_GetName(ctx, h, &n);
  if (rc == TSS2_RC_SUCCESS) name = *n;
  Esys_Free(n);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(ctx, h);
    h = ESYS_TR_NONE;
  }
  return rc;
}

Connection::Connection(std::string tcti) : tcti_(std::move(tcti)), xlock_(tcti_) {}

Connection::Guard::Guard(Connection& c) : lock_(c.mu_), c_(c) {
  const uint64_t gen = c_.xlock_.acquire();
  if (gen != c_.seen_gen_) {
    // Another client flushed objects that were not its own since our last exchange: ours may be gone and
    // their handle numbers reused. Forget them (no TPM command); they are reloaded when needed.
    if (c_.ctx_ && c_.pid_ == ::getpid()) c_.forget_handles();
    c_.seen_gen_ = gen;
  }
}

Connection::Guard::~Guard() { c_.xlock_.release(); }

Connection::~Connection() {
  std::lock_guard<std::mutex> g(mu_);
  if (ctx_ && pid_ != ::getpid()) {  // inherited from the parent: not ours to flush or close
    (void)tcti_ctx_.release();
    return;
  }
  if (ctx_) {
    evict_to(0);
    if (parent_transient_) Esys_FlushContext(ctx_, parent_);  // a raw TPM keeps it otherwise
  }
  drop();
}

std::shared_ptr<Connection> Connection::shared(const std::string& tcti) {
  static std::mutex mu;
  static auto* registry = new std::map<std::string, std::weak_ptr<Connection>>;  // never destroyed: no work at exit
  std::lock_guard<std::mutex> g(mu);
  std::weak_ptr<Connection>& w = (*registry)[tcti];
  std::shared_ptr<Connection> c = w.lock();
  if (!c) {
    c = std::make_shared<Connection>(tcti);
    w = c;
  }
  return c;
}

size_t Connection::loaded_objects() const {
  std::lock_guard<std::mutex> g(mu_);
  return lru_.size() + (ctx_ && parent_transient_ ? 1 : 0);
}

void Connection::drop() noexcept {
  lru_.clear();
  parent_ = ESYS_TR_NONE;
  parent_transient_ = false;
  parent_name_ = {};
  if (ctx_) Esys_Finalize(&ctx_);  // does not finalize our TCTI (we passed it in)
  ctx_ = nullptr;
  tcti_ctx_.reset();
}

void Connection::connect() {
  // tpm2-tss logs every TPM error response to stderr unless told otherwise; a wrong PIN is not an error of
  // the host application. Only when the user has not chosen a TSS2_LOG level.
  static std::once_flag quiet;
  std::call_once(quiet, [] { ::setenv("TSS2_LOG", "all+none", 0); });
  TSS2_TCTI_CONTEXT* inner = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti_.empty() ? nullptr : tcti_.c_str(), &inner);
  if (rc != TSS2_RC_SUCCESS)
    fail(CKR_DEVICE_ERROR, "no TPM at TCTI '" + (tcti_.empty() ? std::string("default") : tcti_) +
                               "': " + describe(rc));
  tcti_ctx_ = std::make_unique<Tcti>(inner, &commands_);
  pid_ = ::getpid();
  rc = Esys_Initialize(&ctx_, tcti_ctx_->outer(), nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    ctx_ = nullptr;
    drop();
    fail(CKR_DEVICE_ERROR, "ESYS initialisation failed: " + describe(rc));
  }
  try {
    rc = Esys_Startup(ctx_, TPM2_SU_CLEAR);
    // TPM_RC_INITIALIZE: already started (the usual case); a resource manager may refuse Startup outright.
    if (rc != TSS2_RC_SUCCESS && is_connection_error(rc)) throw_tss(rc, "TPM2_Startup");
    auto check = [this](TSS2_RC r, const char* what) {
      if (r != TSS2_RC_SUCCESS) throw_tss(r, what);
    };
    info_ = probe(ctx_, check);
    parent_error_.clear();
    try {
      make_parent();
    } catch (const TssError& e) {
      if (is_connection_error(e.tss_rc)) throw;
      parent_error_ = e.detail;
    } catch (const Error& e) {
      parent_error_ = e.detail;  // reported by status(); key and PIN operations fail with it
    }
  } catch (const Error& e) {
    drop();
    if (e.rv == CKR_DEVICE_ERROR) throw;
    fail(CKR_DEVICE_ERROR, "TPM not usable: " + e.detail);
  }
  log::info("TPM connected (" + manufacturer_name(info_.manufacturer) + ", " + spec_text(info_) + ")");
}

void Connection::forget_handles() noexcept {
  for (Loaded& l : lru_) Esys_TR_Close(ctx_, &l.handle);
  lru_.clear();
  if (parent_transient_ && parent_ != ESYS_TR_NONE) {
    Esys_TR_Close(ctx_, &parent_);
    parent_ = ESYS_TR_NONE;
    parent_transient_ = false;
  }
}

void Connection::flush_foreign() {
  // Only called when the TPM's slots are full and we hold nothing ourselves. Through a resource manager we
  // see only our own objects; on a raw TPM these belong to a client that died without flushing, or to a live
  // one, which reloads its objects when it finds them gone (Guard::retrying).
  TSS2_SYS_CONTEXT* sys = nullptr;
  if (Esys_GetSysContext(ctx_, &sys) != TSS2_RC_SUCCESS || !sys) return;
  for (TPM2_HANDLE first : {TPM2_TRANSIENT_FIRST, TPM2_LOADED_SESSION_FIRST}) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* cap = nullptr;
    if (Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, first, 32, &more,
                           &cap) != TSS2_RC_SUCCESS)
      continue;
    for (UINT32 i = 0; i < cap->data.handles.count; ++i) {
      const TPM2_HANDLE h = cap->data.handles.handle[i];
      if ((h >> 24) != (first >> 24)) continue;
      if (Tss2_Sys_FlushContext(sys, h) == TSS2_RC_SUCCESS) {
        log::info("TPM full: flushed a transient handle of another client: " + std::to_string(h));
        seen_gen_ = xlock_.bump();  // the other clients reload theirs before their next use
      }
    }
    Esys_Free(cap);
  }
}

void Connection::make_parent() {
  ESYS_TR h = ESYS_TR_NONE;
  if (Esys_TR_FromTPMPublic(ctx_, kPersistentSrk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h) ==
      TSS2_RC_SUCCESS) {
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_NAME* name = nullptr;
    TPM2B_NAME* qname = nullptr;
    const TSS2_RC rc = Esys_ReadPublic(ctx_, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name, &qname);
    const bool ok = rc == TSS2_RC_SUCCESS && is_storage_key(pub->publicArea);
    if (ok) parent_name_ = *name;
    Esys_Free(pub), Esys_Free(name), Esys_Free(qname);
    if (ok) {
      parent_ = h;
      parent_transient_ = false;
      return;
    }
    if (rc != TSS2_RC_SUCCESS && is_connection_error(rc)) throw_tss(rc, "TPM2_ReadPublic");
    log::warn("TPM handle 0x81000001 is not a storage key; using a primary key from the standard template");
    Esys_TR_Close(ctx_, &h);
  }
  TSS2_RC rc = TSS2_RC_SUCCESS;
  for (int attempt = 0; attempt < 3; ++attempt) {
    rc = create_srk_primary(ctx_, h, parent_name_);
    if (tpm_code(rc) != TPM2_RC_OBJECT_MEMORY) break;
    // The TPM's slots are full (a raw TPM shared with other clients): our keys first, then theirs.
    if (!lru_.empty()) evict_to(0);
    else flush_foreign();
  }
  if (tpm_code(rc) == TPM2_RC_BAD_AUTH || tpm_code(rc) == TPM2_RC_AUTH_FAIL)
    fail(CKR_DEVICE_ERROR, "the TPM owner hierarchy has an authorization value and there is no persistent SRK "
                           "at 0x81000001 (provision one, e.g. tpm2_createprimary + tpm2_evictcontrol)");
  if (rc != TSS2_RC_SUCCESS) throw_tss(rc, "TPM2_CreatePrimary (storage parent)");
  parent_ = h;
  parent_transient_ = true;
}

size_t Connection::key_capacity(size_t reserve) const {
  const size_t used = (parent_transient_ ? 1 : 0) + reserve;
  return kMaxTransient > used ? kMaxTransient - used : 0;
}

void Connection::evict_to(size_t n) noexcept {
  while (lru_.size() > n) {
    ESYS_TR h = lru_.back().handle;
    lru_.pop_back();
    if (ctx_) Esys_FlushContext(ctx_, h);
  }
}

ESYS_CONTEXT* Connection::Guard::ctx() {
  if (c_.ctx_ && c_.pid_ != ::getpid()) {
    // A forked child: the context and socket are the parent's. Forget them without a word to the TPM (a
    // TCTI finalize may send a session-end message) and connect afresh.
    c_.ctx_ = nullptr;
    (void)c_.tcti_ctx_.release();
    c_.lru_.clear();
    c_.parent_ = ESYS_TR_NONE;
    c_.parent_transient_ = false;
  }
  if (!c_.ctx_) c_.connect();
  return c_.ctx_;
}

void Connection::Guard::check(TSS2_RC rc, const char* what) {
  if (rc == TSS2_RC_SUCCESS) return;
  if (is_connection_error(rc)) {
    c_.drop();
    log::warn(std::string("TPM connection lost during ") + what + ": " + describe(rc));
  }
  throw_tss(rc, what);
}

ESYS_TR Connection::Guard::parent() {
  ctx();
  if (c_.parent_ == ESYS_TR_NONE && c_.parent_error_.empty()) {  // flushed by another client: make it again
    try {
      c_.make_parent();
    } catch (const TssError& e) {
      if (is_connection_error(e.tss_rc)) c_.drop();
      throw;
    }
  }
  require(c_.parent_error_.empty(), CKR_DEVICE_ERROR, c_.parent_error_);
  return c_.parent_;
}

const TPM2B_NAME& Connection::Guard::parent_name() {
  parent();
  return c_.parent_name_;
}

const TpmInfo& Connection::Guard::info() {
  ctx();
  return c_.info_;
}

void Connection::Guard::refresh_variable_state() {
  ESYS_CONTEXT* e = ctx();
  read_variable_state(e, c_.info_, [this](TSS2_RC rc, const char* what) { check(rc, what); });
}

const std::string& Connection::Guard::parent_error() {
  ctx();
  return c_.parent_error_;
}

ESYS_TR Connection::Guard::load(const KeyBlobs& k) {
  ESYS_CONTEXT* e = ctx();
  for (auto it = c_.lru_.begin(); it != c_.lru_.end(); ++it) {
    if (it->id != k.id) continue;
    c_.lru_.splice(c_.lru_.begin(), c_.lru_, it);
    return it->handle;
  }
  parent();
  if (k.parent.size != 0 && (k.parent.size != c_.parent_name_.size ||
                             std::memcmp(k.parent.name, c_.parent_name_.name, k.parent.size) != 0))
    fail(CKR_DEVICE_ERROR, "this key was created under another storage parent than this TPM's SRK");
  const size_t cap = c_.key_capacity(0);
  c_.evict_to(cap > 0 ? cap - 1 : 0);
  ESYS_TR h = ESYS_TR_NONE;
  check(Esys_Load(e, c_.parent_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &k.priv, &k.pub, &h), "TPM2_Load");
  TPM2B_AUTH auth{};
  auth.size = static_cast<UINT16>(std::min(k.auth.size(), sizeof auth.buffer));
  std::memcpy(auth.buffer, k.auth.data(), auth.size);
  const TSS2_RC rc = Esys_TR_SetAuth(e, h, &auth);
  secure_wipe(&auth, sizeof auth);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_FlushContext(e, h);
    throw_tss(rc, "Esys_TR_SetAuth");
  }
  c_.lru_.push_front({k.id, h});
  return h;
}

ESYS_TR Connection::Guard::load_transient(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv) {
  ESYS_CONTEXT* e = ctx();
  parent();
  c_.evict_to(c_.key_capacity(1));
  ESYS_TR h = ESYS_TR_NONE;
  check(Esys_Load(e, c_.parent_, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &h), "TPM2_Load");
  return h;
}

namespace {

enum class Trouble { none, full, stale };

// Failures another client of a raw TPM can cause us: its objects fill the slots, or it flushed ours.
Trouble trouble_of(TSS2_RC rc, bool key_auth) {
  if (rc == TSS2_RC_SUCCESS || is_connection_error(rc)) return Trouble::none;
  const TSS2_RC code = tpm_code(rc);
  if (code == TPM2_RC_OBJECT_MEMORY || code == TPM2_RC_SESSION_MEMORY || code == TPM2_RC_OBJECT_HANDLES ||
      code == TPM2_RC_SESSION_HANDLES)
    return Trouble::full;
  if (code == TPM2_RC_HANDLE || (code >= TPM2_RC_REFERENCE_H0 && code <= TPM2_RC_REFERENCE_H6) ||
      (key_auth && (code == TPM2_RC_AUTH_FAIL || code == TPM2_RC_BAD_AUTH)))
    return Trouble::stale;
  return Trouble::none;
}

}  // namespace

TSS2_RC Connection::Guard::retrying(const std::function<TSS2_RC()>& f, bool key_auth) {
  for (int attempt = 0;; ++attempt) {
    TSS2_RC rc;
    try {
      rc = f();
    } catch (const TssError& e) {
      const Trouble t = trouble_of(e.tss_rc, key_auth);
      if (attempt >= 2 || t == Trouble::none) throw;
      recover(t == Trouble::full);
      continue;
    }
    const Trouble t = trouble_of(rc, key_auth);
    if (attempt >= 2 || t == Trouble::none) return rc;
    recover(t == Trouble::full);
  }
}

void Connection::Guard::recover(bool full) {
  if (!c_.ctx_) return;
  if (!full) {
    log::info("TPM objects of this process were flushed by another client; reloading");
    c_.forget_handles();
  } else if (!c_.lru_.empty()) {
    c_.evict_to(0);
  } else {
    c_.flush_foreign();
    c_.forget_handles();  // our transient parent may have been among them: check by making it again
  }
}

TSS2_RC Connection::Guard::create(const TPM2B_SENSITIVE_CREATE& sens, const TPM2B_PUBLIC& tmpl, TPM2B_PUBLIC& pub,
                                  TPM2B_PRIVATE& priv, Creation* creation) {
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION no_pcrs{};
  TPM2B_PRIVATE* out_priv = nullptr;
  TPM2B_PUBLIC* out_pub = nullptr;
  TPM2B_CREATION_DATA* cdata = nullptr;
  TPM2B_DIGEST* chash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  const TSS2_RC rc = retrying([&] {
    return Esys_Create(ctx(), parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside,
                       &no_pcrs, &out_priv, &out_pub, &cdata, &chash, &ticket);
  });
  if (rc == TSS2_RC_SUCCESS) {
    pub = *out_pub;
    priv = *out_priv;
    if (creation && chash && ticket) {
      creation->hash = *chash;
      creation->ticket = *ticket;
    }
  }
  Esys_Free(cdata), Esys_Free(chash), Esys_Free(ticket);
  Esys_Free(out_pub), Esys_Free(out_priv);
  return rc;
}

bool Connection::Guard::parent_is_template() {
  parent();
  return c_.parent_transient_;
}

void Connection::Guard::flush(ESYS_TR h) noexcept {
  if (c_.ctx_ && h != ESYS_TR_NONE) Esys_FlushContext(c_.ctx_, h);
}

}  // namespace keyseal::tpm
