// The Windows factor parsers with canned bytes (issue 12, item 3): SMBIOS tables built byte by byte (a
// realistic one with types 0, 1, 2 and 127; junk strings; wine's synthetic shape; truncated and malformed
// ones, cut at every length), STORAGE_DEVICE_DESCRIPTORs, the MAC filter, CPUID, MachineGuid, and the
// sources over canned collectors. Portable: runs on Linux and, cross-built, under wine.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstring>

#include "fingerprint/windows_parsers.h"

namespace keyseal::fingerprint {
namespace {

using Bytes = std::vector<uint8_t>;

// One SMBIOS structure: type, formatted area after the 4-byte header, strings (the string set ends with a
// double NUL; no strings is "\0\0").
Bytes structure(uint8_t type, uint16_t handle, const Bytes& formatted, const std::vector<std::string>& strings) {
  Bytes s(4 + formatted.size());
  s[0] = type;
  s[1] = static_cast<uint8_t>(s.size());
  s[2] = static_cast<uint8_t>(handle);
  s[3] = static_cast<uint8_t>(handle >> 8);
  std::copy(formatted.begin(), formatted.end(), s.begin() + 4);
  for (const auto& str : strings) {
    s.insert(s.end(), str.begin(), str.end());
    s.push_back(0);
  }
  if (strings.empty()) s.push_back(0);
  s.push_back(0);
  return s;
}

Bytes raw_smbios(uint8_t major, uint8_t minor, const std::vector<Bytes>& structures) {
  Bytes table;
  for (const auto& s : structures) table.insert(table.end(), s.begin(), s.end());
  const uint32_t len = static_cast<uint32_t>(table.size());
  Bytes raw(8 + table.size());
  raw[1] = major;
  raw[2] = minor;
  for (int i = 0; i < 4; ++i) raw[4 + i] = static_cast<uint8_t>(len >> (8 * i));
  std::copy(table.begin(), table.end(), raw.begin() + 8);
  return raw;
}

// The UUID as stored: 00112233-4455-6677-8899-aabbccddeeff in SMBIOS 2.6+ order (first three fields LE).
const Bytes kUuid = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

Bytes bios() {  // type 0: vendor 1, version 2, start segment, release date 3, ROM size, characteristics
  return structure(0, 0, {1, 2, 0x00, 0xe0, 3, 0xff, 0x80, 0x98, 0x8b, 0x3f, 0x01, 0x00, 0x00, 0x00}, {"LENOVO", "N2HET71W (1.54 )", "05/27/2024"});
}
Bytes system_info(const Bytes& uuid, const std::vector<std::string>& strings, uint8_t serial_index = 4) {
  // manufacturer 1, product 2, version 3, serial, UUID[16], wake-up type, SKU 5, family 6
  Bytes f{1, 2, 3, serial_index};
  f.insert(f.end(), uuid.begin(), uuid.end());
  f.insert(f.end(), {0x06, 5, 6});
  return structure(1, 1, f, strings);
}
Bytes baseboard(const std::vector<std::string>& strings, uint8_t serial_index = 4) {
  // manufacturer 1, product 2, version 3, serial, asset tag 5, feature flags, location 6, chassis handle, type
  return structure(2, 2, {1, 2, 3, serial_index, 5, 0x09, 6, 0x03, 0x00, 0x0a, 0x00}, strings);
}
Bytes end_of_table() { return structure(127, 0xfeff, {}, {}); }

Bytes realistic() {
  return raw_smbios(3, 2,
                    {bios(),
                     system_info(kUuid, {"LENOVO", "20QDS3E200", "ThinkPad X1 Carbon 7th", "PF1ABCDE", "LENOVO_MT_20QD",
                                         "ThinkPad X1 Carbon 7th"}),
                     baseboard({"LENOVO", "20QDS3E200", "SDK0J40697 WIN", "L1HF95X01AB", "Not Available", "None"}),
                     end_of_table()});
}

ByteView bv(const Bytes& b) { return ByteView(b.data(), b.size()); }

TEST(WindowsSmbios, RealisticTableGivesUuidAndSerials) {
  const Bytes raw = realistic();
  const SmbiosInfo info = parse_raw_smbios(bv(raw));
  EXPECT_EQ(info.major, 3);
  EXPECT_EQ(info.minor, 2);
  EXPECT_EQ(info.structures, 4u);
  EXPECT_EQ(info.system_uuid, "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(info.system_serial, "PF1ABCDE");
  EXPECT_EQ(info.board_serial, "L1HF95X01AB");
}

TEST(WindowsSmbios, StructuresAfterEndOfTableAreIgnored) {
  const Bytes raw = raw_smbios(3, 0, {bios(), end_of_table(), system_info(kUuid, {"a", "b", "c", "SER1"}),
                                      baseboard({"a", "b", "c", "BOARD1"})});
  const SmbiosInfo info = parse_raw_smbios(bv(raw));
  EXPECT_FALSE(info.system_uuid);
  EXPECT_FALSE(info.system_serial);
  EXPECT_FALSE(info.board_serial);
}

TEST(WindowsSmbios, FirstStructureOfATypeWins) {
  const Bytes raw = raw_smbios(3, 0, {baseboard({"a", "b", "c", "FIRST"}), baseboard({"a", "b", "c", "SECOND"})});
  EXPECT_EQ(parse_raw_smbios(bv(raw)).board_serial, "FIRST");
}

TEST(WindowsSmbios, JunkStringsAndUuidsCountAsMissing) {
  for (const std::string junk : {"To be filled by O.E.M.", "Default string", "System Serial Number", "0", "None", "",
                                 "        ", "  To  be filled by O.E.M. ", "0000000000", "Base Board Serial Number"}) {
    const Bytes raw = raw_smbios(3, 0, {system_info(Bytes(16, 0), {"m", "p", "v", junk}), baseboard({"m", "p", "v", junk})});
    const SmbiosInfo info = parse_raw_smbios(bv(raw));
    EXPECT_FALSE(info.system_serial) << junk;
    EXPECT_FALSE(info.board_serial) << junk;
    EXPECT_FALSE(info.system_uuid);
  }
  EXPECT_FALSE(smbios_uuid_text(bv(Bytes(16, 0x00))));
  EXPECT_FALSE(smbios_uuid_text(bv(Bytes(16, 0xff))));
  const Bytes placeholder = {0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x05, 0x00, 0x06, 0x00, 0x07, 0x00, 0x08, 0x00, 0x09};
  EXPECT_FALSE(smbios_uuid_text(bv(placeholder)));
  EXPECT_EQ(smbios_uuid_text(bv(kUuid)), "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_FALSE(smbios_uuid_text(bv(Bytes(15, 1))));
}

TEST(WindowsSmbios, StringIndexZeroOrBeyondTheSetIsMissing) {
  const Bytes none = raw_smbios(3, 0, {system_info(kUuid, {"m", "p", "v"}, 0), baseboard({"m"}, 4)});
  const SmbiosInfo info = parse_raw_smbios(bv(none));
  EXPECT_FALSE(info.system_serial);
  EXPECT_FALSE(info.board_serial);
  EXPECT_EQ(info.system_uuid, "00112233-4455-6677-8899-aabbccddeeff");
  const Bytes no_strings = raw_smbios(3, 0, {system_info(kUuid, {}), baseboard({}, 200)});
  EXPECT_FALSE(parse_raw_smbios(bv(no_strings)).board_serial);
}

TEST(WindowsSmbios, ShortType1HasNoUuid) {
  // SMBIOS 2.0 system information: header + 4 string numbers, no UUID.
  const Bytes raw = raw_smbios(2, 0, {structure(1, 1, {1, 2, 3, 4}, {"m", "p", "v", "OLDSERIAL"})});
  const SmbiosInfo info = parse_raw_smbios(bv(raw));
  EXPECT_FALSE(info.system_uuid);
  EXPECT_EQ(info.system_serial, "OLDSERIAL");
}

// Wine (8.0) builds its table from the host's readable /sys/class/dmi/id files (none in a container: empty
// strings) and takes the UUID from the host's D-Bus machine-id.
Bytes wine_like() {
  const Bytes machine_id_uuid = {0x3d, 0x12, 0x19, 0xc7, 0xc4, 0xc5, 0x40, 0x4a, 0xaa, 0x1f, 0x6d, 0x2a, 0x48, 0xad, 0xfd, 0xa4};
  return raw_smbios(2, 4,
                    {structure(0, 0, {1, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {}),
                     system_info(machine_id_uuid, {}, 0), baseboard({}, 0),
                     structure(3, 3, {0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {}), end_of_table()});
}

TEST(WindowsSmbios, WineTableHasNoSerialsAndItsUuidCountsOnlyOffWine) {
  const Bytes raw = wine_like();
  const SmbiosInfo on_windows = parse_raw_smbios(bv(raw), Host::windows);
  EXPECT_EQ(on_windows.structures, 5u);
  EXPECT_FALSE(on_windows.system_serial);
  EXPECT_FALSE(on_windows.board_serial);
  EXPECT_TRUE(on_windows.system_uuid);  // the shape alone does not tell wine apart
  const SmbiosInfo on_wine = parse_raw_smbios(bv(raw), Host::wine);
  EXPECT_FALSE(on_wine.system_uuid);  // a copy of the host's machine-id, no firmware value
  EXPECT_FALSE(on_wine.system_serial);
}

TEST(WindowsSmbios, EveryTruncationIsSafeAndKeepsOnlyWholeStructures) {
  const Bytes raw = realistic();
  for (size_t cut = 0; cut <= raw.size(); ++cut) {
    Bytes t(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(cut));
    const SmbiosInfo info = parse_raw_smbios(bv(t));  // must not crash (ASan/UBSan builds check reads)
    if (info.board_serial) {
      EXPECT_EQ(*info.board_serial, "L1HF95X01AB");
    }
    if (info.system_serial) {
      EXPECT_EQ(*info.system_serial, "PF1ABCDE");
    }
    // Also with the declared length kept (a header that lies about the table's size).
    if (cut >= 8) {
      Bytes lying = t;
      lying[4] = 0xff, lying[5] = 0xff, lying[6] = 0xff, lying[7] = 0x7f;
      (void)parse_raw_smbios(bv(lying));
    }
  }
  EXPECT_FALSE(parse_raw_smbios(bv(Bytes(7, 0))).system_uuid);
}

TEST(WindowsSmbios, MalformedStructuresStopTheWalk) {
  Bytes raw = realistic();
  // A structure length under 4 (the second structure, type 1, at table offset of bios()'s size).
  const size_t type1 = 8 + bios().size();
  ASSERT_EQ(raw[type1], 1);
  Bytes bad_len = raw;
  bad_len[type1 + 1] = 2;
  SmbiosInfo info = parse_raw_smbios(bv(bad_len));
  EXPECT_EQ(info.structures, 1u);
  EXPECT_FALSE(info.system_uuid);
  // A formatted length running past the table.
  Bytes long_len = raw;
  long_len[type1 + 1] = 0xff;
  info = parse_raw_smbios(bv(long_len));
  EXPECT_FALSE(info.system_serial);
  // A string set without its double NUL: the rest of the table is strings, never terminated.
  Bytes unterminated = raw_smbios(3, 0, {bios()});
  unterminated.resize(unterminated.size() - 1);
  unterminated.push_back('x');
  EXPECT_EQ(parse_raw_smbios(bv(unterminated)).structures, 0u);
  // Random bytes of every small length.
  uint32_t x = 12345;
  for (size_t n = 0; n < 600; ++n) {
    Bytes r(n);
    for (auto& b : r) b = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
    if (n >= 8) r[4] = static_cast<uint8_t>(n - 8), r[5] = r[6] = r[7] = 0;
    (void)parse_raw_smbios(bv(r));
  }
}

// STORAGE_DEVICE_DESCRIPTOR: Version, Size, DeviceType, Modifier, Removable, CommandQueueing, VendorIdOffset,
// ProductIdOffset, ProductRevisionOffset, SerialNumberOffset, BusType, RawPropertiesLength, RawDeviceProperties.
Bytes descriptor(uint32_t serial_offset, const std::string& tail, uint32_t size_field = 0) {
  Bytes d(40, 0);
  const auto put = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) d[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  d.insert(d.end(), tail.begin(), tail.end());
  put(0, 40);
  put(4, size_field ? size_field : static_cast<uint32_t>(d.size()));
  put(12, 40);  // vendor id at the start of the tail
  put(24, serial_offset);
  put(28, 11);  // BusTypeSata
  return d;
}

TEST(WindowsDiskDescriptor, SerialIsFoundTrimmedAndBounded) {
  const std::string tail = std::string("ATA\0Samsung SSD 860\0", 20) + "   S3Z9NB0K123456A   " + std::string(1, '\0');
  const uint32_t off = 40 + 20;
  EXPECT_EQ(parse_storage_descriptor_serial(bv(descriptor(off, tail))), "S3Z9NB0K123456A");
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(0, tail))));                 // no serial
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(5000, tail))));              // beyond the data
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(20, tail))));                // inside the header
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(off, tail, off))));          // beyond Size
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(off, tail, 12))));           // Size too small
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(40, std::string("      \0", 7)))));  // spaces only
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(descriptor(40, std::string("0\0", 2)))));       // junk
  // Unterminated serial at the end of the buffer: taken up to the end.
  EXPECT_EQ(parse_storage_descriptor_serial(bv(descriptor(40, "WD-WX11A"))), "WD-WX11A");
  // wine: the query succeeds with an empty descriptor (all offsets 0).
  Bytes empty(40, 0);
  empty[0] = empty[4] = 40;
  EXPECT_FALSE(parse_storage_descriptor_serial(bv(empty)));
  const Bytes full = descriptor(off, tail);
  for (size_t cut = 0; cut < full.size(); ++cut)
    (void)parse_storage_descriptor_serial(ByteView(full.data(), cut));
}

