// Readers for the NIST CAVP / RFC vector files of Debian's python3-cryptography-vectors (".rsp" and ".txt":
// "[SECTION]" headers, "Name = hex" lines, records separated by blank lines), used for known-answer tests.
#pragma once

#include "harness.h"

#include <map>
#include <string>
#include <vector>

namespace keyseal::conformance {

struct VectorRecord {
  std::string section;                        // the last bare "[NAME]" header, e.g. "ENCRYPT"
  std::map<std::string, std::string> headers;  // "[Name = value]" headers in force
  std::map<std::string, std::string> fields;   // "Name = value" lines; a bare line (e.g. "FAIL") maps to ""
  bool has(const std::string& k) const { return fields.count(k) > 0; }
  Bytes bytes(const std::string& k) const;     // hex field
  long number(const std::string& k) const;
};

// Reads a vector file relative to config().vectors_dir. Empty when the file is missing.
std::vector<VectorRecord> read_vectors(const std::string& relative_path);
bool vectors_available(const std::string& relative_path);

}  // namespace keyseal::conformance
