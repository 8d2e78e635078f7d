// Linux factor sources against fake /etc, /proc, /sys and /run trees in a temp dir (parsing, canonical
// forms, junk rejection), plus a smoke test on this real machine.
#include "fingerprint/linux_sources.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>

#include "fingerprint/factor.h"

namespace keyseal::fingerprint {
namespace {
namespace fs = std::filesystem;

class FakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "keyseal-fp-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  void write(const std::string& rel, std::string_view data) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  void mkdir(const std::string& rel) { fs::create_directories(root_ / rel); }
  void symlink(const std::string& target, const std::string& rel) {
    fs::create_directories((root_ / rel).parent_path());
    fs::create_directory_symlink(target, root_ / rel);
  }
  static std::optional<std::string> text(const std::optional<SecureBytes>& v) {
    if (!v) return std::nullopt;
    return std::string(v->begin(), v->end());
  }
  fs::path root_;
};

// ---- machine-id ----

SecureBytes expected_app_specific(const std::string& hex) {
  uint8_t id[16];
  for (int i = 0; i < 16; ++i) id[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  uint8_t mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), id, 16, kMachineIdAppId.data(), kMachineIdAppId.size(), mac, &len);
  SecureBytes out(mac, mac + 16);
  out[6] = (out[6] & 0x0f) | 0x40;
  out[8] = (out[8] & 0x3f) | 0x80;
  return out;
}

TEST_F(FakeTree, MachineIdIsAppSpecificDerivation) {
  const std::string id = "3d1219c7c4c5404aaa1f6d2a48adfda4";
  write("etc/machine-id", id + "\n");
  auto src = machine_id_source(root_);
  EXPECT_EQ(src->id(), "machine-id");
  auto v = src->read();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, expected_app_specific(id));
  EXPECT_EQ(v->size(), 16u);
  EXPECT_EQ((*v)[6] >> 4, 4);
  // Never the raw id.
  EXPECT_EQ(std::string(v->begin(), v->end()).find("3d1219"), std::string::npos);
  write("etc/machine-id", "3D1219C7C4C5404AAA1F6D2A48ADFDA4");  // canonical: case-insensitive
  EXPECT_EQ(src->read(), v);
  write("etc/machine-id", "4d1219c7c4c5404aaa1f6d2a48adfda4\n");
  EXPECT_NE(src->read(), v);
}

// On a hypervisor's guest the machine-id (often baked into a shared image) and the disk serial (set by the VM's
// configuration) count for little, so a VM with them reads "weak" (the machine this was written on is one).
TEST_F(FakeTree, VirtualMachineFactorsCountForLittle) {
  write("etc/machine-id", "4d1219c7c4c5404aaa1f6d2a48adfda4\n");
  write("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse2\n");
  EXPECT_EQ(machine_id_source(root_)->strength_bits(), 122);
  EXPECT_EQ(disk_serial_source(root_, root_)->strength_bits(), 32);
  write("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse2 hypervisor\n");
  EXPECT_EQ(machine_id_source(root_)->strength_bits(), 16);
  EXPECT_EQ(disk_serial_source(root_, root_)->strength_bits(), 8);
  std::vector<std::unique_ptr<FactorSource>> v;
  v.push_back(machine_id_source(root_));
  EXPECT_EQ(describe(read_factors(v)).summary(), "binding: weak, 1 factor");
}

TEST_F(FakeTree, MachineIdJunkIsMissing) {
  auto src = machine_id_source(root_);
  EXPECT_FALSE(src->read());  // no file
  for (const char* junk :
       {"00000000000000000000000000000000\n", "uninitialized\n", "", "   \n", "3d1219c7c4c5404aaa1f6d2a48adfd\n",
        "3d1219c7c4c5404aaa1f6d2a48adfdzz\n", "ffffffffffffffffffffffffffffffff"}) {
    write("etc/machine-id", junk);
    EXPECT_FALSE(src->read()) << junk;
  }
}

// ---- NIC MACs ----

TEST_F(FakeTree, NicMacsArePermanentPhysicalSortedSet) {
  auto add = [&](const std::string& name, const std::string& addr, const char* assign, bool physical) {
    write("sys/class/net/" + name + "/address", addr + "\n");
    write("sys/class/net/" + name + "/addr_assign_type", std::string(assign) + "\n");
    write("sys/class/net/" + name + "/type", "1\n");
    if (physical) mkdir("sys/class/net/" + name + "/device");
  };
  add("eth1", "A4:BB:6D:01:02:03", "0", true);
  add("eth0", "00:1b:21:aa:bb:cc", "0", true);
  add("veth0", "00:16:3e:00:00:01", "0", false);                                         // virtual: no device link
  add("eth2", "02:fc:00:00:00:01", "0", true);                                           // locally administered
  add("wlan0", "00:21:6a:11:22:33", "3", true);                                          // randomised (NET_ADDR_SET)
  add("eth3", "00:00:00:00:00:00", "0", true);                                           // all zero
  add("eth4", "01:00:5e:00:00:01", "0", true);                                           // multicast
  add("ib0", "80:00:02:08:fe:80:00:00:00:00:00:00:00:11:22:33:44:55:66:77", "0", true);  // not Ethernet-sized
  add("tun0", "00:1b:21:99:88:77", "0", true);
  write("sys/class/net/tun0/type", "65534\n");  // not ARPHRD_ETHER
  write("sys/class/net/lo/address", "00:00:00:00:00:00\n");
  auto src = nic_mac_source(root_);
  EXPECT_EQ(src->id(), "nic-mac");
  EXPECT_EQ(text(src->read()), "00:1b:21:aa:bb:cc,a4:bb:6d:01:02:03");
}

