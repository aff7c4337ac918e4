#include "experiments/yaml_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>

#include "common/error.h"
#include "common/text.h"

namespace automl::experiments {
namespace {

template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

template <typename T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_unsigned_v<T>) return "a non-negative integer";
  if constexpr (std::is_integral_v<T>) return "an integer";
  if constexpr (std::is_floating_point_v<T>) return "a number";
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  if constexpr (is_vector<T>::value) {
    const auto element = type_name<typename T::value_type>();
    return "a list of " + element.substr(element.find(' ') + 1) + "s, e.g. [a, b]";
  }
  return "a value";
}

// The offending value as the user wrote it (flow style for lists and mappings).
std::string shown(const YAML::Node& value) {
  if (value.IsScalar()) return value.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << value;
  return out.c_str();
}

std::string not_finite(const std::string& value) {
  return fmt::format("expected a finite number, got '{}'", value);
}

int line_of(const YAML::Node& node) {
  return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}

// Throws for the first key that appears twice in one mapping, at any depth: yaml-cpp keeps both
// entries in the node and answers lookups with the first. Aliases can make the tree cyclic
// (`a: &x {b: *x}`) or exponentially large, so the walk is bounded in depth and in size.
class RepeatedKeys {
 public:
  explicit RepeatedKeys(std::string file) : file_(std::move(file)) {}

  void check(const YAML::Node& node, const std::string& path, int depth) {
    if (depth > kMaxDepth || ++visits_ > kMaxVisits)
      throw InputError(location(file_, line_of(node)) + (path.empty() ? "" : ": " + path),
                       depth > kMaxDepth ? "nested too deeply (an alias that contains itself?)"
                                         : "expands to too many values (aliases of aliases?)");
    if (node.IsSequence())
      for (std::size_t i = 0; i < node.size(); ++i)
        check(node[i], fmt::format("{}[{}]", path, i), depth + 1);
    if (node.IsMap()) check_map(node, path, depth);
  }

 private:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxVisits = 1000000;

  void check_map(const YAML::Node& node, const std::string& path, int depth) {
    std::map<std::string, int> first_line;
    for (const auto& item : node) {
      if (!item.first.IsScalar()) continue;
      const auto& key = item.first.Scalar();
      const auto name = path.empty() ? key : path + "." + key;
      const auto [seen, inserted] = first_line.emplace(key, line_of(item.first));
      if (!inserted)
        throw InputError(location(file_, line_of(item.first)) + ": " + name,
                         fmt::format("appears twice in one mapping (first at line {}); give each "
                                     "key once",
                                     seen->second));
      check(item.second, name, depth + 1);
    }
  }

  std::string file_;
  int visits_ = 0;
};

// The 1-based line of the `---` that starts the document whose content begins at 0-based line
// `content_line` (-1: unknown, then the last `---` of the text).
int separator_line(const std::string& text, int content_line) {
  int line = 0, found = 0;
  for (std::size_t at = 0; at <= text.size(); ++line) {
    const auto end = std::min(text.find('\n', at), text.size());
    if (content_line >= 0 && line > content_line) break;
    if (text.compare(at, 3, "---") == 0 &&
        (end == at + 3 || std::isspace(static_cast<unsigned char>(text[at + 3]))))
      found = line + 1;
    at = end + 1;
  }
  return found;
}

}  // namespace

YAML::Node load_document(const std::string& text, const std::string& file) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::ParserException& e) {
    throw InputError(location(file, e.mark.line + 1), fmt::format("YAML syntax: {}", e.msg));
  }
  if (documents.size() > 1)
    throw InputError(location(file, separator_line(text, documents[1].Mark().line)),
                     "a second YAML document starts here ('---'): an experiment file holds "
                     "exactly one");
  if (documents.empty()) return YAML::Node();
  RepeatedKeys(file).check(documents.front(), "", 0);
  return documents.front();
}

Fields::Fields(const YAML::Node& node, std::string file, std::string path)
    : node_(node), file_(std::move(file)), path_(std::move(path)) {
  if (node_ && !node_.IsNull() && !node_.IsMap())
    throw InputError(where(), "expected a mapping of keys to values");
}

