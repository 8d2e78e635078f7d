// Tests of RFC 7512 pkcs11: URI building and percent-encoding, CK_RV texts and attribute descriptions.
#include "cli/describe.h"
#include "cli/rv_text.h"
#include "cli/uri.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace keyseal::cli;

TEST(CliUri, PathEncodingKeepsOnlyAllowedCharacters) {
  EXPECT_EQ(pct_encode_path("abcXYZ019-._~"), "abcXYZ019-._~");
  EXPECT_EQ(pct_encode_path(":[]@!$&'()*+,="), ":[]@!$&'()*+,=");  // RFC 7512 pk11-path-res-avail
  EXPECT_EQ(pct_encode_path("a b"), "a%20b");
  EXPECT_EQ(pct_encode_path(";/?#%"), "%3B%2F%3F%23%25");  // separators and '%' itself are encoded
  EXPECT_EQ(pct_encode_path("\"<>\\^`{|}"), "%22%3C%3E%5C%5E%60%7B%7C%7D");
  EXPECT_EQ(pct_encode_path("\xC3\xA9"), "%C3%A9");  // UTF-8 bytes one by one
  EXPECT_EQ(pct_encode_path(std::string("a\0b", 3)), "a%00b");
  EXPECT_EQ(pct_encode_path(""), "");
}

TEST(CliUri, IdEncodesEveryByte) {
  const std::vector<uint8_t> id{0x00, 0x41, 0xff, 0x7e};
  EXPECT_EQ(pct_encode_all(id), "%00%41%FF%7E");
  EXPECT_EQ(hex(id), "0041ff7e");
}

TEST(CliUri, TrimPadded) {
  const CK_UTF8CHAR f[8] = {'a', ' ', 'b', ' ', ' ', ' ', ' ', ' '};
  EXPECT_EQ(trim_padded(f, 8), "a b");
  const CK_UTF8CHAR blank[4] = {' ', ' ', ' ', ' '};
  EXPECT_EQ(trim_padded(blank, 4), "");
  const CK_UTF8CHAR nul[4] = {'x', 'y', 0, 0};
  EXPECT_EQ(trim_padded(nul, 4), "xy");
}

TEST(CliUri, ObjectUri) {
  const std::vector<uint8_t> id{0x01, 0xa2};
  ObjectUriParts p{"my token", std::string("key;1"), std::span<const uint8_t>(id), CKO_PRIVATE_KEY};
  EXPECT_EQ(object_uri(p), "pkcs11:token=my%20token;object=key%3B1;id=%01%A2;type=private");
  p.cls = CKO_SECRET_KEY;
  p.label.reset();
  p.id.reset();
  EXPECT_EQ(object_uri(p), "pkcs11:token=my%20token;type=secret-key");
  p.cls = CKO_HW_FEATURE;  // no RFC 7512 type
  EXPECT_EQ(object_uri(p), "pkcs11:token=my%20token");
  EXPECT_EQ(uri_type(CKO_PUBLIC_KEY).value(), "public");
  EXPECT_EQ(uri_type(CKO_CERTIFICATE).value(), "cert");
  EXPECT_EQ(uri_type(CKO_DATA).value(), "data");
}

TEST(CliUri, TokenUri) {
  CK_TOKEN_INFO t{};
  auto fill = [](CK_UTF8CHAR* f, size_t n, const char* s) {
    std::memset(f, ' ', n);
    std::memcpy(f, s, std::strlen(s));
  };
  fill(t.label, sizeof t.label, "Work/Keys");
  fill(t.manufacturerID, sizeof t.manufacturerID, "keyseal");
  fill(t.model, sizeof t.model, "soft token");
  fill(t.serialNumber, sizeof t.serialNumber, "00ab");
  EXPECT_EQ(token_uri(t), "pkcs11:manufacturer=keyseal;serial=00ab;token=Work%2FKeys");
}

TEST(CliText, RvText) {
  EXPECT_EQ(rv_text(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT (the PIN is incorrect)");
  EXPECT_EQ(rv_text(CKR_PIN_LOCKED).rfind("CKR_PIN_LOCKED (", 0), 0u);
  EXPECT_NE(rv_text(0x80000001UL).find("vendor"), std::string::npos);
}

TEST(CliDescribe, Curves) {
  const std::vector<uint8_t> p256{0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
  EXPECT_EQ(curve_of(p256), (std::pair<std::string, unsigned>{"prime256v1", 256}));
  const std::vector<uint8_t> p384{0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22};
  EXPECT_EQ(curve_of(p384).first, "secp384r1");
  const std::vector<uint8_t> ed{0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
  EXPECT_EQ(curve_of(ed), (std::pair<std::string, unsigned>{"edwards25519", 255}));
  const std::vector<uint8_t> truncated{0x06, 0x08, 0x2A, 0x86};
  EXPECT_EQ(curve_of(truncated).second, 0u);
  EXPECT_EQ(class_name(CKO_PRIVATE_KEY), "private key");
  EXPECT_EQ(key_type_name(CKK_EC), "EC");
  EXPECT_EQ(key_type_name(0x12345), "key type 0x12345");
}
