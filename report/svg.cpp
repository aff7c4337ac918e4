#include "report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace automl::report {
namespace {

constexpr int kLeft = 64, kRight = 170, kTop = 34, kBottom = 46;

bool usable(double v, bool log) {
  return std::isfinite(v) && (!log || v > 0);
}

// One axis: data range to pixels, linear or log10.
class Axis {
 public:
  Axis(double low, double high, bool log, double pixel_low, double pixel_high)
      : log_(log), pixel_low_(pixel_low), pixel_high_(pixel_high) {
    low_ = transform(low);
    high_ = transform(high);
    if (!(high_ > low_)) {  // a single value: widen around it
      const double pad = low_ == 0 ? 1 : std::abs(low_) * 0.1;
      low_ -= pad;
      high_ += pad;
    }
  }
  double pixel(double v) const {
    return pixel_low_ + (transform(v) - low_) / (high_ - low_) * (pixel_high_ - pixel_low_);
  }
  double low() const { return inverse(low_); }
  double high() const { return inverse(high_); }

 private:
  double transform(double v) const { return log_ ? std::log10(v) : v; }
  double inverse(double v) const { return log_ ? std::pow(10.0, v) : v; }
  bool log_;
  double low_ = 0, high_ = 1, pixel_low_, pixel_high_;
};

std::string tick_label(double v, bool log) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (log && (a < 1e-3 || a >= 1e4)) return fmt::format("{:.0e}", v);
  if (a >= 1e5 || a < 1e-4) return fmt::format("{:.1e}", v);
  return fmt::format("{:g}", v);
}

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void add(double v) {
    low = std::min(low, v);
    high = std::max(high, v);
  }
  bool valid() const { return low <= high; }
};

std::string polyline(const std::vector<std::pair<double, double>>& points, const Series& s) {
  std::string path;
  for (const auto& [x, y] : points) path += fmt::format("{:.1f},{:.1f} ", x, y);
  return fmt::format(
      "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} points=\"{}\"/>\n", s.color,
      s.width, s.dashed ? " stroke-dasharray=\"6 4\"" : "", path);
}

}  // namespace

std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string palette(std::size_t i) {
  static const char* const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colors[i % std::size(colors)];
}

std::vector<double> axis_ticks(double low, double high, bool log) {
  std::vector<double> ticks;
  if (!(high >= low)) return ticks;
  if (log) {
    const int first = static_cast<int>(std::floor(std::log10(low) + 1e-9));
    const int last = static_cast<int>(std::ceil(std::log10(high) - 1e-9));
    const bool short_range = last - first <= 2;
    for (int e = first; e <= last; ++e)
      for (double m : short_range ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
        const double v = m * std::pow(10.0, e);
        if (v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9)) ticks.push_back(v);
      }
    return ticks;
  }
  const double span = high - low > 0 ? high - low : std::max(1.0, std::abs(low));
  const double raw = span / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * magnitude * 1.0000001) {
      step = m * magnitude;
      break;
    }
  // Multiples of the step by integer index: no drift from repeated addition.
  const auto first = static_cast<long long>(std::ceil(low / step - 1e-9));
  const auto last = static_cast<long long>(std::floor(high / step + 1e-9));
  for (long long k = first; k <= last; ++k) ticks.push_back(static_cast<double>(k) * step);
  return ticks;
}

Chart& Chart::add(Series series) {
  if (series.color.empty()) series.color = palette(series_.size());
  series_.push_back(std::move(series));
  return *this;
}

Chart& Chart::mark(VerticalMark mark) {
  marks_.push_back(std::move(mark));
  return *this;
}

Chart& Chart::band(Band band) {
  bands_.push_back(std::move(band));
  return *this;
}

