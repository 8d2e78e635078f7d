// Tests of the attribute record format (store/attribute_codec.h): round trip, canonical order, and every
// malformation being rejected with CKR_DEVICE_ERROR.
#include "store/attribute_codec.h"
#include "store_test_util.h"

#include <gtest/gtest.h>

namespace keyseal::store {
namespace {

using testing::bytes;
using testing::rv_of;

std::vector<StoredAttribute> sample() {
  std::vector<StoredAttribute> a;
  a.push_back({CKA_LABEL, false, bytes("my key")});
  a.push_back({CKA_CLASS, false, bytes("\x03\0\0\0\0\0\0\0")});
  a.push_back({CKA_VALUE, true, bytes("ciphertext+tag")});
  a.push_back({CKA_ID, false, {}});                          // empty value
  a.push_back({CKA_VENDOR_DEFINED | 0x1234, false, bytes("v")});  // vendor types keep their high bit
  return a;
}

SecureBytes le(uint64_t v, int n) {
  SecureBytes b;
  for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}

SecureBytes cat(std::initializer_list<SecureBytes> parts) {
  SecureBytes out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

CK_RV decode_rv(const SecureBytes& b) { return rv_of([&] { decode_attributes(view(b)); }); }

TEST(AttributeCodec, RoundTripSortsByType) {
  auto in = sample();
  SecureBytes blob = encode_attributes(in);
  EXPECT_EQ(blob[0], kAttributeFormatVersion);
  auto out = decode_attributes(view(blob));
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 1; i < out.size(); ++i) EXPECT_LT(out[i - 1].type, out[i].type);
  for (const auto& a : in) {
    auto it = std::find_if(out.begin(), out.end(), [&](auto& o) { return o.type == a.type; });
    ASSERT_NE(it, out.end());
    EXPECT_EQ(it->encrypted, a.encrypted);
    EXPECT_TRUE(equal_bytes(view(it->value), view(a.value)));
  }
  EXPECT_TRUE(equal_bytes(view(encode_attributes(out)), view(blob)));  // canonical
}

TEST(AttributeCodec, EmptyListAndExactLayout) {
  SecureBytes empty = encode_attributes({});
  EXPECT_TRUE(equal_bytes(view(empty), view(cat({le(1, 1), le(0, 4)}))));
  EXPECT_TRUE(decode_attributes(view(empty)).empty());
  SecureBytes one = encode_attributes({{CKA_LABEL, true, bytes("ab")}});
  SecureBytes want = cat({le(1, 1), le(1, 4), le(CKA_LABEL, 8), le(1, 1), le(2, 4), bytes("ab")});
  EXPECT_TRUE(equal_bytes(view(one), view(want)));
}

TEST(AttributeCodec, EncodeRejectsDuplicateTypes) {
  EXPECT_EQ(rv_of([] { encode_attributes({{CKA_ID, false, bytes("a")}, {CKA_ID, false, bytes("b")}}); }),
            CKR_GENERAL_ERROR);
}

TEST(AttributeCodec, EveryTruncationIsRejected) {
  SecureBytes blob = encode_attributes(sample());
  for (size_t n = 0; n < blob.size(); ++n) {
    SecureBytes cut(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(decode_rv(cut), CKR_DEVICE_ERROR) << "length " << n;
  }
}

TEST(AttributeCodec, BadVersionIsRejected) {
  SecureBytes blob = encode_attributes(sample());
  for (uint8_t v : {0, 2, 0xff}) {
    blob[0] = v;
    EXPECT_EQ(decode_rv(blob), CKR_DEVICE_ERROR);
  }
}

TEST(AttributeCodec, HugeCountIsRejectedWithoutAllocating) {
  // 4 billion records in 5 bytes: must fail on the count, not try to reserve 4e9 entries.
  EXPECT_EQ(decode_rv(cat({le(1, 1), le(0xffffffff, 4)})), CKR_DEVICE_ERROR);
  EXPECT_EQ(decode_rv(cat({le(1, 1), le(2, 4), le(CKA_ID, 8), le(0, 1), le(0, 4)})), CKR_DEVICE_ERROR);
}

TEST(AttributeCodec, HugeValueLengthIsRejected) {
  for (uint64_t len : {uint64_t{4}, uint64_t{0x7fffffff}, uint64_t{0xffffffff}}) {
    SecureBytes b = cat({le(1, 1), le(1, 4), le(CKA_ID, 8), le(0, 1), le(len, 4), bytes("abc")});
    EXPECT_EQ(decode_rv(b), CKR_DEVICE_ERROR) << len;
  }
}

TEST(AttributeCodec, TrailingBytesAreRejected) {
  SecureBytes b = encode_attributes(sample());
  b.push_back(0);
  EXPECT_EQ(decode_rv(b), CKR_DEVICE_ERROR);
}

TEST(AttributeCodec, UnknownFlagsAreRejected) {
  SecureBytes b = cat({le(1, 1), le(1, 4), le(CKA_ID, 8), le(2, 1), le(0, 4)});
  EXPECT_EQ(decode_rv(b), CKR_DEVICE_ERROR);
}

TEST(AttributeCodec, UnsortedOrRepeatedTypesAreRejected) {
  SecureBytes rec_id = cat({le(CKA_ID, 8), le(0, 1), le(0, 4)});
  SecureBytes rec_class = cat({le(CKA_CLASS, 8), le(0, 1), le(0, 4)});
  EXPECT_EQ(decode_rv(cat({le(1, 1), le(2, 4), rec_id, rec_class})), CKR_DEVICE_ERROR);  // CKA_ID > CKA_CLASS
  EXPECT_EQ(decode_rv(cat({le(1, 1), le(2, 4), rec_id, rec_id})), CKR_DEVICE_ERROR);
  EXPECT_EQ(decode_rv(cat({le(1, 1), le(2, 4), rec_class, rec_id})), CKR_OK);
}

TEST(AttributeCodec, ErrorDetailNamesTheProblem) {
  try {
    decode_attributes(view(cat({le(9, 1), le(0, 4)})));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(e.detail.find("corrupt object record"), std::string::npos) << e.detail;
  }
}

}  // namespace
}  // namespace keyseal::store
