#include "trials/image_transform.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace automl::trials {
namespace {

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Python's round() (halves to even), which torchvision's crop arithmetic uses.
int round_half_even(double v) {
  return static_cast<int>(std::nearbyint(v));
}

// PIL's resampling weights for one axis (Pillow's precompute_coeffs, bilinear filter): output
// pixel i takes source pixels [first[i], first[i] + count[i]) with weights normalised to 1.
struct Coefficients {
  std::vector<int> first, count;
  std::vector<float> weights;  // `taps` per output pixel
  int taps = 0;
};

Coefficients coefficients(const AxisMap& axis, int out_size) {
  const double filter_scale = std::max(axis.scale, 1.0);
  const double support = filter_scale;  // bilinear: support 1, widened when downscaling
  Coefficients k;
  k.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  k.first.resize(static_cast<std::size_t>(out_size));
  k.count.resize(static_cast<std::size_t>(out_size));
  k.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(k.taps), 0.0f);
  for (int i = 0; i < out_size; ++i) {
    const double center = axis.start + (i + 0.5) * axis.scale;
    const int low = std::max(static_cast<int>(std::floor(center - support + 0.5)), axis.low);
    const int high = std::min(static_cast<int>(std::floor(center + support + 0.5)), axis.high);
    const int n = std::clamp(high - low, 0, k.taps);
    float* w = k.weights.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(k.taps);
    double total = 0;
    for (int j = 0; j < n; ++j) {
      const double t = std::abs((low + j - center + 0.5) / filter_scale);
      total += t < 1 ? 1 - t : 0;
    }
    for (int j = 0; j < n; ++j) {
      const double t = std::abs((low + j - center + 0.5) / filter_scale);
      w[j] = static_cast<float>(total > 0 ? (t < 1 ? 1 - t : 0) / total : 0);
    }
    k.first[static_cast<std::size_t>(i)] = low;
    k.count[static_cast<std::size_t>(i)] = n;
  }
  return k;
}

// The two resampling passes (horizontal, then vertical, as PIL) and the final scaling, for
// C-channel pixels held as L floats each: RGB as 4 lanes, so that every tap is one vector
// multiply-add.
// One row of the horizontal pass: output pixel x from `pixels` (L floats each, starting at
// column col_low), T taps when T > 0 (zero weights past each pixel's count), else its count.
template <int L, int T>
void horizontal(const float* pixels, const Coefficients& kx, int col_low, int size, float* dst) {
  for (int x = 0; x < size; ++x) {
    const auto xs = static_cast<std::size_t>(x);
    const float* w = kx.weights.data() + xs * static_cast<std::size_t>(kx.taps);
    const float* q = pixels + static_cast<std::size_t>(kx.first[xs] - col_low) * L;
    const int n = T > 0 ? T : kx.count[xs];
    float acc[L] = {};
    for (int j = 0; j < n; ++j)
      for (int l = 0; l < L; ++l) acc[l] += w[j] * q[j * L + l];
    for (int l = 0; l < L; ++l) dst[xs * L + l] = acc[l];
  }
}

template <int C, int L>
void resample(const Image& image, const Placement& placement, const Coefficients& kx,
              const Coefficients& ky, const float* mean, const float* inv_std, float* out) {
  const int size = placement.size;
  int col_low = image.width, col_high = 0;
  for (int x = 0; x < size; ++x) {
    col_low = std::min(col_low, kx.first[static_cast<std::size_t>(x)]);
    col_high = std::max(
        col_high, kx.first[static_cast<std::size_t>(x)] + kx.count[static_cast<std::size_t>(x)]);
  }
  col_high = std::max(col_low, col_high);
  const auto stride = static_cast<std::size_t>(size) * L;
  // The horizontal pass of a source row is made when an output row first needs it, into a ring
  // of as many rows as a vertical tap reaches (the rows an output row reads are consecutive and
  // move down with it): a few kilobytes that stay in cache instead of a whole resampled picture.
  const auto ring_rows = static_cast<std::size_t>(ky.taps) + 1;
  thread_local std::vector<float> pixels, ring, line;
  thread_local std::vector<int> ring_row;
  // Zeros past the last column: fixed-length taps read there, with weight 0.
  pixels.assign(static_cast<std::size_t>(col_high - col_low + kx.taps) * L, 0.0f);
  ring.resize(ring_rows * stride);
  ring_row.assign(ring_rows, -1);
  line.resize(stride);
  const auto source_row = [&](int r) -> const float* {
    const auto slot = static_cast<std::size_t>(r) % ring_rows;
    float* dst = ring.data() + slot * stride;
    if (ring_row[slot] == r) return dst;
    ring_row[slot] = r;
    const std::uint8_t* src =
        image.pixels.data() +
        (static_cast<std::size_t>(r) * static_cast<std::size_t>(image.width) + col_low) * C;
    for (int i = 0; i < col_high - col_low; ++i)
      for (int c = 0; c < C; ++c) pixels[static_cast<std::size_t>(i) * L + c] = src[i * C + c];
    switch (kx.taps) {  // a fixed number of taps unrolls; the weights past `count` are zeros
      case 3:
        horizontal<L, 3>(pixels.data(), kx, col_low, size, dst);
        break;
      case 5:
        horizontal<L, 5>(pixels.data(), kx, col_low, size, dst);
        break;
      case 7:
        horizontal<L, 7>(pixels.data(), kx, col_low, size, dst);
        break;
      default:
        horizontal<L, 0>(pixels.data(), kx, col_low, size, dst);
    }
    return dst;
  };
  const std::size_t plane = static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  for (int y = 0; y < size; ++y) {
    const auto ys = static_cast<std::size_t>(y);
    const float* w = ky.weights.data() + ys * static_cast<std::size_t>(ky.taps);
    std::fill(line.begin(), line.end(), 0.0f);
    for (int j = 0; j < ky.count[ys]; ++j) {
      const float* src = source_row(ky.first[ys] + j);
      for (std::size_t i = 0; i < stride; ++i) line[i] += w[j] * src[i];
    }
    for (int c = 0; c < C; ++c) {
      const float scale = inv_std[c] / 255.0f, offset = -mean[c] * inv_std[c];
      float* to = out + static_cast<std::size_t>(c) * plane + ys * static_cast<std::size_t>(size);
      for (int x = 0; x < size; ++x) {
        const float v = std::clamp(line[static_cast<std::size_t>(x) * L + c], 0.0f, 255.0f);
        to[placement.flip ? size - 1 - x : x] = v * scale + offset;
      }
    }
  }
}

}  // namespace

