// One process-wide connection to a TPM (TCTI + ESYS context) behind one mutex, the storage parent and a small
// LRU of loaded key objects (TPM 2.0 Part 1 section 30 "object and session contexts": without a resource
// manager a TPM holds about three transient objects, so at most kMaxTransient are ever loaded here).
// A TCTI or ESYS failure drops the context and every handle; the next call reconnects.
#pragma once
#include "common/secure_bytes.h"
#include "tpm/client_lock.h"
#include "tpm/probe.h"

#include <tss2/tss2_esys.h>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <sys/types.h>

namespace keyseal::tpm {

// A TPM key as kept with its PKCS#11 object: the TPM's wrapped blobs, its authValue and the storage parent
// it was created under.
struct KeyBlobs {
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  TPM2B_NAME parent{};  // empty: not recorded
  SecureBytes auth;     // the key's authValue (sealed under the token master key at rest)
  std::string id;       // loaded-object cache identity: the marshalled public and private blobs
};

// What TPM2_Create says about how it made a key: TPM2_CertifyCreation later proves, with these, that this TPM
// created the object (TPM 2.0 Part 3 section 18.3).
struct Creation {
  TPM2B_DIGEST hash{};
  TPMT_TK_CREATION ticket{};
};

inline constexpr size_t kMaxTransient = 3;         // transient objects we keep loaded, storage parent included
inline constexpr TPM2_HANDLE kPersistentSrk = 0x81000001;

// TPM2_CreatePrimary of the standard storage-key template (ECC P-256, AES-128-CFB; TCG provisioning guidance)
// in the owner hierarchy: the same object, with the same name, until TPM2_Clear. On success `h` and `name` are
// set and the caller owns h; on failure h is ESYS_TR_NONE.
TSS2_RC create_srk_primary(ESYS_CONTEXT* ctx, ESYS_TR& h, TPM2B_NAME& name);

class Connection {
 public:
  explicit Connection(std::string tcti);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One connection per TCTI string in this process (a raw TPM serves one client at a time).
  static std::shared_ptr<Connection> shared(const std::string& tcti);

  // Exclusive use of the TPM for the guard's lifetime. Handles returned are valid until the guard ends or a
  // call through it fails.
  class Guard {
   public:
    explicit Guard(Connection& c);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ESYS_CONTEXT* ctx();                        // connects, starts up, probes and makes the parent if needed
    void check(TSS2_RC rc, const char* what);   // throws TssError; a connection error drops the connection
    ESYS_TR parent();                           // the persistent SRK or the standard-template primary
    const TPM2B_NAME& parent_name();
    const std::string& parent_error();          // why there is no usable storage parent ("" = there is)
    bool parent_is_template();                  // the parent is the srk_template() primary (no persistent SRK)
    ESYS_TR load(const KeyBlobs& k);            // cached (LRU); may flush the least recently used key
    ESYS_TR load_transient(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv);  // caller calls flush()
    // TPM2_Create under the storage parent (through `retrying`). On success fills pub/priv; returns the rc.
    // `creation`, when given, receives the creation hash and ticket (for a later TPM2_CertifyCreation).
    TSS2_RC create(const TPM2B_SENSITIVE_CREATE& sens, const TPM2B_PUBLIC& tmpl, TPM2B_PUBLIC& pub,
                   TPM2B_PRIVATE& priv, struct Creation* creation = nullptr);
    void flush(ESYS_TR h) noexcept;             // best effort
    // Runs one TPM exchange `f` (which may load objects through this guard). On a raw TPM other processes
    // load and flush objects too: when `f` fails because the TPM's object slots are full, room is made (our
    // cached keys first, then objects of other clients) and `f` runs again; when it fails because our
    // handles were flushed by another client, they are forgotten and reloaded. At most two more runs.
    // `key_auth`: the object's authValue is random, so an auth failure means its handle now names another
    // client's object (never set for the DA-protected PIN object).
    TSS2_RC retrying(const std::function<TSS2_RC()>& f, bool key_auth = false);
    const TpmInfo& info();
    void refresh_variable_state();              // re-reads lockout counters into info()

   private:
    void recover(bool full);  // after a failure `retrying` runs again for
    std::unique_lock<std::mutex> lock_;
    Connection& c_;
  };
  Guard lock() { return Guard(*this); }

  uint64_t commands() const { return commands_.load(); }  // TPM commands sent on this connection, ever
  size_t loaded_objects() const;  // transient objects we hold now (storage parent included)
  const std::string& tcti() const { return tcti_; }

 private:
  struct Loaded {
    std::string id;
    ESYS_TR handle;
  };
  void connect();
  void drop() noexcept;  // forgets the context and every handle (used after connection errors)
  void flush_foreign();   // transient objects and sessions not ours (a crashed or another client's)
  void forget_handles() noexcept;  // our handles were flushed by someone else: drop them without a command
  void make_parent();
  size_t key_capacity(size_t reserve) const;
  void evict_to(size_t n) noexcept;

  std::string tcti_;
  mutable std::mutex mu_;
  ClientLock xlock_;      // with other processes on a raw TPM: held for each exchange
  uint64_t seen_gen_ = 0;  // the lock file's generation our handles are valid for
  std::atomic<uint64_t> commands_{0};
  struct Tcti;
  std::unique_ptr<Tcti> tcti_ctx_;
  ESYS_CONTEXT* ctx_ = nullptr;
  pid_t pid_ = 0;  // the process that connected (a forked child reconnects)
  ESYS_TR parent_ = ESYS_TR_NONE;
  bool parent_transient_ = false;
  TPM2B_NAME parent_name_{};
  std::string parent_error_;
  std::list<Loaded> lru_;  // most recently used first
  TpmInfo info_;
};

}  // namespace keyseal::tpm