TEST(WindowsMacs, OnlyPermanentGlobalAddressesOfPhysicalAdaptersCount) {
  const AdapterFacts eth{6, true, {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}};
  const AdapterFacts wifi{71, true, {0xa4, 0xc3, 0xf0, 0x01, 0x02, 0x03}};
  EXPECT_EQ(permanent_mac(eth), "00:1b:21:aa:bb:cc");
  EXPECT_FALSE(permanent_mac({6, false, {0x00, 0x15, 0x5d, 0x01, 0x02, 0x03}}));  // Hyper-V vSwitch: not hardware
  EXPECT_FALSE(permanent_mac({24, true, {0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}));  // loopback
  EXPECT_FALSE(permanent_mac({131, true, {0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}));  // tunnel
  EXPECT_FALSE(permanent_mac({23, true, {0x00, 0x11, 0x22, 0x33, 0x44, 0x55}}));  // PPP
  EXPECT_FALSE(permanent_mac({6, true, {0x02, 0x11, 0x22, 0x33, 0x44, 0x55}}));  // locally administered
  EXPECT_FALSE(permanent_mac({6, true, {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}}));  // multicast
  EXPECT_FALSE(permanent_mac({6, true, Bytes(6, 0)}));
  EXPECT_FALSE(permanent_mac({6, true, {0x00, 0x11, 0x22, 0x33}}));  // not 6 bytes
  EXPECT_FALSE(permanent_mac({6, true, {}}));
  // A sorted set: the order adapters are listed in does not matter, duplicates count once.
  EXPECT_EQ(mac_set({wifi, eth, eth, {24, true, {0x00, 0, 0, 0, 0, 1}}}), "00:1b:21:aa:bb:cc,a4:c3:f0:01:02:03");
  EXPECT_EQ(mac_set({eth, wifi}), mac_set({wifi, eth}));
  EXPECT_FALSE(mac_set({}));
  EXPECT_FALSE(mac_set({{6, false, {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}}}));
}

TEST(WindowsCpu, IdentityUsesTheLinuxFields) {
  // Intel Core i7-8565U: signature 0x806EC (family 6, extended model 8, model 0xE, stepping 12).
  const CpuidFacts intel{"GenuineIntel", 0x000806ec, "Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz" + std::string(8, '\0'), false};
  EXPECT_EQ(cpu_identity(intel),
            "vendor_id=GenuineIntel\ncpu family=6\nmodel=142\nstepping=12\nmodel name=Intel(R) Core(TM) i7-8565U CPU @ "
            "1.80GHz\n");
  // AMD Zen 2: 0x00870F10: base family 0xF + extended 8 = 23, model 0x71, stepping 0.
  const CpuidFacts amd{"AuthenticAMD", 0x00870f10, "   AMD Ryzen 5 3600 6-Core Processor  ", false};
  EXPECT_EQ(cpu_identity(amd), "vendor_id=AuthenticAMD\ncpu family=23\nmodel=113\nstepping=0\nmodel name=AMD Ryzen 5 3600 "
                               "6-Core Processor\n");
  EXPECT_FALSE(cpu_identity({"", 0x806ec, "x", false}));
  EXPECT_FALSE(cpu_identity({std::string(12, '\0'), 0x806ec, "x", false}));
  EXPECT_EQ(cpu_identity({"GenuineIntel", 0x000806ec, "", false}), "vendor_id=GenuineIntel\ncpu family=6\nmodel=142\nstepping=12\n");
}

TEST(WindowsMachineGuid, AppSpecificAndUnlinkableToTheRawGuid) {
  const std::string guid = "0f3c2a1e-9b7d-4c55-8e21-6a4f0d3b9c87";
  const auto v = machine_guid_factor(guid);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->size(), 16u);
  EXPECT_EQ(((*v)[6] >> 4), 4);
  EXPECT_EQ(((*v)[8] & 0xc0), 0x80);
  // Independent computation: HMAC-SHA256(key = GUID bytes in text order, data = app id).
  const uint8_t key[16] = {0x0f, 0x3c, 0x2a, 0x1e, 0x9b, 0x7d, 0x4c, 0x55, 0x8e, 0x21, 0x6a, 0x4f, 0x0d, 0x3b, 0x9c, 0x87};
  uint8_t mac[32];
  size_t len = 0;
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key, 16, kMachineGuidAppId.data(), 16, mac, 32, &len), nullptr);
  mac[6] = static_cast<uint8_t>((mac[6] & 0x0f) | 0x40);
  mac[8] = static_cast<uint8_t>((mac[8] & 0x3f) | 0x80);
  EXPECT_EQ(0, std::memcmp(v->data(), mac, 16));
  EXPECT_EQ(machine_guid_factor("{" + guid + "}\n"), v);
  EXPECT_EQ(machine_guid_factor("0F3C2A1E-9B7D-4C55-8E21-6A4F0D3B9C87"), v);
  EXPECT_NE(machine_guid_factor("0f3c2a1e-9b7d-4c55-8e21-6a4f0d3b9c88"), v);
  // The raw GUID bytes appear nowhere in the value.
  EXPECT_NE(0, std::memcmp(v->data(), key, 16));
  EXPECT_FALSE(machine_guid_factor("00000000-0000-0000-0000-000000000000"));
  EXPECT_FALSE(machine_guid_factor("0f3c2a1e-9b7d-4c55-8e21-6a4f0d3b9c8"));
  EXPECT_FALSE(machine_guid_factor("0f3c2a1e-9b7d-4c55-8e21x6a4f0d3b9c87"));
  EXPECT_FALSE(machine_guid_factor("0f3c2a1e-9b7d-4c55-8e21-6a4f0d3b9cg7"));
  EXPECT_FALSE(machine_guid_factor(""));
}

