#pragma once
// Validated reading of a YAML mapping: every key is either read or rejected as unknown (with
// the nearest valid key as a hint), and every error names file:line and the key's full path.
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <vector>

namespace automl::experiments {

// Parses `text` (named `file` in messages) as exactly one YAML document. Throws InputError with
// file:line on a syntax error, a second document (`---`) and a key repeated in any mapping
// (yaml-cpp would keep the first value and drop the second without a word).
YAML::Node load_document(const std::string& text, const std::string& file);

class Fields {
 public:
  // `node` must be a mapping; `path` is its dotted key path ("" at the top).
  Fields(const YAML::Node& node, std::string file, std::string path);

  // Reads `key` into `out` when present (out keeps its default otherwise). Numbers must be
  // finite (.nan and .inf are refused), integers whole and within their type.
  template <typename T>
  void optional(const std::string& key, T& out);
  // Like optional, but a missing key is an error.
  template <typename T>
  void required(const std::string& key, T& out);
  // The sub-mapping at `key` (an empty mapping when absent).
  Fields child(const std::string& key);
  bool has(const std::string& key) const;

  // Throws for any key that was never asked for; `expected`, when given, ends the message
  // (e.g. the keys that would be valid).
  void reject_unknown(const std::string& expected = "") const;
  // Declares `keys` as known and rejects any other now, before the values are read: a typo in
  // a key is then reported ahead of errors its misspelling would cause elsewhere.
  void reject_unknown_except(const std::vector<std::string>& keys);

  // "file:line: path.key" for messages about `key` (or about this mapping if key is empty).
  std::string where(const std::string& key = "") const;

  const std::string& file() const { return file_; }

 private:
  template <typename T>
  void read(const std::string& key, T& out);
  std::string full(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node node_;
  std::string file_, path_;
  std::set<std::string> asked_;
};

// Throws InputError(where, "must be ...") unless low <= value <= high.
void check_range(const Fields& fields, const std::string& key, double value, double low,
                 double high);
// Throws unless value is one of `allowed`.
void check_choice(const Fields& fields, const std::string& key, const std::string& value,
                  const std::vector<std::string>& allowed);

}  // namespace automl::experiments
