#include "experiments/yaml_fields.h"

#include <fmt/format.h>

#include <cstdint>

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

int line_of(const YAML::Node& node) {
  return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}

}  // namespace

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
      // yaml-cpp would truncate "1.5" to 1 for an integer: read as double and check instead.
      const double d = value.as<double>();
      if (d != static_cast<double>(static_cast<std::int64_t>(d))) throw YAML::Exception({}, "");
      if (std::is_unsigned_v<T> && d < 0) throw YAML::Exception({}, "");
    }
    out = value.as<T>();
  } catch (const YAML::Exception&) {
    throw InputError(where(key),
                     fmt::format("expected {}, got '{}'", type_name<T>(), shown(value)));
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

void Fields::numbers(const std::string& key, std::map<std::string, double>& out) {
  Fields options = child(key);
  if (!options.node_.IsMap()) return;
  for (const auto& item : options.node_) {
    const auto name = item.first.as<std::string>();
    double value = 0;
    options.optional(name, value);
    out[name] = value;
  }
}

void Fields::reject_unknown() const {
  if (!node_ || !node_.IsMap()) return;
  const std::vector<std::string> known(asked_.begin(), asked_.end());
  for (const auto& item : node_) {
    const auto key = item.first.as<std::string>();
    if (asked_.count(key)) continue;
    const auto hint = nearest(key, known);
    throw InputError(location(file_, line_of(item.first)) + ": " + full(key),
                     "unknown key" + (hint.empty() ? std::string()
                                                   : fmt::format(" (did you mean '{}'?)", hint)));
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
