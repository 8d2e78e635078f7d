// Test helper: shared parsing of NIST CAVP-style vector files (see vectors.h).
#include "vectors.h"

#include <cctype>
#include <fstream>
#include <stdexcept>

namespace keyseal::test {

const std::string& Record::at(const std::string& k) const {
  auto it = fields.find(k);
  if (it == fields.end()) throw std::runtime_error("vector record lacks field " + k);
  return it->second;
}

SecureBytes Record::bytes(const std::string& k) const {
  const std::string& v = at(k);
  return hex(v.size() % 2 ? "0" + v : v);  // CAVP writes some P-521 values without the leading zero
}

std::string vectors_dir() { return KEYSEAL_VECTORS_DIR; }

std::vector<std::string> read_lines(const std::string& rel) {
  std::ifstream in(vectors_dir() + "/" + rel);
  if (!in) throw std::runtime_error("cannot open vector file " + rel);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    lines.push_back(l);
  }
  return lines;
}

static std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<Record> read_records(const std::string& rel) {
  std::vector<Record> out;
  std::string section;
  Record cur;
  auto flush = [&] {
    if (!cur.fields.empty()) out.push_back(cur);
    cur = Record{};
    cur.section = section;
  };
  for (const std::string& raw : read_lines(rel)) {
    std::string l = trim(raw);
    if (l.empty() || l[0] == '#') continue;
    if (l[0] == '[') {
      flush();
      section = l.substr(1, l.find(']') - 1);
      cur.section = section;
      continue;
    }
    if (l == "FAIL") {
      cur.fail = true;
      continue;
    }
    size_t eq = l.find('=');
    if (eq == std::string::npos) continue;
    std::string k = trim(l.substr(0, eq));
    for (char& c : k) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (cur.fields.count(k)) flush();  // a repeated name starts the next record
    cur.fields[k] = trim(l.substr(eq + 1));
  }
  flush();
  return out;
}

SecureBytes hex(const std::string& s) {
  SecureBytes out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else if (c == ' ' || c == ':' || c == '\t') continue;
    else throw std::runtime_error("bad hex character");
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::runtime_error("odd number of hex digits");
  return out;
}

std::string to_hex(ByteView b) {
  static const char d[] = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

std::vector<std::pair<std::string, SecureBytes>> read_comment_blocks(const std::string& rel) {
  std::vector<std::pair<std::string, SecureBytes>> out;
  bool open = false;
  for (const std::string& raw : read_lines(rel)) {
    std::string l = trim(raw);
    if (l.empty()) continue;
    if (l[0] == '#') {
      std::string h = trim(l.substr(1));
      open = !h.empty() && h.back() == ':';
      if (open) out.emplace_back(h.substr(0, h.size() - 1), SecureBytes{});
      continue;
    }
    if (open) {
      SecureBytes b = hex(l.size() % 2 && l.find(' ') == std::string::npos ? "0" + l : l);
      out.back().second.insert(out.back().second.end(), b.begin(), b.end());
    }
  }
  return out;
}

CK_RV rv_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.rv;
  }
  return CKR_OK;
}

}  // namespace keyseal::test