TEST_F(FakeTree, NicMacsOfVirtualMachineAreMissing) {
  EXPECT_FALSE(nic_mac_source(root_)->read());  // no /sys/class/net at all
  write("sys/class/net/eth0/address", "02:fc:00:00:00:01\n");
  write("sys/class/net/eth0/addr_assign_type", "0\n");
  mkdir("sys/class/net/eth0/device");
  EXPECT_FALSE(nic_mac_source(root_)->read());
}

// ---- disk serial ----

class DiskTree : public FakeTree {
 protected:
  void SetUp() override {
    FakeTree::SetUp();
    struct stat st {};
    ASSERT_EQ(::stat(root_.c_str(), &st), 0);
    dev_ = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
    disk_ = "sys/devices/pci0000:00/0000:00:1f.2/host0/block/sda";
    write(disk_ + "/dev", "8:0\n");
    write(disk_ + "/sda1/partition", "1\n");
    write(disk_ + "/sda1/dev", dev_ + "\n");
  }
  void link_partition() { symlink("../../" + disk_.substr(4) + "/sda1", "sys/dev/block/" + dev_); }
  std::optional<std::string> serial() { return text(disk_serial_source(root_, root_)->read()); }
  std::string dev_, disk_;
};

TEST_F(DiskTree, NoBlockEntryIsMissing) {
  EXPECT_FALSE(serial());
}

TEST_F(DiskTree, DeviceSerialOfWholeDiskFromPartition) {
  link_partition();
  write(disk_ + "/device/serial", "  S4EWNX0N123456   \n");
  write(disk_ + "/sda1/device/serial", "PARTITION-WRONG\n");
  EXPECT_EQ(disk_serial_source(root_, root_)->id(), "disk-serial");
  EXPECT_EQ(serial(), "S4EWNX0N123456");
}

TEST_F(DiskTree, WholeDiskLinkedDirectly) {
  fs::remove_all(root_ / disk_ / "sda1");
  symlink("../../" + disk_.substr(4), "sys/dev/block/" + dev_);
  write(disk_ + "/serial", "BTWL1234ABCD\n");  // virtio-blk style
  EXPECT_EQ(serial(), "BTWL1234ABCD");
}

TEST_F(DiskTree, VpdPage80) {
  link_partition();
  const std::string sn = "  WD-WCC4N1234567";
  std::string page = {'\0', '\x80', '\0', static_cast<char>(sn.size())};
  write(disk_ + "/device/vpd_pg80", page + sn);
  EXPECT_EQ(serial(), "WD-WCC4N1234567");
  std::string bad_len = {'\0', '\x80', '\0', '\x40'};
  write(disk_ + "/device/vpd_pg80", bad_len + sn);  // length past the end
  EXPECT_FALSE(serial());
  std::string wrong_page = {'\0', '\x83', '\0', static_cast<char>(sn.size())};
  write(disk_ + "/device/vpd_pg80", wrong_page + sn);
  EXPECT_FALSE(serial());
}

TEST_F(DiskTree, UdevDataPrefersShortSerial) {
  link_partition();
  write("run/udev/data/b8:0", "S:disk/by-id/x\nE:ID_SERIAL=Samsung_SSD_860_S3Z9NB0K\nE:ID_SERIAL_SHORT=S3Z9NB0K\n");
  EXPECT_EQ(serial(), "S3Z9NB0K");
  write("run/udev/data/b8:0", "E:ID_SERIAL=Samsung_SSD_860_S3Z9NB0K\n");
  EXPECT_EQ(serial(), "Samsung_SSD_860_S3Z9NB0K");
}

TEST_F(DiskTree, JunkSerialsFallThroughAndEndMissing) {
  link_partition();
  write(disk_ + "/device/serial", "Default string\n");
  write(disk_ + "/serial", "QM00001\n");
  write("run/udev/data/b8:0", "E:ID_SERIAL_SHORT=0000000000\nE:ID_SERIAL=virtio\n");
  EXPECT_FALSE(serial());
  write("run/udev/data/b8:0", "E:ID_SERIAL_SHORT=  \nE:ID_SERIAL=REAL-ONE\n");
  EXPECT_EQ(serial(), "REAL-ONE");
}

// ---- CPU ----

const char* kCpuinfo =
    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\n"
    "model name\t: Intel(R) Core(TM) i7-8700  CPU @ 3.20GHz\nstepping\t: 10\nmicrocode\t: 0xf4\n"
    "cpu MHz\t\t: 3199.998\nphysical id\t: 0\ncore id\t\t: 0\napicid\t\t: 0\ninitial apicid\t: 0\n\n"
    "processor\t: 1\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 158\n"
    "model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz\nstepping\t: 10\napicid\t\t: 2\n\n";

