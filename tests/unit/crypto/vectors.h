// Test helper: readers for the NIST CAVP / RFC vector files of python3-cryptography-vectors
// ("Name = value" records, a repeated name starting the next one, "[section]" headers, bare "FAIL" markers).
#pragma once
#include "common/error.h"
#include "common/secure_bytes.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace keyseal::test {

struct Record {
  std::string section;                        // the last "[...]" header seen before the record
  std::map<std::string, std::string> fields;  // names upper-cased ("KEY", "IV", "CT" ...)
  bool fail = false;                          // a bare FAIL line (decryption/verification must fail)
  bool has(const std::string& k) const { return fields.count(k) != 0; }
  const std::string& at(const std::string& k) const;
  SecureBytes bytes(const std::string& k) const;  // hex decode of field k
};

std::string vectors_dir();
// Reads <vectors_dir>/<rel>; fails the calling test (via exception) if the file is missing.
std::vector<Record> read_records(const std::string& rel);
SecureBytes hex(const std::string& s);  // whitespace and ':' ignored
std::string to_hex(ByteView b);
std::vector<std::string> read_lines(const std::string& rel);
// RSA-style files (pkcs-1v2-1d2-vec, pkcs1v15sign-vectors, oaep-custom): "# Name:" header lines, each followed
// by hex lines. Returns (Name, bytes) pairs in file order.
std::vector<std::pair<std::string, SecureBytes>> read_comment_blocks(const std::string& rel);

// The CK_RV of the keyseal::Error thrown by f, or CKR_OK if f returned normally.
CK_RV rv_of(const std::function<void()>& f);

}  // namespace keyseal::test
