// A stand-in for DPAPI at the OsSecretWrapper boundary (another Windows user or machine cannot be made here):
// blobs are random ids into a table shared by every wrapper of one "world"; a blob opens only for the user
// and machine that wrapped it, with the same context. `refuse` makes every unwrap fail (a DPAPI that cannot
// open: profile gone, another machine).
#pragma once
#include <map>
#include <memory>
#include <random>
#include <string>

#include "common/error.h"
#include "softtoken/fp_binding.h"

namespace keyseal::softtoken::testing {

struct OsWorld {
  struct Entry {
    std::string who;
    SecureBytes context, secret;
  };
  std::map<std::string, Entry> blobs;
};

class FakeOsWrapper final : public OsSecretWrapper {
 public:
  FakeOsWrapper(std::shared_ptr<OsWorld> world, std::string who, std::string name = "dpapi")
      : world_(std::move(world)), who_(std::move(who)), name_(std::move(name)) {}
  bool refuse = false;
  bool fail_wrap = false;
  int wraps = 0, unwraps = 0;

  std::string name() const override { return name_; }
  SecureBytes wrap(ByteView secret, ByteView context) override {
    require(!fail_wrap, CKR_FUNCTION_FAILED, "fake DPAPI: CryptProtectData refused");
    ++wraps;
    SecureBytes blob(24);
    std::random_device rd;
    for (auto& b : blob) b = static_cast<uint8_t>(rd());
    world_->blobs[std::string(blob.begin(), blob.end())] = {who_, to_bytes(context), to_bytes(secret)};
    return blob;
  }
  std::optional<SecureBytes> unwrap(ByteView blob, ByteView context) override {
    ++unwraps;
    if (refuse) return std::nullopt;
    auto it = world_->blobs.find(std::string(blob.begin(), blob.end()));
    if (it == world_->blobs.end() || it->second.who != who_ || !equal_bytes(view(it->second.context), context))
      return std::nullopt;
    return it->second.secret;
  }

 private:
  std::shared_ptr<OsWorld> world_;
  std::string who_, name_;
};

}  // namespace keyseal::softtoken::testing
