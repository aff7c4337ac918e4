#pragma once
// What a PostgreSQL URL or libpq connection string holds that messages must never show.
#include <string>
#include <vector>

namespace automl::storage {

// The passwords written in `url` (user:password@ in a URL, password=... in its query or in a
// key=value connection string), so that a message echoing one can be scrubbed.
std::vector<std::string> passwords_in(const std::string& url);

}  // namespace automl::storage
