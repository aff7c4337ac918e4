// The IDX reader against files written here in the IDX format.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "common/error.h"
#include "test_support.h"
#include "trials/data.h"
#include "trials/idx.h"

using automl::InputError;
using automl::test::idx_bytes;
using automl::test::TempDir;
using automl::test::write_bytes;
using automl::test::write_gzip;
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
    automl::test::write_gzip(dir.file(split + "-labels-idx1-ubyte.gz"), idx_bytes({2}, {1, 0}));
  }
  const auto splits = automl::trials::load_idx_dataset(dir.path().string());
  REQUIRE(splits.train.inputs.sizes() == torch::IntArrayRef({2, 1, 2, 2}));
  CHECK(splits.train.inputs[0][0][0][1].item<float>() == Approx(1.0));
  CHECK(splits.train.inputs[0][0][1][0].item<float>() == Approx(0.2));
  CHECK(splits.train.targets[0].item<std::int64_t>() == 1);
  CHECK(splits.train.num_classes == 2);
  CHECK(splits.test.num_classes == 2);

  SECTION("label count mismatch names both files") {
    automl::test::write_gzip(dir.file("t10k-labels-idx1-ubyte.gz"), idx_bytes({3}, {1, 2, 3}));
    CHECK_THROWS_WITH(automl::trials::load_idx_dataset(dir.path().string()),
                      Catch::Contains("3 labels for 2 images"));
  }
}

namespace {

std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A data set of 2x2 images with the given labels in each split (images all 0).
std::string labelled_dir(const TempDir& dir, const std::vector<std::uint8_t>& train,
                         const std::vector<std::uint8_t>& test) {
  for (const auto& [split, labels] : {std::pair{"train", train}, std::pair{"t10k", test}}) {
    const auto n = static_cast<std::uint32_t>(labels.size());
    write_gzip(dir.file(std::string(split) + "-images-idx3-ubyte.gz"),
               idx_bytes({n, 2, 2}, std::vector<std::uint8_t>(n * 4, 0)));
    write_gzip(dir.file(std::string(split) + "-labels-idx1-ubyte.gz"), idx_bytes({n}, labels));
  }
  return dir.path().string();
}

}  // namespace

TEST_CASE("IDX header sizes are checked against the file before anything is allocated",
          "[data][idx]") {
  TempDir dir;
  // 2^31 x 28 x 28 bytes announced (1.7 TB), 8 bytes present.
  const auto bytes = idx_bytes({2147483648u, 28, 28}, {1, 2, 3, 4, 5, 6, 7, 8});
  write_bytes(dir.file("huge-idx3-ubyte"), bytes);
  write_gzip(dir.file("huge-idx3-ubyte.gz"), bytes);
  CHECK_THROWS_WITH(read_idx(dir.file("huge-idx3-ubyte")),
                    Catch::Contains("huge-idx3-ubyte") && Catch::Contains("truncated") &&
                        Catch::Contains("8 of 1683627180032 bytes") &&
                        Catch::Contains("2147483648 x 28 x 28"));
  CHECK_THROWS_WITH(
      read_idx(dir.file("huge-idx3-ubyte.gz")),
      Catch::Contains("huge-idx3-ubyte.gz") && Catch::Contains("2147483648 x 28 x 28"));
  CHECK_THROWS_AS(read_idx(dir.file("huge-idx3-ubyte.gz")), InputError);

  // Four maximal sizes: a product no 64-bit count holds.
  write_bytes(dir.file("overflow"),
              idx_bytes({4294967295u, 4294967295u, 4294967295u, 4294967295u}, {}));
  CHECK_THROWS_WITH(read_idx(dir.file("overflow")),
                    Catch::Contains("overflow") && Catch::Contains("corrupt header"));

  SECTION("a gzip file with bytes after the data") {
    auto longer = idx_bytes({2, 2}, {1, 2, 3, 4});
    longer.push_back(5);
    write_gzip(dir.file("long.gz"), longer);
    CHECK_THROWS_WITH(read_idx(dir.file("long.gz")),
                      Catch::Contains("long.gz") && Catch::Contains("trailing bytes"));
  }
}

TEST_CASE("A gzip IDX file of several members reads whole", "[data][idx]") {
  // `cat a.gz b.gz` is a valid gzip file; its trailer records only the last member's size.
  TempDir dir;
  const auto bytes = idx_bytes({3, 2}, {10, 20, 30, 40, 50, 60});
  const std::vector<std::uint8_t> head(bytes.begin(), bytes.begin() + 9),
      tail(bytes.begin() + 9, bytes.end());
  write_gzip(dir.file("a.gz"), head);
  write_gzip(dir.file("b.gz"), tail);
  auto joined = file_bytes(dir.file("a.gz"));
  const auto second = file_bytes(dir.file("b.gz"));
  joined.insert(joined.end(), second.begin(), second.end());
  write_bytes(dir.file("joined-idx2-ubyte.gz"), joined);
  const auto t = read_idx(dir.file("joined-idx2-ubyte.gz"));
  REQUIRE(t.sizes() == torch::IntArrayRef({3, 2}));
  CHECK(t[0][0].item<int>() == 10);
  CHECK(t[2][1].item<int>() == 60);
}

TEST_CASE("The IDX header alone, without LibTorch", "[data][idx]") {
  TempDir dir;
  write_gzip(dir.file("x-labels-idx1-ubyte.gz"), idx_bytes({7}, {0, 1, 2, 3, 4, 5, 6}));
  CHECK(automl::trials::find_idx_file(dir.path().string(), "x-labels-idx1-ubyte") ==
        dir.file("x-labels-idx1-ubyte.gz"));
  CHECK(automl::trials::find_idx_file(dir.path().string(), "absent").empty());
  const auto header = automl::trials::read_idx_header(dir.file("x-labels-idx1-ubyte.gz"));
  CHECK(header.shape == std::vector<std::int64_t>{7});
  CHECK(header.bytes() == 4 + 4 + 7);
}

TEST_CASE("IDX labels must be the training set's classes 0..C-1", "[data][idx]") {
  using Catch::Contains;
  TempDir dir;
  SECTION("a stray label in the training file") {
    // Without the check, label 200 would make a 201-class network.
    const auto path = labelled_dir(dir, {0, 1, 200, 1, 0}, {0, 1});
    CHECK_THROWS_WITH(automl::trials::load_idx_dataset(path),
                      Contains("train-labels-idx1-ubyte.gz") && Contains("label 200 (sample 2)") &&
                          Contains("class 2 has none"));
  }
  SECTION("a test label that is no training class") {
    const auto path = labelled_dir(dir, {0, 1, 2, 1}, {0, 3, 1});
    CHECK_THROWS_WITH(automl::trials::load_idx_dataset(path),
                      Contains("t10k-labels-idx1-ubyte.gz") && Contains("label 3 (sample 1)") &&
                          Contains("3 classes (0..2)"));
  }
  SECTION("the classes of the training file set the network's outputs") {
    const auto splits = automl::trials::load_idx_dataset(labelled_dir(dir, {2, 0, 1, 2}, {1}));
    CHECK(splits.train.num_classes == 3);
    CHECK(splits.test.num_classes == 3);
  }
}
