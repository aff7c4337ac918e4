#pragma once
// Errors that reach the user. InputError is for anything the user handed us (a file, a YAML key,
// a command-line value): its message names where the problem is and what was expected.
#include <stdexcept>
#include <string>

namespace automl {

class InputError : public std::runtime_error {
 public:
  // `where` is "file", "file:line" or "file:line: field"; `what` says what was wrong/expected.
  InputError(const std::string& where, const std::string& what);
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// "file:line" when line > 0, else "file".
std::string location(const std::string& file, int line);

}  // namespace automl
