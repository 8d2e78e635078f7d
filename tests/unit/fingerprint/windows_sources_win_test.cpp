// The real Windows collectors (Windows build only; run under wine here): every call runs and fails soft, and
// the sources give what the parsers make of it. Prints what each source returns, for the record of what wine
// gives (values of a test prefix, nothing secret); the assertions hold on real Windows too.
#include <gtest/gtest.h>

#include <iostream>

#include "fingerprint/windows_sources.h"

namespace keyseal::fingerprint {
namespace {

TEST(WindowsCollectorsReal, EveryCollectorRunsAndTheSourcesAgree) {
  const WindowsCollectors c = windows_collectors();
  std::cout << "host: " << (c.host == Host::wine ? "wine" : "windows") << ", hypervisor: " << c.hypervisor << "\n";
  const auto smbios = c.smbios();
  std::cout << "RSMB: " << (smbios ? std::to_string(smbios->size()) + " bytes" : std::string("failed")) << "\n";
  if (smbios) {
    const SmbiosInfo on_windows = parse_raw_smbios(ByteView(smbios->data(), smbios->size()), Host::windows);
    std::cout << "  SMBIOS " << int(on_windows.major) << "." << int(on_windows.minor) << ", "
              << on_windows.structures << " structures; uuid " << on_windows.system_uuid.value_or("(missing)")
              << "; system serial " << (on_windows.system_serial ? "present" : "missing") << "; board serial "
              << (on_windows.board_serial ? "present" : "missing") << "\n";
    EXPECT_GT(on_windows.structures, 0u);
  }
  const auto guid = c.machine_guid();
  std::cout << "MachineGuid: " << (guid ? "read, " + std::to_string(guid->size()) + " chars" : std::string("failed"))
            << "\n";
  const auto disk = c.disk_descriptor(std::filesystem::current_path());
  std::cout << "disk descriptor: " << (disk ? std::to_string(disk->size()) + " bytes" : std::string("failed"));
  if (disk) std::cout << ", serial " << (parse_storage_descriptor_serial(ByteView(disk->data(), disk->size())) ? "present" : "missing");
  std::cout << "\n";
  const auto nics = c.adapters();
  size_t hw = 0;
  for (const auto& a : nics) {
    hw += permanent_mac(a).has_value();
    std::cout << "  adapter: type " << a.if_type << ", hardware " << a.hardware_interface << ", address length "
              << a.permanent_address.size()
              << (a.permanent_address.size() == 6 && (a.permanent_address[0] & 2) ? ", locally administered" : "")
              << "\n";
  }
  std::cout << "adapters: " << nics.size() << ", with a permanent physical MAC: " << hw << "\n";
  const auto cpu = c.cpuid();
  ASSERT_TRUE(cpu.has_value());
  std::cout << "cpu: " << cpu_identity(*cpu).value_or("(missing)");

  const auto factors = read_factors(windows_sources(std::filesystem::current_path()));
  ASSERT_EQ(factors.size(), 7u);
  for (const auto& f : factors) std::cout << "factor " << f.id << ": " << (f.present() ? "present" : "missing") << "\n";
  std::cout << describe(factors).summary() << "\n";
  EXPECT_TRUE(factors[6].present()) << "CPUID always answers";
  if (c.host == Host::wine) EXPECT_FALSE(factors[0].present()) << "wine's SMBIOS UUID is the host's machine-id";
  // Stable: a second read gives the same values.
  const auto again = read_factors(windows_sources(std::filesystem::current_path()));
  for (size_t i = 0; i < factors.size(); ++i) EXPECT_EQ(factors[i].value, again[i].value) << factors[i].id;
}

}  // namespace
}  // namespace keyseal::fingerprint
