#pragma once
// The standard ImageNet preprocessing, as torchvision does it on PIL images: for training a
// random resized crop (scale 0.08-1 of the area, aspect ratio 3/4-4/3) and a horizontal flip with
// probability 1/2; for evaluation a resize of the shorter side followed by a centre crop. Pixels
// are resampled as PIL's antialiased bilinear filter does (a triangle filter widened by the
// downscaling factor), then scaled to [0, 1] and normalised. Free of LibTorch.
#include <cstdint>

#include "trials/image_codec.h"

namespace automl::trials {

// The randomness of one sample's transform: SplitMix64, identical on every platform, seeded per
// (pass, sample) so that a sample's crop does not depend on which thread makes it or when.
class SampleRandom {
 public:
  SampleRandom(std::uint64_t seed, std::uint64_t sample);
  std::uint64_t next();
  double uniform(double low, double high);  // [low, high)
  std::int64_t below(std::int64_t n);       // [0, n), n >= 1
 private:
  std::uint64_t state_;
};

// A box of the source image: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params (scale (0.08, 1), ratio (3/4, 4/3)): up to ten tries
// at a random area and log-uniform aspect ratio, else the centre crop clamped to that ratio.
CropBox random_resized_crop_box(int width, int height, SampleRandom& random);

// How one axis of the output maps onto the source: output pixel i samples around source
// coordinate start + (i + 0.5) * scale, using source pixels in [low, high) only.
struct AxisMap {
  double start = 0, scale = 1;
  int low = 0, high = 0;
};

struct Placement {
  int size = 0;  // the output is size x size
  AxisMap x, y;
  bool flip = false;  // mirror the output left to right
};

// torchvision's resized_crop(box, size): crop, then resize the crop to size x size.
Placement crop_placement(const CropBox& box, int size, bool flip);
// Training: a random resized crop and a flip with probability 1/2, drawn from `random`.
Placement train_placement(int width, int height, int size, SampleRandom& random);
// Evaluation: Resize(resize) of the shorter side, then CenterCrop(size), as torchvision's.
Placement eval_placement(int width, int height, int size, int resize);
// The resize before the centre crop for `size`: round(size * 256 / 224), torchvision's
// 256-for-224 ratio.
int eval_resize(int size);

// Writes the placed image as image.channels planes of size x size floats (channel-major),
// each (value / 255 - mean[c]) * inv_std[c].
void render(const Image& image, const Placement& placement, const float* mean, const float* inv_std,
            float* out);

}  // namespace automl::trials
