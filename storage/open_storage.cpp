// Which backend a location names, and what of a PostgreSQL URL messages may show.
#include <fmt/format.h>

#include <algorithm>

#include "storage/storage.h"
#include "storage/url.h"

namespace automl::storage {
namespace {

// Where each password in `url` starts and how long it is.
std::vector<std::pair<std::size_t, std::size_t>> password_spans(const std::string& url) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  // scheme://user:password@host...: the userinfo ends at the authority's last '@'.
  if (const auto scheme = url.find("://"); scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = std::min(url.find_first_of("/?#", start), url.size());
    const auto at = end > start ? url.rfind('@', end - 1) : std::string::npos;
    if (at != std::string::npos && at >= start) {
      const auto colon = url.find(':', start);
      if (colon < at) spans.emplace_back(colon + 1, at - colon - 1);
    }
  }
  // password=... in a URL's query (up to '&') or a key=value string (up to a space, or quoted).
  for (auto key = url.find("password="); key != std::string::npos;
       key = url.find("password=", key + 1)) {
    const auto value = key + 9;
    auto end = std::min(url.find_first_of("& ", value), url.size());
    if (value < url.size() && url[value] == '\'') {  // 'quoted', with \' inside
      end = value + 1;
      while (end < url.size() && url[end] != '\'') end += url[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, url.size());
    }
    spans.emplace_back(value, std::min(end, url.size()) - value);
  }
  return spans;
}

}  // namespace

std::vector<std::string> passwords_in(const std::string& url) {
  std::vector<std::string> passwords;
  for (const auto& [start, length] : password_spans(url))
    if (length > 0) passwords.push_back(url.substr(start, length));
  return passwords;
}

std::string redact_password(const std::string& url) {
  auto spans = password_spans(url);
  std::string out = url;
  // From the last span back, so that earlier offsets stay valid.
  std::sort(spans.rbegin(), spans.rend());
  for (const auto& [start, length] : spans) out.replace(start, length, "***");
  return out;
}

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::unique_ptr<Storage> open_storage(const std::string& location, Access access) {
  if (is_postgres_url(location)) return open_postgres(location, access);
  return open_sqlite(location, access);
}

#ifndef AUTOML_WITH_POSTGRES
std::unique_ptr<Storage> open_postgres(const std::string& url, Access) {
  throw StorageError(fmt::format(
      "database {}: this automl was built without PostgreSQL (AUTOML_WITH_POSTGRES was off, or "
      "libpqxx-dev missing, when it was configured): install libpqxx-dev and rebuild, or use a "
      "SQLite path",
      redact_password(url)));
}
#endif

}  // namespace automl::storage