TEST_F(FakeTree, CpuIdentificationWithoutPerCoreFields) {
  write("proc/cpuinfo", kCpuinfo);
  auto src = cpu_id_source(root_);
  EXPECT_EQ(src->id(), "cpu-id");
  const auto v = text(src->read());
  EXPECT_EQ(v,
            "vendor_id=GenuineIntel\ncpu family=6\nmodel=158\nstepping=10\n"
            "model name=Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz\n");
  std::string other = kCpuinfo;
  other.replace(other.find("apicid\t\t: 0"), 11, "apicid\t\t: 6");
  other.replace(other.find("3199.998"), 8, "800.000");
  write("proc/cpuinfo", other);
  EXPECT_EQ(text(src->read()), v);  // per-core and per-moment values do not matter
  std::string stepping = kCpuinfo;
  stepping.replace(stepping.find("stepping\t: 10"), 13, "stepping\t: 11");
  write("proc/cpuinfo", stepping);
  EXPECT_NE(text(src->read()), v);
}

TEST_F(FakeTree, CpuWithoutVendorIsMissing) {
  EXPECT_FALSE(cpu_id_source(root_)->read());
  write("proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\n");
  EXPECT_FALSE(cpu_id_source(root_)->read());
  write("proc/cpuinfo", "processor\t: 0\nvendor_id\t: \nmodel\t: 1\n\n");
  EXPECT_FALSE(cpu_id_source(root_)->read());
}

// ---- DMI ----

TEST_F(FakeTree, DmiValuesAndJunk) {
  auto uuid = dmi_product_uuid_source(root_);
  auto board = dmi_board_serial_source(root_);
  EXPECT_EQ(uuid->id(), "dmi-product-uuid");
  EXPECT_EQ(board->id(), "dmi-board-serial");
  EXPECT_FALSE(uuid->read());  // root-only or absent: missing
  EXPECT_FALSE(board->read());
  write("sys/class/dmi/id/product_uuid", "4C4C4544-0042-3510-8051-B7C04F4E3732\n");
  write("sys/class/dmi/id/board_serial", "  /7XB51N2/CN1296354D0123/ \n");
  EXPECT_EQ(text(uuid->read()), "4c4c4544-0042-3510-8051-b7c04f4e3732");
  EXPECT_EQ(text(board->read()), "/7XB51N2/CN1296354D0123/");
  for (const char* junk : {"00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
                           "03000200-0400-0500-0006-000700080009", "Not Specified", ""}) {
    write("sys/class/dmi/id/product_uuid", std::string(junk) + "\n");
    EXPECT_FALSE(uuid->read()) << junk;
  }
  for (const char* junk : {"To be filled by O.E.M.", "Default string", "None", "0123456789", "  \t ",
                           "Base Board Serial Number", "XXXXXXXXXX"}) {
    write("sys/class/dmi/id/board_serial", std::string(junk) + "\n");
    EXPECT_FALSE(board->read()) << junk;
  }
}

TEST(Junk, CanonicalTextAndJunkList) {
  EXPECT_EQ(canonical_text("  a \t b\n\nc  \n"), "a b c");
  EXPECT_EQ(canonical_text(std::string("x\0y", 3)), "x y");
  for (const char* junk : {"", "to be filled by o.e.m.", "TO BE FILLED BY O.E.M.", "Default String", "none",
                           "0123456789", "00:00:00:00:00:00", "ff-ff-ff-ff", "QM00002", "0"})
    EXPECT_TRUE(is_junk(canonical_text(junk))) << junk;
  for (const char* good : {"S4EWNX0N123456", "0123456788", "noneX", "GenuineIntel", "ab"})
    EXPECT_FALSE(is_junk(good)) << good;
}

// ---- this real machine ----

TEST(RealMachine, LinuxSourcesReadMachineIdAndNeverThrow) {
  std::vector<std::unique_ptr<FactorSource>> sources;
  ASSERT_NO_THROW(sources = linux_sources(fs::temp_directory_path()));
  std::vector<std::string> ids;
  for (const auto& s : sources) ids.push_back(s->id());
  EXPECT_EQ(ids, (std::vector<std::string>{"machine-id", "nic-mac", "disk-serial", "cpu-id", "dmi-product-uuid",
                                           "dmi-board-serial"}));
  std::vector<Factor> factors;
  ASSERT_NO_THROW(factors = read_factors(sources));
  ASSERT_EQ(factors.size(), 6u);
  EXPECT_TRUE(factors[0].present());
  EXPECT_EQ(factors[0].value->size(), 16u);
  ASSERT_NO_THROW(factors = read_factors(sources));  // reading twice gives the same values
  EXPECT_EQ(read_factors(sources)[0].value, factors[0].value);
  const auto s = describe(factors);
  EXPECT_GE(s.factors, 1u);
  EXPECT_FALSE(s.level.empty());
}

}  // namespace
}  // namespace keyseal::fingerprint
