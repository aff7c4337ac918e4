#include "engine/cli/files.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.h"

namespace automl::cli {

void write_file(const std::string& path, const std::string& text, const std::string& what) {
  const auto temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    if (out) out << text << std::flush;
    if (!out) {
      const std::string reason = std::strerror(errno);
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw InputError(path, fmt::format("cannot write {}: {}", what, reason));
    }
  }
  std::filesystem::rename(temporary, path);
}

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, fmt::format("cannot read {}: {}", what, std::strerror(errno)));
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace automl::cli