std::string Chart::svg(int width, int height) const {
  Range xr, yr;
  for (const auto& s : series_)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], log_x_) || !usable(s.y[i], log_y_)) continue;
      xr.add(s.x[i]);
      const double e = i < s.error.size() ? s.error[i] : 0;
      yr.add(s.y[i] - e);
      yr.add(s.y[i] + e);
    }
  for (const auto& m : marks_)
    if (usable(m.x, log_x_)) xr.add(m.x);
  for (const auto& b : bands_)
    if (usable(b.x0, log_x_) && usable(b.x1, log_x_)) {
      xr.add(b.x0);
      xr.add(b.x1);
    }
  if (y_low_) yr.add(*y_low_);
  if (y_high_) yr.add(*y_high_);
  if (log_y_ && yr.valid() && yr.low <= 0) yr.low = yr.high / 10;

  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{0}\" height=\"{1}\" "
      "fill=\"white\"/>\n<text x=\"{2}\" y=\"18\" font-size=\"13\" "
      "font-weight=\"bold\">{3}</text>\n",
      width, height, kLeft, escape_xml(title_));
  if (!xr.valid() || !yr.valid())
    return out + fmt::format("<text x=\"{}\" y=\"{}\">no data</text>\n</svg>\n", kLeft, height / 2);

  const double left = kLeft, right = width - kRight, top = kTop, bottom = height - kBottom;
  const Axis x(xr.low, xr.high, log_x_, left, right);
  const Axis y(yr.low, yr.high, log_y_, bottom, top);

  for (const auto& b : bands_) {
    if (!usable(b.x0, log_x_) || !usable(b.x1, log_x_)) continue;
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#ffd54f\" "
        "fill-opacity=\"0.25\"/>\n<text x=\"{:.1f}\" y=\"{}\" fill=\"#8d6e00\">{}</text>\n",
        x.pixel(b.x0), top, x.pixel(b.x1) - x.pixel(b.x0), bottom - top, x.pixel(b.x0) + 3,
        top + 12, escape_xml(b.label));
  }
  // Grid, ticks and axis labels.
  for (double t : axis_ticks(x.low(), x.high(), log_x_)) {
    const double px = x.pixel(t);
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>\n"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
        px, top, bottom, bottom + 14, tick_label(t, log_x_));
  }
  for (double t : axis_ticks(y.low(), y.high(), log_y_)) {
    const double py = y.pixel(t);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#e5e5e5\"/>\n"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        left, py, right, left - 5, py + 4, tick_label(t, log_y_));
  }
  out += fmt::format(
      "<rect x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" fill=\"none\" stroke=\"#333\"/>\n"
      "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\">{6}</text>\n"
      "<text transform=\"translate(14,{7}) rotate(-90)\" text-anchor=\"middle\">{8}</text>\n",
      left, top, right - left, bottom - top, (left + right) / 2, height - 10, escape_xml(x_label_),
      (top + bottom) / 2, escape_xml(y_label_));

  for (const auto& m : marks_) {
    if (!usable(m.x, log_x_)) continue;
    const double px = x.pixel(m.x);
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"{3}\" "
        "stroke-dasharray=\"3 3\"/>\n<text x=\"{4:.1f}\" y=\"{5}\" fill=\"{3}\">{6}</text>\n",
        px, top, bottom, m.color, px + 3, bottom - 6, escape_xml(m.label));
  }

  // Series, then the legend on the right.
  int legend_y = static_cast<int>(top) + 6;
  for (const auto& s : series_) {
    std::vector<std::pair<double, double>> points;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], log_x_) || !usable(s.y[i], log_y_)) continue;
      const double px = x.pixel(s.x[i]), py = y.pixel(s.y[i]);
      points.emplace_back(px, py);
      if (i < s.error.size() && s.error[i] > 0)
        out += fmt::format(
            "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\"/>\n",
            px, y.pixel(s.y[i] - s.error[i]), y.pixel(s.y[i] + s.error[i]), s.color);
    }
    if (s.line && points.size() > 1) out += polyline(points, s);
    if (s.markers || points.size() == 1)
      for (const auto& [px, py] : points)
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px, py,
                           s.color);
    if (s.name.empty()) continue;
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"3\"{4}/>\n"
        "<text x=\"{5}\" y=\"{6}\">{7}</text>\n",
        right + 10, legend_y, right + 30, s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "",
        right + 35, legend_y + 4, escape_xml(s.name));
    legend_y += 16;
  }
  return out + "</svg>\n";
}

}  // namespace automl::report
