// keyseal-conformance entry point: parses the module options, loads the module under test (PKCS#11 3.0
// section 5.2: C_GetInterface, else C_GetFunctionList) and runs the GoogleTest suite or a child task.
#include "harness.h"

#include "platform/process.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

using namespace keyseal::conformance;

namespace {

void usage() {
  std::cerr << "usage: keyseal-conformance --module PATH [--slot ID | --token-label L] --pin P --so-pin S [--init]\n"
               "                           [--vectors DIR] [--gtest_* flags]\n";
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto& c = config();
  c.self_exe = keyseal::platform::self_executable();
  std::string child_task;
  std::vector<std::string> child_args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--module") c.module_path = next();
    else if (a == "--slot") c.slot = std::strtoul(next().c_str(), nullptr, 0);
    else if (a == "--token-label") c.token_label = next();
    else if (a == "--pin") c.pin = next();
    else if (a == "--so-pin") c.so_pin = next();
    else if (a == "--init") c.init_token = true;
    else if (a == "--vectors") c.vectors_dir = next();
    else if (a == "--child-task") {
      child_task = next();
      while (i + 1 < argc) child_args.push_back(argv[++i]);
    } else {
      std::cerr << "unknown argument: " << a << "\n";
      usage();
      return 2;
    }
  }
  if (c.module_path.empty() || c.pin.empty() || c.so_pin.empty()) {
    usage();
    return 2;
  }
  try {
    if (!child_task.empty()) {
      load_module(false);
      return run_child_task_main(child_task, child_args);
    }
    load_module(true);
  } catch (const std::exception& e) {
    std::cerr << "keyseal-conformance: " << e.what() << "\n";
    return 2;
  }
  c.module_args = {"--module", c.module_path, "--slot", std::to_string(slot()), "--pin", c.pin, "--so-pin",
                   c.so_pin};
  CK_INFO info{};
  p11()->C_GetInfo(&info);
  std::printf("[ module   ] %s: %.32s %.32s, cryptoki %u.%u, %s, slot %lu\n", c.module_path.c_str(),
              (const char*)info.manufacturerID, (const char*)info.libraryDescription, info.cryptokiVersion.major,
              info.cryptokiVersion.minor, module().fl3 ? "C_GetInterface 3.0" : "C_GetFunctionList",
              (unsigned long)slot());
  int rc = RUN_ALL_TESTS();
  auto* ut = testing::UnitTest::GetInstance();
  std::printf("[ summary  ] run %d, passed %d, failed %d, skipped %d (mechanism or feature not offered by the module)\n",
              ut->test_to_run_count() - ut->skipped_test_count(), ut->successful_test_count(),
              ut->failed_test_count(), ut->skipped_test_count());
  return rc;
}
