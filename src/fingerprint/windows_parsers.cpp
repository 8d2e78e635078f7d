// Windows factor sources, portable half (issue 12, item 3): parsers and the sources over collectors. No value
// is ever logged.
#include "fingerprint/windows_parsers.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "crypto/ossl.h"

namespace keyseal::fingerprint {
namespace {

class FnSource final : public FactorSource {
 public:
  FnSource(std::string_view id, double bits, std::function<std::optional<SecureBytes>()> fn)
      : id_(id), bits_(bits), fn_(std::move(fn)) {}
  std::string id() const override { return id_; }
  std::optional<SecureBytes> read() const override { return fn_(); }
  double strength_bits() const override { return bits_; }

 private:
  std::string id_;
  double bits_;
  std::function<std::optional<SecureBytes>()> fn_;
};

uint32_t le32(ByteView b, size_t at) {
  return static_cast<uint32_t>(b[at]) | static_cast<uint32_t>(b[at + 1]) << 8 | static_cast<uint32_t>(b[at + 2]) << 16 |
         static_cast<uint32_t>(b[at + 3]) << 24;
}

std::optional<std::string> clean(std::string_view raw) {
  std::string c = canonical_text(raw);
  if (is_junk(c)) return std::nullopt;
  return c;
}

SecureBytes bytes_of(const std::string& s) { return to_bytes(s.data(), s.size()); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// String number `n` (1-based; 0 = none) of a structure whose string set is strings[begin, end) (the set
// ends with a double NUL, already bounds-checked by the caller).
std::optional<std::string> smbios_string(ByteView table, size_t begin, size_t end, uint8_t n) {
  if (n == 0) return std::nullopt;
  size_t pos = begin;
  for (uint8_t i = 1; pos < end; ++i) {
    size_t stop = pos;
    while (stop < end && table[stop] != 0) ++stop;
    if (stop == pos) return std::nullopt;  // the terminating empty string: fewer strings than n
    if (i == n) return clean(std::string_view(reinterpret_cast<const char*>(table.data()) + pos, stop - pos));
    pos = stop + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> smbios_uuid_text(ByteView u) {
  if (u.size() != 16) return std::nullopt;
  static constexpr std::array<int, 16> kOrder = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text.push_back('-');
    const uint8_t b = u[static_cast<size_t>(kOrder[i])];
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 0xf]);
  }
  if (is_junk(text)) return std::nullopt;  // all-zero, all-FF (one repeated digit)
  // A placeholder several firmware vendors ship on every board (as on Linux).
  if (text == "03000200-0400-0500-0006-000700080009") return std::nullopt;
  return text;
}

SmbiosInfo parse_raw_smbios(ByteView raw, Host host) {
  SmbiosInfo info;
  if (raw.size() < 8) return info;
  info.major = raw[1];
  info.minor = raw[2];
  const size_t declared = le32(raw, 4);
  const ByteView table = raw.subspan(8, std::min(declared, raw.size() - 8));
  bool seen1 = false, seen2 = false;
  size_t pos = 0;
  while (pos + 4 <= table.size()) {
    const uint8_t type = table[pos];
    const size_t len = table[pos + 1];
    if (len < 4 || len > table.size() - pos) break;  // malformed or truncated formatted area
    // The string set: up to and including a double NUL, inside the table.
    const size_t strings = pos + len;
    size_t end = strings;
    while (end + 1 < table.size() && !(table[end] == 0 && table[end + 1] == 0)) ++end;
    if (end + 1 >= table.size()) break;  // no terminating double NUL: truncated
    ++info.structures;
    const ByteView s = table.subspan(pos, len);
    if (type == 1 && !seen1) {
      seen1 = true;
      if (len > 7) info.system_serial = smbios_string(table, strings, end + 1, s[7]);
      if (len >= 8 + 16 && host != Host::wine) info.system_uuid = smbios_uuid_text(s.subspan(8, 16));
    } else if (type == 2 && !seen2) {
      seen2 = true;
      if (len > 7) info.board_serial = smbios_string(table, strings, end + 1, s[7]);
    } else if (type == 127) {
      break;
    }
    pos = end + 2;
  }
  return info;
}

std::optional<std::string> parse_storage_descriptor_serial(ByteView d) {
  constexpr size_t kFixed = 36;  // through RawPropertiesLength; RawDeviceProperties follows
  if (d.size() < kFixed) return std::nullopt;
  const size_t declared = le32(d, 4);
  if (declared < kFixed) return std::nullopt;
  const size_t size = std::min(declared, d.size());
  const size_t offset = le32(d, 24);
  if (offset == 0 || offset < kFixed || offset >= size) return std::nullopt;
  size_t stop = offset;
  while (stop < size && d[stop] != 0) ++stop;
  return clean(std::string_view(reinterpret_cast<const char*>(d.data()) + offset, stop - offset));
}

std::optional<std::string> permanent_mac(const AdapterFacts& a) {
  if (!a.hardware_interface) return std::nullopt;
  if (a.if_type == 24 || a.if_type == 131 || a.if_type == 23) return std::nullopt;  // loopback, tunnel, PPP
  const auto& m = a.permanent_address;
  if (m.size() != 6) return std::nullopt;
  if (m[0] & 0x03) return std::nullopt;  // locally administered (0x02) or multicast (0x01)
  if (std::all_of(m.begin(), m.end(), [](uint8_t b) { return b == 0; })) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < 6; ++i) {
    if (i) text.push_back(':');
    text.push_back(kHex[m[i] >> 4]);
    text.push_back(kHex[m[i] & 0xf]);
  }
  return text;
}

std::optional<std::string> mac_set(const std::vector<AdapterFacts>& adapters) {
  std::set<std::string> macs;
  for (const auto& a : adapters)
    if (auto m = permanent_mac(a)) macs.insert(*m);
  if (macs.empty()) return std::nullopt;
  std::string joined;
  for (const auto& m : macs) joined += (joined.empty() ? "" : ",") + m;
  return joined;
}

std::optional<std::string> cpu_identity(const CpuidFacts& c) {
  const std::string vendor = canonical_text(c.vendor);
  if (is_junk(vendor)) return std::nullopt;
  // As the Linux kernel (x86_family, x86_model): the extended family counts for family 0xf, the extended
  // model for family >= 6.
  uint32_t family = (c.signature >> 8) & 0xf;
  if (family == 0xf) family += (c.signature >> 20) & 0xff;
  uint32_t model = (c.signature >> 4) & 0xf;
  if (family >= 6) model += ((c.signature >> 16) & 0xf) << 4;
  const uint32_t stepping = c.signature & 0xf;
  std::string v = "vendor_id=" + vendor + "\ncpu family=" + std::to_string(family) + "\nmodel=" +
                  std::to_string(model) + "\nstepping=" + std::to_string(stepping) + "\n";
  const std::string brand = canonical_text(c.brand);
  if (!brand.empty()) v += "model name=" + brand + "\n";
  return v;
}

std::optional<SecureBytes> machine_guid_factor(std::string_view text) {
  std::string t = canonical_text(text);
  if (t.size() == 38 && t.front() == '{' && t.back() == '}') t = t.substr(1, 36);
  if (t.size() != 36 || is_junk(t)) {
    secure_wipe(t.data(), t.size());
    return std::nullopt;
  }
  SecureBytes id;
  id.reserve(16);
  for (size_t i = 0; i < t.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') break;
      ++i;
      continue;
    }
    const int hi = hex_value(t[i]), lo = hex_value(t[i + 1]);
    if (hi < 0 || lo < 0) break;
    id.push_back(static_cast<uint8_t>(hi << 4 | lo));
    i += 2;
  }
  secure_wipe(t.data(), t.size());
  if (id.size() != 16) return std::nullopt;
  SecureBytes mac(32);
  size_t mac_len = 0;
  crypto::ossl_check(EVP_Q_mac(crypto::libctx(), "HMAC", nullptr, "SHA2-256", nullptr, id.data(), id.size(),
                               kMachineGuidAppId.data(), kMachineGuidAppId.size(), mac.data(), mac.size(),
                               &mac_len) != nullptr,
                     CKR_FUNCTION_FAILED, "MachineGuid HMAC");
  SecureBytes out(mac.begin(), mac.begin() + 16);
  out[6] = static_cast<uint8_t>((out[6] & 0x0f) | 0x40);
  out[8] = static_cast<uint8_t>((out[8] & 0x3f) | 0x80);
  return out;
}

