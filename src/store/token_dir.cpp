// Naming and listing of token files in the store directory (see token_dir.h).
#include "store/token_dir.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <sys/stat.h>

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

}  // namespace

std::vector<TokenFile> list_token_files(const std::filesystem::path& store_dir) {
  std::vector<TokenFile> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(store_dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) fail(CKR_DEVICE_ERROR, "cannot list token store " + store_dir.string() + ": " + ec.message());
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) fail(CKR_DEVICE_ERROR, "cannot list token store " + store_dir.string() + ": " + ec.message());
    auto slot = parse_token_name(it->path().filename().native());
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
  for (const auto& part : store_dir.lexically_normal()) {
    p /= part;
    if (part.empty()) continue;  // trailing separator
    if (::mkdir(p.c_str(), 0700) == 0) continue;
    int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    fail(CKR_DEVICE_ERROR, "cannot create token store " + p.string() + ": " +
                               (err == EEXIST ? std::string("not a directory") : std::strerror(err)));
  }
}

}  // namespace keyseal::store
