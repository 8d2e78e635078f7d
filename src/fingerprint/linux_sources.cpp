// Linux factor sources (issue 5, item 1). Every read is bounded, tolerates missing or unreadable files
// (missing is normal) and rejects known junk. No value is ever logged.
#include "fingerprint/linux_sources.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/error.h"
#include "crypto/ossl.h"

namespace keyseal::fingerprint {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxFile = 64 * 1024;

class FnSource final : public FactorSource {
 public:
  FnSource(std::string id, double bits, std::function<std::optional<SecureBytes>()> fn)
      : id_(std::move(id)), bits_(bits), fn_(std::move(fn)) {}
  std::string id() const override { return id_; }
  std::optional<SecureBytes> read() const override { return fn_(); }
  double strength_bits() const override { return bits_; }

 private:
  std::string id_;
  double bits_;
  std::function<std::optional<SecureBytes>()> fn_;
};

std::optional<std::string> read_small(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data(kMaxFile, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) return std::nullopt;
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

SecureBytes bytes_of(const std::string& s) {
  return to_bytes(s.data(), s.size());
}

// Canonical, non-junk text of a file, or nullopt.
std::optional<std::string> read_text(const fs::path& p) {
  auto raw = read_small(p);
  if (!raw) return std::nullopt;
  std::string c = canonical_text(*raw);
  if (is_junk(c)) return std::nullopt;
  return c;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<SecureBytes> read_machine_id(const fs::path& root) {
  auto raw = read_small(root / "etc/machine-id");
  if (!raw) return std::nullopt;
  std::optional<std::string> text = canonical_text(*raw);
  secure_wipe(raw->data(), raw->size());
  if (is_junk(*text) || text->size() != 32) return std::nullopt;
  SecureBytes id(16);
  for (size_t i = 0; i < 16; ++i) {
    const int hi = hex_value((*text)[2 * i]), lo = hex_value((*text)[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  secure_wipe(text->data(), text->size());
  // sd_id128_get_machine_app_specific: HMAC-SHA256 keyed by the machine id over the app id, first 16
  // bytes, formatted as a v4 UUID.
  SecureBytes mac(32);
  size_t mac_len = 0;
  crypto::ossl_check(
      EVP_Q_mac(crypto::libctx(), "HMAC", nullptr, "SHA2-256", nullptr, id.data(), id.size(), kMachineIdAppId.data(),
                kMachineIdAppId.size(), mac.data(), mac.size(), &mac_len) != nullptr,
      CKR_FUNCTION_FAILED, "machine-id HMAC");
  SecureBytes out(mac.begin(), mac.begin() + 16);
  out[6] = static_cast<uint8_t>((out[6] & 0x0f) | 0x40);
  out[8] = static_cast<uint8_t>((out[8] & 0x3f) | 0x80);
  return out;
}

// "aa:bb:cc:dd:ee:ff" of a permanent, globally administered, unicast, non-zero address, else nullopt.
std::optional<std::string> permanent_mac(const fs::path& nic) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(nic / "device", ec))) return std::nullopt;  // virtual interface
  auto assign = read_small(nic / "addr_assign_type");
  if (!assign || canonical_text(*assign) != "0") return std::nullopt;  // NET_ADDR_PERM only
  if (auto type = read_small(nic / "type"); type && canonical_text(*type) != "1") return std::nullopt;
  auto addr = read_small(nic / "address");
  if (!addr) return std::nullopt;
  std::string mac = lower(canonical_text(*addr));
  if (mac.size() != 17) return std::nullopt;
  std::array<uint8_t, 6> octets{};
  for (size_t i = 0; i < 6; ++i) {
    const int hi = hex_value(mac[3 * i]), lo = hex_value(mac[3 * i + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && mac[3 * i + 2] != ':')) return std::nullopt;
    octets[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (octets[0] & 0x03) return std::nullopt;  // locally administered (0x02) or multicast (0x01)
  if (std::all_of(octets.begin(), octets.end(), [](uint8_t b) { return b == 0; })) return std::nullopt;
  return mac;
}

std::optional<SecureBytes> read_nic_macs(const fs::path& root) {
  std::error_code ec;
  std::set<std::string> macs;
  for (fs::directory_iterator it(root / "sys/class/net", ec), end; !ec && it != end; it.increment(ec))
    if (auto mac = permanent_mac(it->path())) macs.insert(*mac);
  if (macs.empty()) return std::nullopt;
  std::string joined;
  for (const auto& m : macs) joined += (joined.empty() ? "" : ",") + m;
  return bytes_of(joined);
}

// SCSI VPD page 0x80: 4-byte header (byte 1 = 0x80, bytes 2..3 = length), then the serial.
std::optional<std::string> vpd_serial(const fs::path& p) {
  auto raw = read_small(p);
  if (!raw || raw->size() < 4 || static_cast<uint8_t>((*raw)[1]) != 0x80) return std::nullopt;
  const size_t len = static_cast<uint8_t>((*raw)[2]) << 8 | static_cast<uint8_t>((*raw)[3]);
  if (len > raw->size() - 4) return std::nullopt;
  std::string c = canonical_text(std::string_view(*raw).substr(4, len));
  if (is_junk(c)) return std::nullopt;
  return c;
}

std::optional<std::string> udev_serial(const fs::path& root, const std::string& dev) {
  auto raw = read_small(root / "run/udev/data" / ("b" + dev));
  if (!raw) return std::nullopt;
  std::optional<std::string> shortest, full;
  std::istringstream lines(*raw);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("E:ID_SERIAL_SHORT="))
      shortest = canonical_text(line.substr(18));
    else if (line.starts_with("E:ID_SERIAL="))
      full = canonical_text(line.substr(12));
  }
  for (auto* v : {&shortest, &full})
    if (*v && !is_junk(**v)) return *v;
  return std::nullopt;
}

std::optional<SecureBytes> read_disk_serial(const fs::path& dir, const fs::path& root) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return std::nullopt;
  const std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  std::error_code ec;
  fs::path disk = fs::canonical(root / "sys/dev/block" / dev, ec);
  if (ec) return std::nullopt;
  if (fs::exists(disk / "partition", ec)) disk = disk.parent_path();  // a partition: walk to the whole disk
  std::string disk_dev = dev;
  if (auto d = read_small(disk / "dev")) disk_dev = canonical_text(*d);
  std::optional<std::string> serial = read_text(disk / "device/serial");  // NVMe controller, some SCSI
  if (!serial) serial = read_text(disk / "serial");                       // virtio-blk
  if (!serial) serial = vpd_serial(disk / "device/vpd_pg80");             // SCSI/SATA
  if (!serial) serial = udev_serial(root, disk_dev);
  if (!serial) return std::nullopt;
  return bytes_of(*serial);
}

std::optional<SecureBytes> read_cpu_id(const fs::path& root) {
  auto raw = read_small(root / "proc/cpuinfo");
  if (!raw) return std::nullopt;
  // Only model-level fields of the first processor: nothing per core (no APIC id, no core id, no MHz).
  static constexpr std::array<std::string_view, 5> kKeys = {"vendor_id", "cpu family", "model", "stepping",
                                                            "model name"};
  std::array<std::optional<std::string>, kKeys.size()> found;
  std::istringstream lines(*raw);
  bool in_block = false;
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) {
      if (in_block && canonical_text(line).empty()) break;  // end of the first processor block
      continue;
    }
    in_block = true;
    const std::string key = canonical_text(line.substr(0, colon));
    for (size_t i = 0; i < kKeys.size(); ++i)
      if (key == kKeys[i] && !found[i]) found[i] = canonical_text(line.substr(colon + 1));
  }
  if (!found[0] || is_junk(*found[0])) return std::nullopt;  // no vendor: not an identification we know
  std::string value;
  for (size_t i = 0; i < kKeys.size(); ++i)
    if (found[i]) value += std::string(kKeys[i]) + "=" + *found[i] + "\n";
  return bytes_of(value);
}

