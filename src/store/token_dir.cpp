// Naming and listing of token files in the store directory (see token_dir.h).
#include "store/token_dir.h"

#include "common/log.h"
#include "platform/files.h"
#include "platform/paths.h"

#include <algorithm>
#include <system_error>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace keyseal::store {
namespace {

constexpr std::string_view kPrefix = "token-";
constexpr std::string_view kSuffix = ".db";

std::optional<CK_SLOT_ID> parse_token_name(std::string_view name) {
  if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) || !name.ends_with(kSuffix))
    return std::nullopt;
  std::string_view digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // one file name per slot id
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  CK_SLOT_ID slot = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), slot);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return slot;
}

// Once per process for each distinct problem: C_GetSlotList rescans the directory on every call.
void warn_if_open(const std::filesystem::path& store_dir) {
  const std::string problem = store_dir_problem(store_dir);
  if (problem.empty()) return;
  static std::mutex mu;
  static auto* reported = new std::set<std::string>;  // never freed: no static destructor
  std::lock_guard<std::mutex> g(mu);
  if (reported->insert(problem).second) log::warn(problem);
}

}  // namespace

// The directory is the user's: it is reported, never chmod-ed behind their back (a group-shared store may be
// deliberate). Token records are authenticated, so what others can do through it is delete or corrupt tokens.
std::string store_dir_problem(const std::filesystem::path& store_dir) {
  return platform::dir_access_problem(store_dir);
}

std::vector<TokenFile> list_token_files(const std::filesystem::path& store_dir) {
  std::vector<TokenFile> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(store_dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) fail(CKR_DEVICE_ERROR, "cannot list token store " + store_dir.string() + ": " + ec.message());
  warn_if_open(store_dir);
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) fail(CKR_DEVICE_ERROR, "cannot list token store " + store_dir.string() + ": " + ec.message());
    auto slot = parse_token_name(platform::path_to_utf8(it->path().filename()));
    std::error_code type_ec;
    if (slot && it->is_regular_file(type_ec)) out.push_back(TokenFile{*slot, it->path()});
  }
  if (ec) fail(CKR_DEVICE_ERROR, "cannot list token store " + store_dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const TokenFile& a, const TokenFile& b) { return a.slot_id < b.slot_id; });
  return out;
}

std::filesystem::path token_file_path(const std::filesystem::path& store_dir, CK_SLOT_ID slot) {
  return store_dir / (std::string(kPrefix) + std::to_string(slot) + std::string(kSuffix));
}

void ensure_store_dir(const std::filesystem::path& store_dir) {
  require(!store_dir.empty(), CKR_DEVICE_ERROR, "empty token store path");
  std::filesystem::path p;
  bool made_last = false;
  for (const auto& part : store_dir.lexically_normal()) {
    p /= part;
    if (part.empty() || p == p.root_name() || p == p.root_path()) continue;  // a trailing separator or a root
    platform::MakeDir r;
    try {
      r = platform::make_private_dir(p);
    } catch (const std::system_error& e) {
      fail(CKR_DEVICE_ERROR, "cannot create token store " + platform::path_to_utf8(p) + ": " + e.code().message());
    }
    made_last = r == platform::MakeDir::made;
    if (r == platform::MakeDir::not_a_directory)
      fail(CKR_DEVICE_ERROR, "cannot create token store " + platform::path_to_utf8(p) + ": not a directory");
  }
  if (!made_last) warn_if_open(store_dir);
}

}  // namespace keyseal::store
