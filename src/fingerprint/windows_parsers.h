// Windows factor sources, portable half (issue 12, item 3): the parsers of what the Windows collectors fetch
// (the raw SMBIOS table of GetSystemFirmwareTable('RSMB'), a STORAGE_DEVICE_DESCRIPTOR, the adapter list,
// CPUID, the MachineGuid text) and the factor sources built from collectors. Compiled and tested on every
// platform; only windows_sources_win.cpp (Windows only) touches the Windows API and fills in the collectors.
// Every parser bounds-checks every length: malformed bytes give "missing", never a crash.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fingerprint/factor.h"

namespace keyseal::fingerprint {

// Fixed application id for the MachineGuid derivation (as kMachineIdAppId on Linux, another value): keyseal's
// factor is unlinkable to the raw GUID and to other applications'. Changing it unbinds every Windows token.
inline constexpr std::array<uint8_t, 16> kMachineGuidAppId = {0x8e, 0x33, 0x0c, 0x71, 0xd2, 0x4b, 0x19, 0xa5,
                                                              0x6f, 0xe0, 0x57, 0x92, 0x3d, 0xb8, 0x04, 0xc6};

// Factor ids of the Windows sources.
inline constexpr std::string_view kSmbiosUuidId = "smbios-uuid";
inline constexpr std::string_view kSmbiosSystemSerialId = "smbios-system-serial";
inline constexpr std::string_view kSmbiosBoardSerialId = "smbios-board-serial";
inline constexpr std::string_view kMachineGuidId = "machine-guid";
inline constexpr std::string_view kWinDiskSerialId = "disk-serial";
inline constexpr std::string_view kWinNicMacId = "nic-mac";
inline constexpr std::string_view kWinCpuId = "cpu-id";

// Where the bytes come from: real Windows, or wine, whose SMBIOS table is synthetic: wine (8.0, Debian 12)
// builds it from the host's /sys/class/dmi/id files readable to the user (often none: empty strings) and
// fills the system UUID from the host's /var/lib/dbus/machine-id. That UUID is no firmware value but a raw
// copy of the host's machine-id, so under wine it counts as missing (see docs); the serial strings, where wine
// could read real host DMI values, pass the ordinary junk filter.
enum class Host { windows, wine };

// What the SMBIOS structure table says (each value canonical and junk-filtered; nullopt = missing).
struct SmbiosInfo {
  uint8_t major = 0, minor = 0;
  std::optional<std::string> system_uuid;    // type 1, offset 8: lower-case text, SMBIOS 2.6+ byte order
  std::optional<std::string> system_serial;  // type 1, string at offset 7
  std::optional<std::string> board_serial;   // type 2, string at offset 7
  size_t structures = 0;                     // structures walked (for tests and diagnostics)
};

// Parses RawSMBIOSData: Used20CallingMethod, SMBIOSMajorVersion, SMBIOSMinorVersion, DmiRevision (1 byte
// each), Length (4 bytes little-endian), then Length bytes of structure table. Walks the table until type 127,
// its end, or the first structure that does not fit (a header shorter than 4 or a formatted area or string
// set running past the end): everything found before that counts. The first structure of each type wins.
SmbiosInfo parse_raw_smbios(ByteView raw, Host host = Host::windows);

// The SMBIOS 16-byte UUID as text: the first three fields little-endian (SMBIOS 2.6+), the rest in order.
// nullopt for all-zero (not set), all-FF (not present) and a placeholder shipped on many boards.
std::optional<std::string> smbios_uuid_text(ByteView uuid16);

// The serial of a STORAGE_DEVICE_DESCRIPTOR (IOCTL_STORAGE_QUERY_PROPERTY, StorageDeviceProperty):
// Version, Size (4 bytes each), ..., SerialNumberOffset at byte 24; the serial is a NUL-terminated string at
// that offset, inside min(buffer, Size). Offset 0 (none), an offset inside the fixed header or beyond the
// data, and junk give nullopt; the value is trimmed (drivers pad with spaces).
std::optional<std::string> parse_storage_descriptor_serial(ByteView descriptor);

// One network adapter as GetAdaptersAddresses / GetIfTable2 describe it.
struct AdapterFacts {
  uint32_t if_type = 0;          // IFTYPE: 6 ethernet, 71 IEEE 802.11, 24 loopback, 131 tunnel, 23 PPP
  bool hardware_interface = false;  // InterfaceAndOperStatusFlags.HardwareInterface
  std::vector<uint8_t> permanent_address;  // PermanentPhysicalAddress (PhysicalAddressLength bytes)
};
// "aa:bb:cc:dd:ee:ff" of a physical adapter's permanent, globally administered unicast non-zero 6-byte
// address, else nullopt (virtual, loopback, tunnel, PPP, locally administered, multicast, zero).
std::optional<std::string> permanent_mac(const AdapterFacts& a);
// The sorted set of those, joined with "," (the Linux nic-mac form); nullopt when none.
std::optional<std::string> mac_set(const std::vector<AdapterFacts>& adapters);

// CPUID: vendor (leaf 0: EBX EDX ECX), signature (leaf 1 EAX), brand (leaves 0x80000002..4, 48 bytes).
struct CpuidFacts {
  std::string vendor;
  uint32_t signature = 0;
  std::string brand;
  bool hypervisor = false;  // leaf 1 ECX bit 31
};
// "vendor_id=...\ncpu family=...\nmodel=...\nstepping=...\nmodel name=...\n", the same fields and family/model
// arithmetic as Linux's /proc/cpuinfo (so the value matches the Linux cpu-id of the same CPU). nullopt
// without a vendor.
std::optional<std::string> cpu_identity(const CpuidFacts& c);

// The MachineGuid registry text ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", braces tolerated) through
// HMAC-SHA256(16 GUID bytes in text order, kMachineGuidAppId), first 16 bytes marked as a v4 UUID. nullopt for
// malformed or junk (all-zero) text.
std::optional<SecureBytes> machine_guid_factor(std::string_view guid_text);

// The raw fetchers the Windows-only file provides (tests provide canned bytes). Each returns nullopt / empty
// when the call fails; none throws for a missing property.
struct WindowsCollectors {
  std::function<std::optional<std::vector<uint8_t>>()> smbios;  // RawSMBIOSData
  std::function<std::optional<std::string>()> machine_guid;     // registry text
  std::function<std::optional<std::vector<uint8_t>>(const std::filesystem::path&)> disk_descriptor;
  std::function<std::vector<AdapterFacts>()> adapters;
  std::function<std::optional<CpuidFacts>()> cpuid;
  Host host = Host::windows;
  bool hypervisor = false;  // a VM guest: MachineGuid comes with the image, the disk serial with the VM config
};

// The Windows factor sources over these collectors, in a fixed order: smbios-uuid (48 bits), smbios-system-
// serial (32), smbios-board-serial (32), machine-guid (122; 16 in a VM), disk-serial of store_dir (32; 8 in
// a VM), nic-mac (24), cpu-id (8). The estimates mirror linux_sources.
std::vector<std::unique_ptr<FactorSource>> windows_sources_from(const WindowsCollectors& c,
                                                                const std::filesystem::path& store_dir);

}  // namespace keyseal::fingerprint
