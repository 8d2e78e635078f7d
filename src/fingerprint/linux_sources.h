// Linux factor sources readable by an ordinary user (issue 5, item 1): machine-id (app-specific), permanent
// NIC MACs, the keystore disk's serial, CPU identification, DMI product UUID and board serial.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "fingerprint/factor.h"

namespace keyseal::fingerprint {

// Fixed application id for the machine-id derivation: keyseal's value is unlinkable to other apps' and to
// the raw id. Changing it unbinds every token.
inline constexpr std::array<uint8_t, 16> kMachineIdAppId = {0x5f, 0x1a, 0x8b, 0x29, 0xa6, 0xf1, 0x2e, 0xb3,
                                                            0xc1, 0x42, 0x37, 0x66, 0x17, 0x52, 0xd5, 0x76};

// root is where /etc, /proc, /sys and /run are looked up ("/" in production, a fake tree in tests).

// /etc/machine-id through HMAC-SHA256(machine id, keyseal app id), as sd_id128_get_machine_app_specific.
std::unique_ptr<FactorSource> machine_id_source(const std::filesystem::path& root = "/");
// Sorted set of permanent MACs of physical NICs (device link, addr_assign_type 0, globally administered).
std::unique_ptr<FactorSource> nic_mac_source(const std::filesystem::path& root = "/");
// Serial of the whole disk holding dir (dir itself is stat()ed on the real filesystem).
std::unique_ptr<FactorSource> disk_serial_source(const std::filesystem::path& dir,
                                                 const std::filesystem::path& root = "/");
// vendor_id, cpu family, model, stepping, model name of the first processor in /proc/cpuinfo.
std::unique_ptr<FactorSource> cpu_id_source(const std::filesystem::path& root = "/");
// /sys/class/dmi/id/product_uuid and board_serial (usually root-only, then missing).
std::unique_ptr<FactorSource> dmi_product_uuid_source(const std::filesystem::path& root = "/");
std::unique_ptr<FactorSource> dmi_board_serial_source(const std::filesystem::path& root = "/");

// All of the above, in a fixed order; keystore_dir selects the disk.
std::vector<std::unique_ptr<FactorSource>> linux_sources(const std::filesystem::path& keystore_dir,
                                                         const std::filesystem::path& root = "/");

}  // namespace keyseal::fingerprint