// The sources over canned collectors: ids, order, values, and the strength honesty (same thresholds code as
// Linux: describe()).
WindowsCollectors canned(Bytes smbios, std::optional<std::string> guid, Bytes disk, std::vector<AdapterFacts> nics,
                         std::optional<CpuidFacts> cpu) {
  WindowsCollectors c;
  c.smbios = [smbios] { return std::optional<Bytes>(smbios); };
  c.machine_guid = [guid] { return guid; };
  c.disk_descriptor = [disk](const std::filesystem::path&) { return std::optional<Bytes>(disk); };
  c.adapters = [nics] { return nics; };
  c.cpuid = [cpu] { return cpu; };
  return c;
}

TEST(WindowsSources, RealWindowsMachineIsStrong) {
  const auto c = canned(realistic(), "0f3c2a1e-9b7d-4c55-8e21-6a4f0d3b9c87", descriptor(40, "S3Z9NB0K123456A"),
                        {{6, true, {0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc}}}, CpuidFacts{"GenuineIntel", 0x806ec, "x", false});
  const auto factors = read_factors(windows_sources_from(c, "C:/store"));
  ASSERT_EQ(factors.size(), 7u);
  const std::vector<std::string> ids = {"smbios-uuid", "smbios-system-serial", "smbios-board-serial", "machine-guid",
                                        "disk-serial", "nic-mac", "cpu-id"};
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(factors[i].id, ids[i]);
    EXPECT_TRUE(factors[i].present()) << ids[i];
  }
  const auto text = [](const Factor& f) { return std::string(f.value->begin(), f.value->end()); };
  EXPECT_EQ(text(factors[0]), "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(text(factors[4]), "S3Z9NB0K123456A");
  EXPECT_EQ(describe(factors).level, "strong");
}

