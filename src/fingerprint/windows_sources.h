// Windows factor sources readable by an ordinary user (issue 12, item 3), mirroring linux_sources.h: the
// SMBIOS system UUID, system and board serials (GetSystemFirmwareTable('RSMB')), MachineGuid (app-specific),
// the serial of the disk holding the store, the permanent MACs of physical adapters and the CPU. Windows only:
// the collectors (windows_sources_win.cpp) fetch raw bytes; the parsing, junk rejection and strength
// estimates are the portable windows_parsers.h, tested on every platform.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "fingerprint/factor.h"
#include "fingerprint/windows_parsers.h"

namespace keyseal::fingerprint {

// The collectors over the real Windows API (each fails soft: nullopt / empty).
WindowsCollectors windows_collectors();

// windows_sources_from(windows_collectors(), store_dir): in a fixed order, store_dir selects the disk.
std::vector<std::unique_ptr<FactorSource>> windows_sources(const std::filesystem::path& store_dir);

}  // namespace keyseal::fingerprint
