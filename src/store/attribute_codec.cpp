// Encoder and bounds-checked decoder for the attribute record format described in attribute_codec.h.
#include "store/attribute_codec.h"

#include <algorithm>
#include <limits>
#include <string>

namespace keyseal::store {
namespace {

constexpr size_t kHeaderSize = 1 + 4;
constexpr size_t kRecordHeaderSize = 8 + 1 + 4;
constexpr uint8_t kFlagEncrypted = 0x01;

void put_le(SecureBytes& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

[[noreturn]] void corrupt(const std::string& why) { fail(CKR_DEVICE_ERROR, "corrupt object record: " + why); }

// Reads little-endian integers from a span, checking every length against what is left.
class Reader {
 public:
  explicit Reader(ByteView b) : b_(b) {}
  size_t left() const { return b_.size() - pos_; }
  uint64_t le(int bytes, const char* what) {
    if (left() < static_cast<size_t>(bytes)) corrupt(std::string("truncated ") + what);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  ByteView take(uint64_t n) {
    if (n > left()) corrupt("value length " + std::to_string(n) + " exceeds the record");
    ByteView v = b_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return v;
  }

 private:
  ByteView b_;
  size_t pos_ = 0;
};

}  // namespace

SecureBytes encode_attributes(const std::vector<StoredAttribute>& attrs) {
  std::vector<const StoredAttribute*> sorted;
  sorted.reserve(attrs.size());
  size_t total = kHeaderSize;
  for (const auto& a : attrs) {
    require(a.value.size() <= std::numeric_limits<uint32_t>::max(), CKR_GENERAL_ERROR,
            "attribute value too large to store");
    sorted.push_back(&a);
    total += kRecordHeaderSize + a.value.size();
  }
  require(attrs.size() <= std::numeric_limits<uint32_t>::max(), CKR_GENERAL_ERROR, "too many attributes");
  std::sort(sorted.begin(), sorted.end(), [](auto* x, auto* y) { return x->type < y->type; });
  for (size_t i = 1; i < sorted.size(); ++i)
    require(sorted[i - 1]->type != sorted[i]->type, CKR_GENERAL_ERROR, "attribute type stored twice in one object");

  SecureBytes out;
  out.reserve(total);  // one allocation: no partial copies of values left in freed memory
  out.push_back(kAttributeFormatVersion);
  put_le(out, sorted.size(), 4);
  for (const auto* a : sorted) {
    put_le(out, static_cast<uint64_t>(a->type), 8);
    out.push_back(a->encrypted ? kFlagEncrypted : 0);
    put_le(out, a->value.size(), 4);
    out.insert(out.end(), a->value.begin(), a->value.end());
  }
  return out;
}

std::vector<StoredAttribute> decode_attributes(ByteView blob) {
  Reader r(blob);
  uint64_t version = r.le(1, "header");
  if (version != kAttributeFormatVersion) corrupt("unknown format version " + std::to_string(version));
  uint64_t count = r.le(4, "header");
  // Each record takes at least kRecordHeaderSize bytes, so a count the blob cannot hold is rejected before
  // anything is reserved for it.
  if (count > r.left() / kRecordHeaderSize) corrupt("record count " + std::to_string(count) + " exceeds the blob");

  std::vector<StoredAttribute> out;
  out.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t type = r.le(8, "attribute header");
    uint64_t flags = r.le(1, "attribute header");
    uint64_t len = r.le(4, "attribute header");
    if (type > std::numeric_limits<CK_ATTRIBUTE_TYPE>::max()) corrupt("attribute type out of range");
    if (flags & ~static_cast<uint64_t>(kFlagEncrypted)) corrupt("unknown attribute flags");
    if (!out.empty() && type <= out.back().type) corrupt("attribute types not strictly ascending");
    ByteView v = r.take(len);
    out.push_back(StoredAttribute{static_cast<CK_ATTRIBUTE_TYPE>(type), (flags & kFlagEncrypted) != 0, to_bytes(v)});
  }
  if (r.left() != 0) corrupt(std::to_string(r.left()) + " trailing bytes");
  return out;
}

}  // namespace keyseal::store
