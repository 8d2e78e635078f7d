// Parser for the NIST CAVP / RFC vector file layout (see vectors.h); no interpretation beyond the layout.
#include "vectors.h"

#include <fstream>
#include <sys/stat.h>

namespace keyseal::conformance {
namespace {

std::string strip(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

}  // namespace

Bytes VectorRecord::bytes(const std::string& k) const {
  auto it = fields.find(k);
  return it == fields.end() ? Bytes{} : unhex(it->second);
}

long VectorRecord::number(const std::string& k) const {
  auto it = fields.find(k);
  return it == fields.end() ? -1 : std::strtol(it->second.c_str(), nullptr, 10);
}

bool vectors_available(const std::string& rel) {
  struct stat st;
  return stat((config().vectors_dir + "/" + rel).c_str(), &st) == 0;
}

std::vector<VectorRecord> read_vectors(const std::string& rel) {
  std::ifstream in(config().vectors_dir + "/" + rel);
  std::vector<VectorRecord> out;
  VectorRecord cur;
  std::string section;
  std::map<std::string, std::string> headers;
  auto flush = [&] {
    if (!cur.fields.empty()) {
      cur.section = section;
      cur.headers = headers;
      out.push_back(cur);
    }
    cur = VectorRecord{};
  };
  std::string line;
  while (std::getline(in, line)) {
    line = strip(line);
    if (line.empty()) {
      flush();
      continue;
    }
    if (line[0] == '#') continue;
    if (line[0] == '[') {
      flush();
      std::string inner = line.substr(1, line.find(']') - 1);
      auto eq = inner.find('=');
      if (eq == std::string::npos) {
        section = strip(inner);
      } else {
        headers[strip(inner.substr(0, eq))] = strip(inner.substr(eq + 1));
      }
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      cur.fields[line] = "";
    } else {
      cur.fields[strip(line.substr(0, eq))] = strip(line.substr(eq + 1));
    }
  }
  flush();
  return out;
}

}  // namespace keyseal::conformance
