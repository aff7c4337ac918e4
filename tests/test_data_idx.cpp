// The IDX reader against files written here in the IDX format.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "common/error.h"
#include "test_support.h"
#include "trials/data.h"

using automl::InputError;
using automl::test::idx_bytes;
using automl::test::TempDir;
using automl::trials::read_idx;

TEST_CASE("IDX reader reads the stored shape and bytes, plain and gzip", "[data][idx]") {
  TempDir dir;
  const std::vector<std::uint8_t> pixels = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
  const auto bytes = idx_bytes({2, 2, 3}, pixels);
  automl::test::write_bytes(dir.file("plain-idx3-ubyte"), bytes);
  automl::test::write_gzip(dir.file("packed-idx3-ubyte.gz"), bytes);

  for (const auto& name : {"plain-idx3-ubyte", "packed-idx3-ubyte.gz"}) {
    const auto t = read_idx(dir.file(name));
    REQUIRE(t.sizes() == torch::IntArrayRef({2, 2, 3}));
    CHECK(t[0][0][1].item<int>() == 1);
    CHECK(t[1][0][0].item<int>() == 250);
    CHECK(t[1][1][2].item<int>() == 255);
  }
}

TEST_CASE("IDX reader rejects truncated files, wrong magic and trailing bytes", "[data][idx]") {
  TempDir dir;
  auto bytes = idx_bytes({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});

  SECTION("truncated data") {
    bytes.resize(bytes.size() - 3);
    automl::test::write_gzip(dir.file("t.gz"), bytes);
    CHECK_THROWS_WITH(read_idx(dir.file("t.gz")), Catch::Contains("t.gz") &&
                                                      Catch::Contains("truncated") &&
                                                      Catch::Contains("5 of 8 bytes"));
  }
  SECTION("truncated header") {
    bytes.resize(6);
    automl::test::write_bytes(dir.file("h"), bytes);
    CHECK_THROWS_WITH(read_idx(dir.file("h")), Catch::Contains("truncated"));
  }
  SECTION("wrong magic") {
    bytes[2] = 0x0D;  // float elements: not what an image file holds
    automl::test::write_bytes(dir.file("m"), bytes);
    CHECK_THROWS_WITH(read_idx(dir.file("m")), Catch::Contains("wrong magic 00000d03"));
  }
  SECTION("trailing bytes") {
    bytes.push_back(9);
    automl::test::write_bytes(dir.file("x"), bytes);
    CHECK_THROWS_WITH(read_idx(dir.file("x")), Catch::Contains("trailing"));
  }
  SECTION("missing file") {
    CHECK_THROWS_AS(read_idx(dir.file("absent")), InputError);
  }
}

TEST_CASE("An IDX data set directory loads as [0,1] images with labels", "[data][idx]") {
  TempDir dir;
  const std::vector<std::uint8_t> images = {0, 255, 51, 102, /* second */ 255, 0, 0, 0};
  for (const std::string split : {"train", "t10k"}) {
    automl::test::write_gzip(dir.file(split + "-images-idx3-ubyte.gz"),
                             idx_bytes({2, 2, 2}, images));
    automl::test::write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"), idx_bytes({2}, {3, 1}));
  }
  const auto splits = automl::trials::load_idx_dataset(dir.path().string());
  REQUIRE(splits.train.inputs.sizes() == torch::IntArrayRef({2, 1, 2, 2}));
  CHECK(splits.train.inputs[0][0][0][1].item<float>() == Approx(1.0));
  CHECK(splits.train.inputs[0][0][1][0].item<float>() == Approx(0.2));
  CHECK(splits.train.targets[0].item<std::int64_t>() == 3);
  CHECK(splits.train.num_classes == 4);

  SECTION("label count mismatch names both files") {
    automl::test::write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), idx_bytes({3}, {1, 2, 3}));
    CHECK_THROWS_WITH(automl::trials::load_idx_dataset(dir.path().string()),
                      Catch::Contains("3 labels for 2 images"));
  }
}