std::vector<std::unique_ptr<FactorSource>> windows_sources_from(const WindowsCollectors& c,
                                                                const std::filesystem::path& store_dir) {
  using Field = std::optional<std::string> SmbiosInfo::*;
  const auto smbios = [c](Field field) -> std::optional<SecureBytes> {
    if (!c.smbios) return std::nullopt;
    const auto raw = c.smbios();
    if (!raw) return std::nullopt;
    const SmbiosInfo info = parse_raw_smbios(ByteView(raw->data(), raw->size()), c.host);
    if (!(info.*field)) return std::nullopt;
    return bytes_of(*(info.*field));
  };
  std::vector<std::unique_ptr<FactorSource>> v;
  v.push_back(std::make_unique<FnSource>(kSmbiosUuidId, 48, [smbios] { return smbios(&SmbiosInfo::system_uuid); }));
  v.push_back(
      std::make_unique<FnSource>(kSmbiosSystemSerialId, 32, [smbios] { return smbios(&SmbiosInfo::system_serial); }));
  v.push_back(
      std::make_unique<FnSource>(kSmbiosBoardSerialId, 32, [smbios] { return smbios(&SmbiosInfo::board_serial); }));
  v.push_back(std::make_unique<FnSource>(kMachineGuidId, c.hypervisor ? 16 : 122, [c]() -> std::optional<SecureBytes> {
    if (!c.machine_guid) return std::nullopt;
    auto text = c.machine_guid();
    if (!text) return std::nullopt;
    auto out = machine_guid_factor(*text);
    secure_wipe(text->data(), text->size());
    return out;
  }));
  v.push_back(std::make_unique<FnSource>(kWinDiskSerialId, c.hypervisor ? 8 : 32,
                                         [c, store_dir]() -> std::optional<SecureBytes> {
                                           if (!c.disk_descriptor) return std::nullopt;
                                           const auto d = c.disk_descriptor(store_dir);
                                           if (!d) return std::nullopt;
                                           auto s = parse_storage_descriptor_serial(ByteView(d->data(), d->size()));
                                           if (!s) return std::nullopt;
                                           return bytes_of(*s);
                                         }));
  v.push_back(std::make_unique<FnSource>(kWinNicMacId, 24, [c]() -> std::optional<SecureBytes> {
    if (!c.adapters) return std::nullopt;
    auto m = mac_set(c.adapters());
    if (!m) return std::nullopt;
    return bytes_of(*m);
  }));
  v.push_back(std::make_unique<FnSource>(kWinCpuId, 8, [c]() -> std::optional<SecureBytes> {
    if (!c.cpuid) return std::nullopt;
    const auto f = c.cpuid();
    if (!f) return std::nullopt;
    auto id = cpu_identity(*f);
    if (!id) return std::nullopt;
    return bytes_of(*id);
  }));
  return v;
}

}  // namespace keyseal::fingerprint
