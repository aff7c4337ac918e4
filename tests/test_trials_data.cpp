// CIFAR and CSV readers on files written here in the real formats, their errors, splits,
// normalisation fit on the training split, and crop+flip augmentation.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cmath>

#include "common/error.h"
#include "test_support.h"
#include "trials/data.h"

using automl::test::TempDir;
using automl::trials::DataConfig;

namespace {

// One CIFAR record: label byte(s), then 1024 R, 1024 G, 1024 B bytes. Pixel (c, y, x) of image
// `seed` holds (seed * 7 + c * 50 + y + x) mod 256, so every value can be checked by hand.
void append_record(std::vector<std::uint8_t>& bytes, std::vector<std::uint8_t> labels, int seed) {
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        bytes.push_back(static_cast<std::uint8_t>((seed * 7 + c * 50 + y + x) % 256));
}

double pixel(int seed, int c, int y, int x) {
  return ((seed * 7 + c * 50 + y + x) % 256) / 255.0;
}

}  // namespace

TEST_CASE("CIFAR-10 binary files load as [0,1] RGB planes with labels", "[trials][data][cifar]") {
  TempDir dir;
  int seed = 0;
  for (const std::string name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                 "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}) {
    std::vector<std::uint8_t> bytes;
    for (int r = 0; r < 2; ++r, ++seed)
      append_record(bytes, {static_cast<std::uint8_t>(seed % 10)}, seed);
    automl::test::write_bytes(dir.file(name), bytes);
  }
  const auto splits = automl::trials::load_cifar10(dir.path().string());
  REQUIRE(splits.train.inputs.sizes() == torch::IntArrayRef({10, 3, 32, 32}));
  REQUIRE(splits.test.size() == 2);
  CHECK(splits.train.num_classes == 10);
  CHECK(splits.train.targets[3].item<std::int64_t>() == 3);
  CHECK(splits.test.targets[1].item<std::int64_t>() == 1);  // record 11: label 11 % 10
  CHECK(splits.train.inputs[3][0][0][0].item<float>() == Approx(pixel(3, 0, 0, 0)));
  CHECK(splits.train.inputs[3][2][5][7].item<float>() == Approx(pixel(3, 2, 5, 7)));  // blue plane
  CHECK(splits.test.inputs[0][1][31][30].item<float>() == Approx(pixel(10, 1, 31, 30)));

  SECTION("a missing batch file is named") {
    std::filesystem::remove(dir.file("data_batch_4.bin"));
    CHECK_THROWS_WITH(automl::trials::load_cifar10(dir.path().string()),
                      Catch::Contains("data_batch_4.bin"));
  }
}

TEST_CASE("CIFAR-100 uses the fine label (second byte)", "[trials][data][cifar]") {
  TempDir dir;
  std::vector<std::uint8_t> train, test;
  append_record(train, {3, 87}, 1);
  append_record(train, {19, 99}, 2);
  append_record(test, {0, 42}, 3);
  automl::test::write_bytes(dir.file("train.bin"), train);
  automl::test::write_bytes(dir.file("test.bin"), test);
  const auto splits = automl::trials::load_cifar100(dir.path().string());
  CHECK(splits.train.num_classes == 100);
  CHECK(splits.train.targets[0].item<std::int64_t>() == 87);
  CHECK(splits.train.targets[1].item<std::int64_t>() == 99);
  CHECK(splits.test.targets[0].item<std::int64_t>() == 42);
  CHECK(splits.train.inputs[1][1][2][3].item<float>() == Approx(pixel(2, 1, 2, 3)));
}

