// Key generation and login timings (PKCS#11 v2.40 sections 5.6 C_Login / C_Logout and 5.14
// C_GenerateKeyPair): on a TPM token these are TPM round trips (key creation, PIN checks), worth knowing
// beside the signing rates.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "keys.h"
#include "measure.h"

namespace keyseal::bench {

namespace {

using Clock = std::chrono::steady_clock;

Timing summarize(const std::vector<double>& ms) {
  Timing t;
  t.count = static_cast<int>(ms.size());
  if (ms.empty()) return t;
  t.min_ms = *std::min_element(ms.begin(), ms.end());
  t.max_ms = *std::max_element(ms.begin(), ms.end());
  for (double v : ms) t.mean_ms += v / static_cast<double>(ms.size());
  return t;
}

double time_ms(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string format_ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 10 ? "%.0f" : "%.2f", v);
  return buf;
}

}  // namespace

std::string Timing::note() const {
  return "mean of " + std::to_string(count) + ", min " + format_ms(min_ms) + " ms, max " + format_ms(max_ms) + " ms";
}

Timing time_keygen(const Session& s, const std::function<KeyPair(const Session&)>& generate, int count,
                   KeyPair& kept) {
  // Each pair but the last is destroyed before the next is made: a module that keeps every key loaded in a
  // TPM without a resource manager (tpm2-pkcs11) then holds one benchmark key at a time.
  std::vector<double> ms;
  const int n = std::max(count, 1);
  for (int i = 0; i < n; ++i) {
    KeyPair kp;
    ms.push_back(time_ms([&] { kp = generate(s); }));
    if (i + 1 < n)
      destroy_pair(s, kp);
    else
      kept = kp;
  }
  return summarize(ms);
}

Timing time_login(const Session& s, const std::string& pin, int count) {
  std::vector<double> ms;
  auto* p = reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data()));
  for (int i = 0; i < count; ++i) {
    check(s.fn()->C_Logout(s.handle()), "C_Logout");
    ms.push_back(time_ms([&] { check(s.fn()->C_Login(s.handle(), CKU_USER, p, pin.size()), "C_Login(user)"); }));
  }
  return summarize(ms);
}

}  // namespace keyseal::bench