std::optional<SecureBytes> read_dmi(const fs::path& root, const char* name, bool uuid) {
  auto text = read_text(root / "sys/class/dmi/id" / name);
  if (!text) return std::nullopt;
  if (uuid) {
    *text = lower(*text);
    // A placeholder UUID several firmware vendors ship on every board.
    if (*text == "03000200-0400-0500-0006-000700080009") return std::nullopt;
  }
  return bytes_of(*text);
}

// A guest of a hypervisor (the CPU's "hypervisor" flag): its machine-id is often baked into an image that every
// machine made from it shares, and its disk serial is whatever the VM's configuration says. Both then count for
// little, so a VM's binding reads "weak" rather than pretending.
bool under_hypervisor(const fs::path& root) {
  auto raw = read_small(root / "proc/cpuinfo");
  if (!raw) return false;
  std::istringstream in(*raw);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    return (line + " ").find(" hypervisor ") != std::string::npos;
  }
  return false;
}

}  // namespace

std::unique_ptr<FactorSource> machine_id_source(const fs::path& root) {
  return std::make_unique<FnSource>("machine-id", under_hypervisor(root) ? 16 : 122,
                                    [root] { return read_machine_id(root); });
}
std::unique_ptr<FactorSource> nic_mac_source(const fs::path& root) {
  return std::make_unique<FnSource>("nic-mac", 24, [root] { return read_nic_macs(root); });
}
std::unique_ptr<FactorSource> disk_serial_source(const fs::path& dir, const fs::path& root) {
  return std::make_unique<FnSource>("disk-serial", under_hypervisor(root) ? 8 : 32,
                                    [dir, root] { return read_disk_serial(dir, root); });
}
std::unique_ptr<FactorSource> cpu_id_source(const fs::path& root) {
  return std::make_unique<FnSource>("cpu-id", 8, [root] { return read_cpu_id(root); });
}
std::unique_ptr<FactorSource> dmi_product_uuid_source(const fs::path& root) {
  return std::make_unique<FnSource>("dmi-product-uuid", 48, [root] { return read_dmi(root, "product_uuid", true); });
}
std::unique_ptr<FactorSource> dmi_board_serial_source(const fs::path& root) {
  return std::make_unique<FnSource>("dmi-board-serial", 32, [root] { return read_dmi(root, "board_serial", false); });
}

std::vector<std::unique_ptr<FactorSource>> linux_sources(const fs::path& keystore_dir, const fs::path& root) {
  std::vector<std::unique_ptr<FactorSource>> v;
  v.push_back(machine_id_source(root));
  v.push_back(nic_mac_source(root));
  v.push_back(disk_serial_source(keystore_dir, root));
  v.push_back(cpu_id_source(root));
  v.push_back(dmi_product_uuid_source(root));
  v.push_back(dmi_board_serial_source(root));
  return v;
}

}  // namespace keyseal::fingerprint