SampleRandom::SampleRandom(std::uint64_t seed, std::uint64_t sample)
    : state_(mix(seed + 0x9e3779b97f4a7c15ULL) ^ mix(sample + 0x632be59bd9b4e019ULL)) {}

std::uint64_t SampleRandom::next() {
  return mix(state_ += 0x9e3779b97f4a7c15ULL);
}

double SampleRandom::uniform(double low, double high) {
  return low + (high - low) * static_cast<double>(next() >> 11) * 0x1.0p-53;
}

std::int64_t SampleRandom::below(std::int64_t n) {
  return static_cast<std::int64_t>(
      (static_cast<unsigned __int128>(next()) * static_cast<std::uint64_t>(n)) >> 64);
}

CropBox random_resized_crop_box(int width, int height, SampleRandom& random) {
  constexpr double kScaleLow = 0.08, kScaleHigh = 1.0, kRatioLow = 3.0 / 4, kRatioHigh = 4.0 / 3;
  const double area = static_cast<double>(width) * height;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * random.uniform(kScaleLow, kScaleHigh);
    const double ratio = std::exp(random.uniform(std::log(kRatioLow), std::log(kRatioHigh)));
    const int w = round_half_even(std::sqrt(target_area * ratio));
    const int h = round_half_even(std::sqrt(target_area / ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      CropBox box;
      box.top = static_cast<int>(random.below(height - h + 1));
      box.left = static_cast<int>(random.below(width - w + 1));
      box.height = h;
      box.width = w;
      return box;
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < kRatioLow)
    h = round_half_even(w / kRatioLow);
  else if (in_ratio > kRatioHigh)
    w = round_half_even(h * kRatioHigh);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Placement crop_placement(const CropBox& box, int size, bool flip) {
  Placement p;
  p.size = size;
  p.flip = flip;
  p.x = {static_cast<double>(box.left), static_cast<double>(box.width) / size, box.left,
         box.left + box.width};
  p.y = {static_cast<double>(box.top), static_cast<double>(box.height) / size, box.top,
         box.top + box.height};
  return p;
}

Placement train_placement(int width, int height, int size, SampleRandom& random) {
  const auto box = random_resized_crop_box(width, height, random);
  const bool flip = random.uniform(0, 1) < 0.5;
  return crop_placement(box, size, flip);
}

Placement eval_placement(int width, int height, int size, int resize) {
  // torchvision's Resize(int): the shorter side becomes `resize`, the longer int(resize * l / s).
  const bool landscape = width >= height;
  const int short_side = landscape ? height : width, long_side = landscape ? width : height;
  const int resized_long =
      static_cast<int>(static_cast<std::int64_t>(resize) * long_side / short_side);
  const int resized_w = landscape ? resized_long : resize;
  const int resized_h = landscape ? resize : resized_long;
  // CenterCrop: offsets int(round((resized - size) / 2)) into the resized picture.
  const int top = round_half_even((resized_h - size) / 2.0);
  const int left = round_half_even((resized_w - size) / 2.0);
  Placement p;
  p.size = size;
  const double scale_x = static_cast<double>(width) / resized_w;
  const double scale_y = static_cast<double>(height) / resized_h;
  p.x = {left * scale_x, scale_x, 0, width};
  p.y = {top * scale_y, scale_y, 0, height};
  return p;
}

int eval_resize(int size) {
  return round_half_even(size * 256.0 / 224.0);
}

void render(const Image& image, const Placement& placement, const float* mean, const float* inv_std,
            float* out) {
  if (placement.size < 1 || image.width < 1 || image.height < 1)
    throw std::invalid_argument("render: an empty image or placement");
  const auto kx = coefficients(placement.x, placement.size);
  const auto ky = coefficients(placement.y, placement.size);
  // Float passes: PIL rounds to 8 bits after each, which puts its result within about one level
  // of these.
  if (image.channels == 3)
    resample<3, 4>(image, placement, kx, ky, mean, inv_std, out);
  else if (image.channels == 1)
    resample<1, 1>(image, placement, kx, ky, mean, inv_std, out);
  else
    throw std::invalid_argument("render: images of 1 or 3 channels");
}

}  // namespace automl::trials
