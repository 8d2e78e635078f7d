// Windows factor collectors (issue 12, item 3), Windows only: each fetches raw bytes through the Windows API
// and hands them to the portable parsers (windows_parsers.cpp). Every call fails soft: a missing property is
// normal. No value is ever logged.
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <iphlpapi.h>
#include <netioapi.h>
#include <winioctl.h>
#include <cpuid.h>

#include <cstring>
#include <string>

#include "fingerprint/windows_sources.h"

namespace keyseal::fingerprint {
namespace {

class Handle {
 public:
  explicit Handle(HANDLE h) : h_(h) {}
  ~Handle() {
    if (ok()) CloseHandle(h_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  bool ok() const { return h_ != INVALID_HANDLE_VALUE && h_ != nullptr; }
  HANDLE get() const { return h_; }

 private:
  HANDLE h_;
};

std::optional<std::vector<uint8_t>> read_smbios() {
  const DWORD sig = 'R' << 24 | 'S' << 16 | 'M' << 8 | 'B';
  const UINT need = GetSystemFirmwareTable(sig, 0, nullptr, 0);
  if (need == 0 || need > 1024 * 1024) return std::nullopt;
  std::vector<uint8_t> buf(need);
  const UINT got = GetSystemFirmwareTable(sig, 0, buf.data(), need);
  if (got == 0 || got > need) return std::nullopt;
  buf.resize(got);
  return buf;
}

std::optional<std::string> read_machine_guid() {
  HKEY key = nullptr;
  if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Cryptography", 0, KEY_READ | KEY_WOW64_64KEY, &key) !=
      ERROR_SUCCESS)
    return std::nullopt;
  wchar_t value[64] = {};
  DWORD type = 0, size = sizeof(value) - sizeof(wchar_t);
  const LSTATUS st = RegQueryValueExW(key, L"MachineGuid", nullptr, &type, reinterpret_cast<BYTE*>(value), &size);
  RegCloseKey(key);
  if (st != ERROR_SUCCESS || type != REG_SZ) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < size / sizeof(wchar_t) && value[i] != 0; ++i) {
    if (value[i] > 0x7f) return std::nullopt;  // a GUID is ASCII
    out.push_back(static_cast<char>(value[i]));
  }
  SecureZeroMemory(value, sizeof(value));
  return out;
}

// IOCTL_STORAGE_QUERY_PROPERTY / StorageDeviceProperty on `h`: the whole STORAGE_DEVICE_DESCRIPTOR.
std::optional<std::vector<uint8_t>> device_descriptor(HANDLE h) {
  STORAGE_PROPERTY_QUERY q{};
  q.PropertyId = StorageDeviceProperty;
  q.QueryType = PropertyStandardQuery;
  STORAGE_DESCRIPTOR_HEADER hdr{};
  DWORD got = 0;
  if (!DeviceIoControl(h, IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof(q), &hdr, sizeof(hdr), &got, nullptr) ||
      got < sizeof(hdr) || hdr.Size < sizeof(STORAGE_DEVICE_DESCRIPTOR) || hdr.Size > 64 * 1024)
    return std::nullopt;
  std::vector<uint8_t> buf(hdr.Size);
  if (!DeviceIoControl(h, IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof(q), buf.data(), static_cast<DWORD>(buf.size()), &got,
                       nullptr))
    return std::nullopt;
  buf.resize(std::min<size_t>(got, buf.size()));
  return buf;
}

HANDLE open_device(const std::wstring& path) {
  // No access rights needed for these IOCTLs, so an ordinary user can ask.
  return CreateFileW(path.c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING, 0, nullptr);
}

std::optional<std::vector<uint8_t>> read_disk_descriptor(const std::filesystem::path& dir) {
  wchar_t mount[MAX_PATH + 1] = {};
  if (!GetVolumePathNameW(dir.wstring().c_str(), mount, MAX_PATH)) return std::nullopt;
  std::wstring volume;
  wchar_t guid[MAX_PATH + 1] = {};
  if (GetVolumeNameForVolumeMountPointW(mount, guid, MAX_PATH)) volume = guid;  // \\?\Volume{...}\ .
  else volume = std::wstring(L"\\\\.\\") + mount;                              // \\.\C:\ .
  while (!volume.empty() && volume.back() == L'\\') volume.pop_back();
  Handle vol(open_device(volume));
  if (!vol.ok()) return std::nullopt;
  // The disk under the volume: its first extent's disk (a volume spanning disks binds to the first).
  alignas(8) uint8_t ext_buf[sizeof(VOLUME_DISK_EXTENTS) + 8 * sizeof(DISK_EXTENT)] = {};
  DWORD got = 0;
  if (DeviceIoControl(vol.get(), IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS, nullptr, 0, ext_buf, sizeof(ext_buf), &got,
                      nullptr) &&
      got >= sizeof(VOLUME_DISK_EXTENTS)) {
    const auto* ext = reinterpret_cast<const VOLUME_DISK_EXTENTS*>(ext_buf);
    if (ext->NumberOfDiskExtents >= 1) {
      Handle disk(open_device(L"\\\\.\\PhysicalDrive" + std::to_wstring(ext->Extents[0].DiskNumber)));
      if (disk.ok())
        if (auto d = device_descriptor(disk.get())) return d;
    }
  }
  return device_descriptor(vol.get());  // the storage stack answers for the volume's disk too
}

std::vector<AdapterFacts> read_adapters() {
  std::vector<AdapterFacts> out;
  MIB_IF_TABLE2* table = nullptr;
  if (GetIfTable2(&table) != NO_ERROR || table == nullptr) return out;
  for (ULONG i = 0; i < table->NumEntries; ++i) {
    const MIB_IF_ROW2& row = table->Table[i];
    AdapterFacts a;
    a.if_type = row.Type;
    a.hardware_interface = row.InterfaceAndOperStatusFlags.HardwareInterface != 0;
    const ULONG len = std::min<ULONG>(row.PhysicalAddressLength, IF_MAX_PHYS_ADDRESS_LENGTH);
    a.permanent_address.assign(row.PermanentPhysicalAddress, row.PermanentPhysicalAddress + len);
    out.push_back(std::move(a));
  }
  FreeMibTable(table);
  return out;
}

std::optional<CpuidFacts> read_cpuid() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return std::nullopt;
  CpuidFacts f;
  char vendor[12];
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.vendor.assign(vendor, 12);
  if (a >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
    f.signature = a;
    f.hypervisor = (c >> 31) & 1;
  }
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    char brand[48];
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002 + leaf, &a, &b, &c, &d);
      std::memcpy(brand + 16 * leaf, &a, 4);
      std::memcpy(brand + 16 * leaf + 4, &b, 4);
      std::memcpy(brand + 16 * leaf + 8, &c, 4);
      std::memcpy(brand + 16 * leaf + 12, &d, 4);
    }
    f.brand.assign(brand, 48);
  }
  return f;
}

bool under_wine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

}  // namespace

WindowsCollectors windows_collectors() {
  WindowsCollectors c;
  c.smbios = read_smbios;
  c.machine_guid = read_machine_guid;
  c.disk_descriptor = read_disk_descriptor;
  c.adapters = read_adapters;
  c.cpuid = read_cpuid;
  c.host = under_wine() ? Host::wine : Host::windows;
  const auto cpu = read_cpuid();
  c.hypervisor = cpu && cpu->hypervisor;
  return c;
}

std::vector<std::unique_ptr<FactorSource>> windows_sources(const std::filesystem::path& store_dir) {
  return windows_sources_from(windows_collectors(), store_dir);
}

}  // namespace keyseal::fingerprint
