// Token object creation rate and lookup latency by CKA_ID (PKCS#11 v2.40 section 5.7: C_CreateObject,
// C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal, C_DestroyObject).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "measure.h"

namespace keyseal::bench {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CKA_ID = 8-byte random run tag || 8-byte big-endian index: distinct within and across runs.
Bytes make_id(const Bytes& tag, uint64_t index) {
  Bytes id = tag;
  for (int shift = 56; shift >= 0; shift -= 8) id.push_back(static_cast<uint8_t>(index >> shift));
  return id;
}

// Finds the objects matching `t`, at most `limit` (0: all).
std::vector<CK_OBJECT_HANDLE> find(const Session& s, std::vector<CK_ATTRIBUTE> t, size_t limit) {
  CK_FUNCTION_LIST_PTR fn = s.fn();
  check(fn->C_FindObjectsInit(s.handle(), t.data(), t.size()), "C_FindObjectsInit");
  std::vector<CK_OBJECT_HANDLE> found;
  CK_OBJECT_HANDLE batch[256];
  CK_RV rv = CKR_OK;
  for (;;) {
    CK_ULONG n = 0;
    rv = fn->C_FindObjects(s.handle(), batch, limit ? std::min<size_t>(limit, 256) : 256, &n);
    if (rv != CKR_OK || n == 0) break;
    found.insert(found.end(), batch, batch + n);
    if (limit && found.size() >= limit) break;
  }
  const CK_RV final_rv = fn->C_FindObjectsFinal(s.handle());
  check(rv, "C_FindObjects");
  check(final_rv, "C_FindObjectsFinal");
  return found;
}

// Nearest-rank percentile (50: the median, averaged between the two middle values of an even count).
double percentile(std::vector<double> v, int pct) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  if (pct == 50) return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  const size_t rank = (n * static_cast<size_t>(pct) + 99) / 100;  // ceil(n * pct / 100), 1-based
  return v[std::min(n, std::max<size_t>(rank, 1)) - 1];
}

}  // namespace

Bytes ulong_bytes(CK_ULONG v) {
  Bytes b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return b;
}

uint64_t count_token_objects(const Session& s) {
  CK_BBOOL yes = CK_TRUE;
  return find(s, {CK_ATTRIBUTE{CKA_TOKEN, &yes, sizeof yes}}, 0).size();
}

FillResult fill_token(const Session& s, const ObjectTemplate& t, uint64_t target, double max_seconds) {
  FillResult r;
  r.existing = count_token_objects(s);
  const uint64_t to_create = target > r.existing ? target - r.existing : 0;

  Bytes tag(8);
  std::random_device rd;
  for (auto& b : tag) b = static_cast<uint8_t>(rd());
  CK_BBOOL yes = CK_TRUE;
  static const char kLabel[] = "keyseal-bench";
  std::vector<CK_ATTRIBUTE> attrs;
  for (const auto& [type, value] : t.attributes)
    attrs.push_back(CK_ATTRIBUTE{type, const_cast<uint8_t*>(value.data()), value.size()});
  attrs.push_back(CK_ATTRIBUTE{CKA_TOKEN, &yes, sizeof yes});
  attrs.push_back(CK_ATTRIBUTE{CKA_LABEL, const_cast<char*>(kLabel), sizeof kLabel - 1});
  attrs.push_back(CK_ATTRIBUTE{CKA_ID, nullptr, 0});  // filled per object

  const uint64_t tenth = std::max<uint64_t>(to_create / 10, 1);
  const auto t0 = Clock::now();
  const double cpu0 = process_cpu_seconds();
  double first_end = 0, last_start = 0;
  for (uint64_t i = 0; i < to_create; ++i) {
    if (i == to_create - tenth) last_start = since(t0);
    Bytes id = make_id(tag, i);
    attrs.back().pValue = id.data();
    attrs.back().ulValueLen = id.size();
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    check(s.fn()->C_CreateObject(s.handle(), attrs.data(), attrs.size(), &h), "C_CreateObject");
    r.ids.push_back(std::move(id));
    if (i + 1 == tenth) first_end = since(t0);
    if ((i + 1) % 1000 == 0) {
      std::fprintf(stderr, "  created %llu of %llu objects (%.1f s)\n", static_cast<unsigned long long>(i + 1),
                   static_cast<unsigned long long>(to_create), since(t0));
      if (since(t0) > max_seconds && i + 1 < to_create) {
        r.stopped_early = true;
        last_start = -1;
        break;
      }
    }
  }
  r.seconds = since(t0);
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  r.created = r.ids.size();
  if (first_end > 0) r.first_rate = static_cast<double>(std::min(tenth, r.created)) / first_end;
  if (!r.stopped_early && r.created >= tenth && r.seconds > last_start)
    r.last_rate = static_cast<double>(tenth) / (r.seconds - last_start);
  return r;
}

LookupResult find_by_id(const Session& s, const std::vector<Bytes>& ids, size_t lookups) {
  LookupResult r;
  if (ids.empty() || lookups == 0) return r;
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
  std::vector<double> us, cpu_us;
  us.reserve(lookups);
  cpu_us.reserve(lookups);
  for (size_t i = 0; i < lookups; ++i) {
    const Bytes& id = ids[pick(rng)];
    const auto t0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    // Asks for up to two so that a duplicate CKA_ID would be seen.
    const auto found = find(s, {CK_ATTRIBUTE{CKA_ID, const_cast<uint8_t*>(id.data()), id.size()}}, 2);
    cpu_us.push_back((process_cpu_seconds() - cpu0) * 1e6);
    us.push_back(since(t0) * 1e6);
    if (found.size() != 1)
      throw std::runtime_error("lookup by CKA_ID found " + std::to_string(found.size()) + " objects, expected 1");
  }
  r.lookups = us.size();
  r.median_us = percentile(us, 50);
  r.p95_us = percentile(us, 95);
  r.max_us = percentile(us, 100);
  r.cpu_median_us = percentile(cpu_us, 50);
  r.cpu_p95_us = percentile(cpu_us, 95);
  return r;
}

uint64_t destroy_by_id(const Session& s, const std::vector<Bytes>& ids) {
  uint64_t destroyed = 0;
  for (const Bytes& id : ids) {
    for (CK_OBJECT_HANDLE h : find(s, {CK_ATTRIBUTE{CKA_ID, const_cast<uint8_t*>(id.data()), id.size()}}, 0)) {
      check(s.fn()->C_DestroyObject(s.handle(), h), "C_DestroyObject");
      ++destroyed;
    }
  }
  return destroyed;
}

}  // namespace keyseal::bench
