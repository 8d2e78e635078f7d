// ForkedChild on Windows: there is no fork(), so nothing starts and available() says so.
#include "forked_child.h"

namespace keyseal::test {

bool posix_file_modes() { return false; }

bool ForkedChild::available() { return false; }
ForkedChild::ForkedChild(const std::function<int(const std::function<void()>&)>&) {}
ForkedChild::~ForkedChild() = default;
bool ForkedChild::wait_ready() { return false; }
bool ForkedChild::finished() { return true; }
int ForkedChild::wait() { return -1; }
void ForkedChild::kill() {}

}  // namespace keyseal::test