std::string Fields::where(const std::string& key) const {
  YAML::Node at = (!key.empty() && has(key)) ? node_[key] : node_;
  const std::string name = key.empty() ? path_ : full(key);
  const auto place = location(file_, at ? line_of(at) : 0);
  return name.empty() ? place : fmt::format("{}: {}", place, name);
}

bool Fields::has(const std::string& key) const {
  return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
}

template <typename T>
void Fields::read(const std::string& key, T& out) {
  const YAML::Node value = node_[key];
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!value.IsScalar()) throw YAML::Exception(value.Mark(), "");
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // yaml-cpp would truncate "1.5" to 1 for an integer: read as double and check instead
      // (within +-2^63 first, where the cast is defined).
      const double d = value.as<double>();
      if (!(std::fabs(d) < 9.2e18) || d != static_cast<double>(static_cast<std::int64_t>(d)))
        throw YAML::Exception({}, "");
      if (std::is_unsigned_v<T> && d < 0) throw YAML::Exception({}, "");
    }
    out = value.as<T>();
  } catch (const YAML::Exception&) {
    throw InputError(where(key),
                     fmt::format("expected {}, got '{}'", type_name<T>(), shown(value)));
  }
  // .nan passes every range check (each comparison with it is false) and .inf most: refuse
  // them here, once for every number of the file.
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(out)) throw InputError(where(key), not_finite(shown(value)));
  }
  if constexpr (std::is_same_v<T, std::vector<double>>) {
    for (std::size_t i = 0; i < out.size(); ++i)
      if (!std::isfinite(out[i])) throw InputError(where(key), not_finite(shown(value[i])));
  }
}

template <typename T>
void Fields::optional(const std::string& key, T& out) {
  asked_.insert(key);
  if (has(key)) read(key, out);
}

template <typename T>
void Fields::required(const std::string& key, T& out) {
  asked_.insert(key);
  if (!has(key)) throw InputError(where(), fmt::format("missing required key '{}'", full(key)));
  read(key, out);
}

Fields Fields::child(const std::string& key) {
  asked_.insert(key);
  return Fields(has(key) ? node_[key] : YAML::Node(YAML::NodeType::Map), file_, full(key));
}

void Fields::reject_unknown(const std::string& expected) const {
  if (!node_ || !node_.IsMap()) return;
  const std::vector<std::string> known(asked_.begin(), asked_.end());
  for (const auto& item : node_) {
    const auto key = item.first.as<std::string>();
    if (asked_.count(key)) continue;
    const auto hint = nearest(key, known);
    throw InputError(
        location(file_, line_of(item.first)) + ": " + full(key),
        "unknown key" +
            (hint.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", hint)) +
            (expected.empty() ? std::string() : "; " + expected));
  }
}

void Fields::reject_unknown_except(const std::vector<std::string>& keys) {
  asked_.insert(keys.begin(), keys.end());
  reject_unknown();
}

void check_range(const Fields& fields, const std::string& key, double value, double low,
                 double high) {
  if (value < low || value > high)
    throw InputError(fields.where(key),
                     fmt::format("{} is out of range [{}, {}]", value, low, high));
}

void check_choice(const Fields& fields, const std::string& key, const std::string& value,
                  const std::vector<std::string>& allowed) {
  for (const auto& a : allowed)
    if (a == value) return;
  throw InputError(fields.where(key),
                   fmt::format("'{}' is not one of: {}", value, fmt::join(allowed, ", ")));
}

template void Fields::optional(const std::string&, bool&);
template void Fields::optional(const std::string&, int&);
template void Fields::optional(const std::string&, std::int64_t&);
template void Fields::optional(const std::string&, std::uint64_t&);
template void Fields::optional(const std::string&, double&);
template void Fields::optional(const std::string&, std::string&);
template void Fields::optional(const std::string&, std::vector<int>&);
template void Fields::optional(const std::string&, std::vector<double>&);
template void Fields::optional(const std::string&, std::vector<std::string>&);
template void Fields::optional(const std::string&, std::vector<std::uint64_t>&);
template void Fields::required(const std::string&, int&);
template void Fields::required(const std::string&, double&);
template void Fields::required(const std::string&, std::string&);

}  // namespace automl::experiments