TEST_CASE("CIFAR reader errors name the file and what is wrong", "[trials][data][cifar]") {
  TempDir dir;
  std::vector<std::uint8_t> bytes;
  append_record(bytes, {1}, 0);
  SECTION("truncated record") {
    bytes.pop_back();
    automl::test::write_bytes(dir.file("t.bin"), bytes);
    CHECK_THROWS_WITH(
        automl::trials::read_cifar_file(dir.file("t.bin"), 1, 10),
        Catch::Contains("t.bin") && Catch::Contains("3072 bytes") && Catch::Contains("3073-byte"));
  }
  SECTION("label out of range") {
    append_record(bytes, {10}, 1);
    automl::test::write_bytes(dir.file("l.bin"), bytes);
    CHECK_THROWS_WITH(
        automl::trials::read_cifar_file(dir.file("l.bin"), 1, 10),
        Catch::Contains("l.bin") && Catch::Contains("record 1") && Catch::Contains("label 10"));
  }
}

TEST_CASE("CSV tables: columns by name, standardisation fit on the training split only",
          "[trials][data][csv]") {
  TempDir dir;
  // 10 rows: x = i, noise = 5 (constant), y = 2 i + 1.
  std::string text = "x,noise,y\n";
  for (int i = 0; i < 10; ++i) text += fmt::format("{},5,{}\n", i, 2 * i + 1);
  automl::test::write_text(dir.file("t.csv"), text);
  DataConfig config;
  config.format = "csv";
  config.path = dir.file("t.csv");
  config.feature_columns = {"x", "noise"};
  config.target_columns = {"y"};
  config.test_fraction = 0.3;
  const auto splits = automl::trials::load_splits(config, 1);
  REQUIRE(splits.train.size() == 7);
  REQUIRE(splits.test.size() == 3);
  CHECK_FALSE(splits.train.is_classification());
  CHECK(splits.train.targets.sizes() == torch::IntArrayRef({7, 1}));

  // Undo the standardisation by hand: the train split's own mean and (population) std.
  const auto& offset = splits.train.target_offset;
  const auto& scale = splits.train.target_scale;
  REQUIRE(offset.size() == 1);
  const auto train_y = splits.train.targets.flatten() * scale[0] + offset[0];
  double mean = train_y.mean().item<double>(), var = 0;
  for (int i = 0; i < 7; ++i) var += std::pow(train_y[i].item<double>() - mean, 2) / 7;
  CHECK(offset[0] == Approx(mean));
  CHECK(scale[0] == Approx(std::sqrt(var)));
  CHECK(splits.train.inputs.select(1, 0).mean().item<double>() == Approx(0).margin(1e-6));
  CHECK(splits.train.inputs.select(1, 0).pow(2).mean().item<double>() == Approx(1).epsilon(1e-5));
  CHECK(splits.train.inputs.select(1, 1).abs().max().item<double>() == 0);  // constant -> 0
  // Test rows use the training statistics: undone with them, the targets are the odd integers
  // 2i + 1 of the file (the test split's own statistics would give other numbers).
  for (int r = 0; r < 3; ++r) {
    const double y = splits.test.targets[r][0].item<double>() * scale[0] + offset[0];
    const long whole = std::lround(y);
    CHECK(std::abs(y - static_cast<double>(whole)) < 1e-4);
    CHECK(whole % 2 == 1);
  }

  SECTION("an unknown column names the file, the field and the columns") {
    config.target_columns = {"temp"};
    CHECK_THROWS_WITH(automl::trials::load_splits(config, 1),
                      Catch::Contains("t.csv:1") && Catch::Contains("data.targets") &&
                          Catch::Contains("'temp'") && Catch::Contains("x, noise, y"));
  }
  SECTION("a bad cell names file, line and column") {
    automl::test::write_text(dir.file("t.csv"), "x,y\n1,2\n3,oops\n");
    CHECK_THROWS_WITH(automl::trials::load_splits(config, 1),
                      Catch::Contains("t.csv:3") && Catch::Contains("'y'"));
  }
  SECTION("same seed, same split; another seed, another split") {
    const auto again = automl::trials::load_splits(config, 1);
    CHECK(torch::equal(again.test.targets, splits.test.targets));
    const auto other = automl::trials::load_splits(config, 2);
    CHECK_FALSE(torch::equal(other.test.targets, splits.test.targets));
  }
}