TEST(WindowsSources, JunkMachineIsWeakAndWineHonest) {
  // Junk everywhere but the CPU: weak, one factor.
  const Bytes junk = raw_smbios(3, 0, {system_info(Bytes(16, 0), {"m", "p", "v", "To be filled by O.E.M."}),
                                       baseboard({"m", "p", "v", "Default string"})});
  auto c = canned(junk, std::nullopt, descriptor(0, ""), {}, CpuidFacts{"GenuineIntel", 0x806ec, "x", false});
  auto s = describe(read_factors(windows_sources_from(c, "C:/")));
  EXPECT_EQ(s.level, "weak");
  EXPECT_EQ(s.factors, 1u);
  // What wine gives: synthetic SMBIOS (UUID dropped), a MachineGuid per prefix, the host's MACs, an empty
  // disk descriptor, the real CPU.
  c = canned(wine_like(), "6f0b4c1d-2e3a-4b5c-9d8e-7f6a5b4c3d2e", Bytes(40, 0), {{6, true, {0x00, 0x1b, 0x21, 1, 2, 3}}},
             CpuidFacts{"GenuineIntel", 0x806ec, "x", true});
  c.host = Host::wine;
  c.hypervisor = true;
  const auto f = read_factors(windows_sources_from(c, "C:/"));
  EXPECT_FALSE(f[0].present());
  EXPECT_TRUE(f[3].present());
  EXPECT_EQ(f[3].strength_bits, 16);  // in a VM the MachineGuid comes with the image
  s = describe(f);
  EXPECT_EQ(s.factors, 3u);
  EXPECT_EQ(s.level, "weak");
  // Missing collectors (a call that failed) are missing factors, not errors.
  WindowsCollectors none;
  for (const auto& x : read_factors(windows_sources_from(none, "C:/"))) EXPECT_FALSE(x.present());
}

}  // namespace
}  // namespace keyseal::fingerprint
