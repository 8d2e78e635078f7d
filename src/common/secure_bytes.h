// Byte containers. SecureBytes is wiped when freed or resized away, so key material and PINs held in it
// never linger in freed heap memory. ByteView is a read-only span over any contiguous bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace keyseal {

void secure_wipe(void* p, size_t n) noexcept;  // not optimised away

template <class T>
struct ZeroizingAllocator {
  using value_type = T;
  ZeroizingAllocator() noexcept = default;
  template <class U>
  ZeroizingAllocator(const ZeroizingAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, size_t n) noexcept {
    secure_wipe(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const ZeroizingAllocator<U>&) const noexcept { return true; }
};

using SecureBytes = std::vector<uint8_t, ZeroizingAllocator<uint8_t>>;
using ByteView = std::span<const uint8_t>;

inline ByteView view(const SecureBytes& b) { return ByteView(b.data(), b.size()); }
inline ByteView view(std::string_view s) { return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
inline SecureBytes to_bytes(ByteView v) { return SecureBytes(v.begin(), v.end()); }
inline SecureBytes to_bytes(const void* p, size_t n) {
  auto b = static_cast<const uint8_t*>(p);
  return SecureBytes(b, b + n);
}
inline bool equal_bytes(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
// Constant-time comparison for secrets and tags.
bool equal_constant_time(ByteView a, ByteView b) noexcept;

}  // namespace keyseal
