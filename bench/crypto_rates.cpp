// Signing and AES-GCM rates over a fixed wall-clock window (PKCS#11 v2.40 sections 5.8 encryption and
// 5.11 signing). Every operation is a full Init + one-shot call, as an application such as TLS would do it.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <thread>

#include "measure.h"
#include "peer_cpu.h"

namespace keyseal::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Runs op once untimed (first-use costs), then repeatedly until `seconds` have passed.
template <class Op>
Rate run_for(double seconds, Op&& op) {
  op();
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Rate r;
  auto now = start;
  do {
    op();
    ++r.ops;
    now = Clock::now();
  } while (now < deadline);
  r.seconds = std::chrono::duration<double>(now - start).count();
  return r;
}

// Signs c.data once; the signature lands in `sig`.
void sign_once(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE h, const SignCase& c, Bytes& sig) {
  CK_MECHANISM mech = c.mechanism;
  check(fn->C_SignInit(h, &mech, c.priv), "C_SignInit");
  sig.resize(1024);
  CK_ULONG len = sig.size();
  check(fn->C_Sign(h, const_cast<CK_BYTE_PTR>(c.data.data()), c.data.size(), sig.data(), &len), "C_Sign");
  sig.resize(len);
}

void verify_once(CK_FUNCTION_LIST_PTR fn, CK_SESSION_HANDLE h, const SignCase& c, const Bytes& sig) {
  CK_MECHANISM mech = c.mechanism;
  check(fn->C_VerifyInit(h, &mech, c.pub), "C_VerifyInit");
  const CK_RV rv = fn->C_Verify(h, const_cast<CK_BYTE_PTR>(c.data.data()), c.data.size(),
                                const_cast<CK_BYTE_PTR>(sig.data()), sig.size());
  if (rv == CKR_SIGNATURE_INVALID) throw std::runtime_error("the module's signature does not verify");
  check(rv, "C_Verify");
}

}  // namespace

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Rate sign_rate(const Module& m, CK_SLOT_ID slot, const SignCase& c, double seconds, int threads, pid_t peer) {
  // Sessions are opened before the clock starts: the window measures signing only.
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < threads; ++i) sessions.push_back(std::make_unique<Session>(m, slot, false));

  constexpr uint64_t kMaxErrors = 1000;
  std::vector<Rate> rates(threads);
  std::vector<Bytes> sigs(threads);
  std::vector<Bytes> good(threads);  // the last signature that C_Sign returned CKR_OK for
  std::vector<std::exception_ptr> errors(threads);
  std::barrier start(threads);
  const double cpu0 = process_cpu_seconds();
  const auto peer0 = peer_cpu_seconds(peer);
  auto body = [&](int i) {
    bool arrived = false;
    Rate& r = rates[i];
    // One signature; a PKCS#11 failure is counted instead of ending the thread.
    auto attempt = [&]() -> bool {
      try {
        sign_once(m.fn(), sessions[i]->handle(), c, sigs[i]);
        good[i].swap(sigs[i]);
        return true;
      } catch (const P11Error& e) {
        if (r.errors++ == 0) r.first_error = e.what();
        return false;
      }
    };
    try {
      sign_once(m.fn(), sessions[i]->handle(), c, good[i]);  // first use outside the window; must succeed
      arrived = true;
      start.arrive_and_wait();
      attempt();  // untimed, as run_for does
      const auto t0 = Clock::now();
      const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
      auto now = t0;
      do {
        if (attempt()) ++r.ops;
        now = Clock::now();
      } while (now < deadline && r.errors < kMaxErrors);
      r.seconds = std::chrono::duration<double>(now - t0).count();
      if (r.ops == 0) throw std::runtime_error("every signature failed, first: " + r.first_error);
    } catch (...) {
      errors[i] = std::current_exception();
      if (!arrived) start.arrive_and_drop();  // do not leave the other threads waiting
    }
  };
  if (threads == 1) {
    body(0);
  } else {
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(body, i);
    for (auto& t : pool) t.join();
  }
  const double cpu = process_cpu_seconds() - cpu0;
  const auto peer1 = peer_cpu_seconds(peer);
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);

  Rate total;
  total.cpu_seconds = cpu;
  if (peer0 && peer1) total.peer_cpu_seconds = *peer1 - *peer0;
  // Each thread also signed twice outside its window: the warm-up above and the untimed first attempt.
  total.cpu_ops = 2 * static_cast<uint64_t>(threads);
  for (int i = 0; i < threads; ++i) {
    verify_once(m.fn(), sessions[i]->handle(), c, good[i]);
    total.ops += rates[i].ops;
    total.cpu_ops += rates[i].ops;
    total.seconds = std::max(total.seconds, rates[i].seconds);
    total.errors += rates[i].errors;
    if (total.first_error.empty()) total.first_error = rates[i].first_error;
  }
  return total;
}

Rate gcm_encrypt_rate(const Session& s, CK_OBJECT_HANDLE key, size_t message_len, double seconds) {
  CK_FUNCTION_LIST_PTR fn = s.fn();
  const CK_SESSION_HANDLE h = s.handle();
  Bytes plain(message_len);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 131 + 7);
  Bytes out(message_len + 16);
  CK_BYTE iv[12] = {};
  uint64_t counter = 0;
  CK_GCM_PARAMS params{};
  params.pIv = iv;
  params.ulIvLen = sizeof iv;
  params.ulIvBits = 8 * sizeof iv;
  params.pAAD = nullptr;
  params.ulAADLen = 0;
  params.ulTagBits = 128;
  CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof params};
  CK_ULONG out_len = 0;

  auto encrypt = [&] {
    ++counter;  // a fresh IV per message, as GCM requires
    std::memcpy(iv + 4, &counter, sizeof counter);
    check(fn->C_EncryptInit(h, &mech, key), "C_EncryptInit(AES-GCM)");
    out_len = out.size();
    check(fn->C_Encrypt(h, plain.data(), plain.size(), out.data(), &out_len), "C_Encrypt(AES-GCM)");
  };
  const double cpu0 = process_cpu_seconds();
  Rate r = run_for(seconds, encrypt);
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  r.cpu_ops = r.ops + 1;  // with the untimed first message

  if (out_len != message_len + 16) throw std::runtime_error("AES-GCM ciphertext has an unexpected length");
  check(fn->C_DecryptInit(h, &mech, key), "C_DecryptInit(AES-GCM)");
  Bytes back(out_len);
  CK_ULONG back_len = back.size();
  check(fn->C_Decrypt(h, out.data(), out_len, back.data(), &back_len), "C_Decrypt(AES-GCM)");
  back.resize(back_len);
  if (back != plain) throw std::runtime_error("AES-GCM decryption does not give back the plaintext");
  return r;
}

}  // namespace keyseal::bench
