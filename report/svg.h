#pragma once
// A small SVG line-chart writer for the HTML report: axes with readable ticks (linear or log),
// series as lines and/or markers, vertical marks and shaded x-ranges, a legend. No JavaScript,
// no external resources: the output is an inline <svg> element.
#include <optional>
#include <string>
#include <vector>

namespace automl::report {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> error;  // optional +- bars, same length as y
  std::string color;          // empty: the next palette colour
  double width = 1.8;
  bool dashed = false;
  bool line = true;
  bool markers = false;
};

struct VerticalMark {
  double x = 0;
  std::string label;
  std::string color = "#555";
};

struct Band {
  double x0 = 0, x1 = 0;
  std::string label;
};

class Chart {
 public:
  Chart(std::string title, std::string x_label, std::string y_label)
      : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

  Chart& log_x(bool on = true) {
    log_x_ = on;
    return *this;
  }
  Chart& log_y(bool on = true) {
    log_y_ = on;
    return *this;
  }
  Chart& y_range(double low, double high) {
    y_low_ = low;
    y_high_ = high;
    return *this;
  }
  Chart& add(Series series);
  Chart& mark(VerticalMark mark);
  Chart& band(Band band);

  bool empty() const { return series_.empty(); }
  // The chart as an <svg> element of the given size in pixels.
  std::string svg(int width = 560, int height = 340) const;

 private:
  std::string title_, x_label_, y_label_;
  bool log_x_ = false, log_y_ = false;
  std::optional<double> y_low_, y_high_;
  std::vector<Series> series_;
  std::vector<VerticalMark> marks_;
  std::vector<Band> bands_;
};

// Tick positions for [low, high]: 1-2-5 steps on a linear axis, decades (and 2, 5 within a
// decade when the range is short) on a log axis.
std::vector<double> axis_ticks(double low, double high, bool log);

// Escapes &, <, >, " for HTML/SVG text.
std::string escape_xml(const std::string& text);

// The palette colour for index i (cycles).
std::string palette(std::size_t i);

}  // namespace automl::report
