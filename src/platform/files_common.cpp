// The parts of files.h built from the others, the same on every system.
#include "platform/files.h"
#include "platform/process.h"

#include <fstream>
#include <string>
#include <system_error>

namespace keyseal::platform {

bool write_private_file(const std::filesystem::path& file, const void* data, std::size_t size, bool replace) {
  const std::filesystem::path tmp = file.string() + ".new" + std::to_string(process_id());
  remove_quietly(tmp);
  if (!create_new_private_file(tmp))
    throw std::system_error(std::make_error_code(std::errc::file_exists), "cannot create " + tmp.string());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
      out.flush();
      if (!out) throw std::system_error(std::make_error_code(std::errc::io_error), "cannot write " + tmp.string());
    }
    bool published = true;
    if (replace) publish_replacing(tmp, file);
    else published = publish_no_replace(tmp, file);
    remove_quietly(tmp);  // POSIX publish_no_replace links: the temporary name is still there
    return published;
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
}

}  // namespace keyseal::platform