TEST_CASE("Image splits: validation by seed, per-channel normalisation fit on train",
          "[trials][data]") {
  TempDir dir;
  std::vector<std::uint8_t> images, labels;
  for (int i = 0; i < 20; ++i) {
    for (int p = 0; p < 4; ++p) images.push_back(static_cast<std::uint8_t>(i * 10 + p));
    labels.push_back(static_cast<std::uint8_t>(i % 2));
  }
  for (const std::string split : {"train", "t10k"}) {
    automl::test::write_gzip(dir.file(split + "-images-idx3-ubyte.gz"),
                             automl::test::idx_bytes({20, 2, 2}, images));
    automl::test::write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"),
                             automl::test::idx_bytes({20}, labels));
  }
  DataConfig config;
  config.path = dir.path().string();
  config.validation_fraction = 0.25;
  config.train_subset = 16;
  config.normalize = true;
  const auto splits = automl::trials::load_splits(config, 3);
  CHECK(splits.validation.size() == 4);
  CHECK(splits.train.size() == 12);
  CHECK(splits.test.size() == 20);
  // Train: mean 0, std 1 over its own pixels; the test split uses the train statistics, so its
  // mean is (test mean - train mean) / train std, computed here from the raw bytes.
  CHECK(splits.train.inputs.mean().item<double>() == Approx(0).margin(1e-5));
  CHECK(splits.train.inputs.std(false).item<double>() == Approx(1).epsilon(1e-4));
  const auto raw = torch::tensor(std::vector<double>(images.begin(), images.end())) / 255.0;
  const double test_mean = raw.mean().item<double>();
  // Recover the train statistics from two test pixels (a linear map a*x + b).
  const double x0 = images[0] / 255.0, x1 = images[1] / 255.0;
  const double z0 = splits.test.inputs[0][0][0][0].item<double>();
  const double z1 = splits.test.inputs[0][0][0][1].item<double>();
  const double a = (z1 - z0) / (x1 - x0), b = z0 - a * x0;
  CHECK(splits.test.inputs.mean().item<double>() == Approx(a * test_mean + b).margin(1e-5));
  CHECK(a > 0);
}

TEST_CASE("Augmentation: every image is a padded crop, flipped or not, drawn by seed",
          "[trials][data][augment]") {
  // Distinct values so that a crop offset and flip can be recognised.
  const auto images = torch::arange(2 * 1 * 6 * 6, torch::kFloat32).add_(1).reshape({2, 1, 6, 6});
  const auto padded = torch::constant_pad_nd(images, {2, 2, 2, 2}, 0);
  torch::manual_seed(5);
  const auto out = automl::trials::augment_batch(images, 2);
  torch::manual_seed(5);
  CHECK(torch::equal(out, automl::trials::augment_batch(images, 2)));
  REQUIRE(out.sizes() == images.sizes());

  int flipped = 0, shifted = 0;
  torch::manual_seed(11);
  for (int draw = 0; draw < 20; ++draw) {
    const auto batch = automl::trials::augment_batch(images, 2);
    for (int i = 0; i < 2; ++i) {
      bool matched = false;
      for (int dy = 0; dy <= 4 && !matched; ++dy)
        for (int dx = 0; dx <= 4 && !matched; ++dx) {
          const auto crop = padded[i].slice(1, dy, dy + 6).slice(2, dx, dx + 6);
          if (torch::equal(batch[i], crop)) {
            matched = true;
            shifted += (dy != 2 || dx != 2);
          } else if (torch::equal(batch[i], crop.flip({2}))) {
            matched = true;
            ++flipped;
          }
        }
      CHECK(matched);
    }
  }
  CHECK(flipped > 5);
  CHECK(shifted > 5);
}
