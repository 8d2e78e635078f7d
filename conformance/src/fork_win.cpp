// The fork rule (PKCS#11 3.0 sections 2.5.1 and 5.4) on Windows: there is no fork(), so there is no forked child
// to test; two processes on one token are tested with CreateProcess in test_concurrency.cpp.
#include "harness.h"

namespace keyseal::conformance {
namespace {

TEST_F(Concurrency, ForkedChildInitializes) {
  GTEST_SKIP() << "PKCS#11 3.0 section 5.4 (C_Initialize in a forked child): Windows has no fork()";
}

}  // namespace
}  // namespace keyseal::conformance
