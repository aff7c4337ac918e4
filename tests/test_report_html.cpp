// The HTML report renders: headless Chromium takes a screenshot of it, and the PNG (decoded here
// with zlib) must show plots, not a blank page. Skipped where Chromium is absent.
#include <fmt/format.h>
#include <zlib.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <stdexcept>

#include "report/report.h"
#include "test_support.h"

namespace {

using automl::report::ExperimentSummary;

struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // 3 bytes per pixel
};

std::uint32_t big_endian(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
}

// A minimal PNG decoder: 8-bit RGB or RGBA, not interlaced (what Chromium writes).
Image decode_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 8 || bytes[1] != 'P' || bytes[2] != 'N' || bytes[3] != 'G')
    throw std::runtime_error("not a PNG");
  Image image;
  int channels = 0;
  std::vector<std::uint8_t> compressed;
  for (std::size_t at = 8; at + 12 <= bytes.size();) {
    const std::uint32_t length = big_endian(&bytes[at]);
    const std::string type(bytes.begin() + at + 4, bytes.begin() + at + 8);
    const std::uint8_t* data = &bytes[at + 8];
    if (type == "IHDR") {
      image.width = big_endian(data);
      image.height = big_endian(data + 4);
      if (data[8] != 8 || (data[9] != 2 && data[9] != 6) || data[12] != 0)
        throw std::runtime_error("unsupported PNG layout");
      channels = data[9] == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed.insert(compressed.end(), data, data + length);
    }
    at += 12 + length;
  }
  const std::size_t stride = image.width * channels;
  std::vector<std::uint8_t> raw(image.height * (stride + 1));
  uLongf size = raw.size();
  if (uncompress(raw.data(), &size, compressed.data(), compressed.size()) != Z_OK ||
      size != raw.size())
    throw std::runtime_error("bad PNG data");
  std::vector<std::uint8_t> previous(stride, 0), row(stride);
  for (std::uint32_t y = 0; y < image.height; ++y) {
    const std::uint8_t filter = raw[y * (stride + 1)];
    const std::uint8_t* line = &raw[y * (stride + 1) + 1];
    for (std::size_t i = 0; i < stride; ++i) {
      const int a = i >= static_cast<std::size_t>(channels) ? row[i - channels] : 0;
      const int b = previous[i];
      const int c = i >= static_cast<std::size_t>(channels) ? previous[i - channels] : 0;
      const int predictor = filter == 1   ? a
                            : filter == 2 ? b
                            : filter == 3 ? (a + b) / 2
                            : filter == 4 ? paeth(a, b, c)
                                          : 0;
      row[i] = static_cast<std::uint8_t>(line[i] + predictor);
    }
    for (std::uint32_t x = 0; x < image.width; ++x)
      for (int k = 0; k < 3; ++k) image.rgb.push_back(row[x * channels + k]);
    previous = row;
  }
  return image;
}

bool screenshot(const std::string& html, const std::string& png, const std::string& profile) {
  const auto command = fmt::format(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir='{}' --screenshot='{}' --window-size=1200,900 'file://{}' > /dev/null "
      "2>&1",
      profile, png, html);
  return std::system(command.c_str()) == 0;
}

// Two methods x 3 seeds x 12 epochs, a layer-wise run and an LRRT table: every kind of plot.
ExperimentSummary sample_summary() {
  ExperimentSummary s;
  s.experiment.name = "render";
  s.experiment.status = automl::ExperimentStatus::done;
  s.milestones = {0.8};
  for (const auto method : {automl::Method::mi_sgd_layerwise, automl::Method::adam}) {
    automl::report::MethodSummary m;
    m.method = method;
    m.runs = 3;
    m.best_seed = 1;
    m.best = 0.9;
    m.tuning_seconds = method == automl::Method::adam ? 30 : 60;
    s.methods.push_back(m);
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      automl::report::Run run;
      run.method = method;
      run.seed = seed;
      run.status = automl::TrialStatus::done;
      for (int e = 1; e <= 12; ++e) {
        const double progress = 1 - std::exp(-0.4 * e) * (1 + 0.1 * static_cast<double>(seed));
        run.epochs.push_back(e);
        run.test.push_back(0.5 + 0.4 * progress);
        run.train.push_back(0.52 + 0.45 * progress);
        run.lr.push_back(0.1 * std::pow(0.8, e));
        run.seconds.push_back(5);
        if (method == automl::Method::mi_sgd_layerwise)
          for (const std::string layer : {"conv1", "conv2", "fc1", "fc2"})
            run.group_lr[layer].push_back(0.1 * std::pow(0.7 + 0.05 * layer.size(), e));
      }
      s.runs.push_back(run);
    }
  }
  for (int trial = 1; trial <= 2; ++trial)
    for (double lr : {1e-4, 1e-3, 1e-2, 1e-1, 1.0}) {
      automl::storage::LrrtRow row;
      row.trial = trial;
      row.lr = lr;
      row.crashed = lr >= 1.0;
      row.final_accuracy = 0.2 + 0.15 * std::log10(lr * 1e5) - 0.01 * trial;
      s.lrrt_table.push_back(row);
    }
  automl::storage::LrrtBoundsRow bounds;
  bounds.attribute = "train_accuracy";
  bounds.lr_min = 1e-3;
  bounds.lr_max = 0.1;
  bounds.lr_top = 0.1;
  s.lrrt_bounds.push_back(bounds);
  return s;
}

struct Ink {
  double non_white_fraction = 0;
  std::size_t colours = 0;
};

Ink ink_of(const Image& image) {
  std::size_t non_white = 0;
  std::set<std::uint32_t> colours;
  for (std::size_t p = 0; p + 2 < image.rgb.size(); p += 3) {
    const std::uint32_t rgb = (std::uint32_t{image.rgb[p]} << 16) |
                              (std::uint32_t{image.rgb[p + 1]} << 8) | image.rgb[p + 2];
    colours.insert(rgb);
    if (image.rgb[p] < 240 || image.rgb[p + 1] < 240 || image.rgb[p + 2] < 240) ++non_white;
  }
  return {static_cast<double>(non_white) / (image.rgb.size() / 3.0), colours.size()};
}

}  // namespace

TEST_CASE("The HTML report renders in headless Chromium", "[report][slow]") {
  AUTOML_SKIP_WITHOUT(automl::test::chromium());
  automl::test::TempDir dir;
  const auto page = dir.file("report.html");
  const auto blank = dir.file("blank.html");
  automl::test::write_text(page, automl::report::html_report({sample_summary()}));
  automl::test::write_text(blank, "<!DOCTYPE html><html><body></body></html>");

  REQUIRE(screenshot(page, dir.file("report.png"), dir.file("profile1")));
  REQUIRE(screenshot(blank, dir.file("blank.png"), dir.file("profile2")));
  const auto report = decode_png(dir.file("report.png"));
  const auto empty = decode_png(dir.file("blank.png"));
  CHECK(report.width == 1200);
  CHECK(report.height == 900);
  const auto report_ink = ink_of(report), blank_ink = ink_of(empty);
  INFO("report: " << report_ink.non_white_fraction << " non-white, " << report_ink.colours
                  << " colours; blank: " << blank_ink.non_white_fraction);
  CHECK(blank_ink.non_white_fraction < 0.001);  // the decoder sees a blank page as blank
  CHECK(report_ink.non_white_fraction > 0.02);  // text, axes, lines
  CHECK(report_ink.colours > 20);               // the palette's series colours and antialiasing
}
