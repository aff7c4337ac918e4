// Image folders (data.format: image_folder) against files a real encoder wrote at test time
// (PIL, from Debian's python3-pil, run by /usr/bin/python3): pixels as PIL decodes them, the
// transforms as torchvision computes them, the folder order as torchvision's ImageFolder lists
// it; then crops seeded and independent of the thread count, corrupt and empty folders named,
// and the ImageNet experiment file running on such a tree.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/error.h"
#include "experiments/experiment.h"
#include "test_support.h"
#include "trials/data.h"
#include "trials/data_image.h"
#include "trials/image_codec.h"
#include "trials/image_transform.h"
#include "trials/trial.h"

using automl::test::TempDir;
using namespace automl::trials;  // NOLINT(google-build-using-namespace): the module under test
using Catch::Contains;

namespace {

// Runs `body` with /usr/bin/python3 after importing numpy and PIL, with `d` the directory
// (ending in '/'), `rng` a seeded generator and raw(array, name) writing an array's bytes.
void python_writes(const TempDir& dir, const std::string& body) {
  automl::test::run_python(
      "import os\nimport numpy as np\nfrom PIL import Image\n"
      "d = '" +
      dir.path().string() +
      "/'\nrng = np.random.default_rng(0)\n"
      "def raw(a, name):\n"
      "    open(d + name, 'wb').write(np.ascontiguousarray(a).tobytes())\n"
      "def smooth(h, w, c):\n"  // photo-like: JPEG's artefacts stay small
      "    y, x = np.mgrid[0:h, 0:w]\n"
      "    planes = [127 + 60 * np.sin(x / (5 + k) + k) * np.cos(y / (7 + 2 * k))"
      " + rng.normal(0, 8, (h, w)) for k in range(c)]\n"
      "    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8).squeeze()\n" +
      body);
}

using automl::test::read_raw;

// The largest |a - b| over two equally long byte arrays (-1 when the lengths differ).
int max_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  if (a.size() != b.size()) return -1;
  int worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

Image decode(const std::string& path, int channels, int min_short_side = 0) {
  DecodeRequest request;
  request.channels = channels;
  request.min_short_side = min_short_side;
  return decode_image_file(path, request);
}

// An ImageFolder tree of `files`, "split/class/name.ext" (64x48 smooth pictures; PIL picks JPEG
// or PNG by the extension).
void write_tree(const TempDir& dir, const std::vector<std::string>& files) {
  std::string list;
  for (const auto& f : files) list += "'" + f + "', ";
  python_writes(dir, "for f in [" + list +
                         "]:\n"
                         "    os.makedirs(os.path.dirname(d + f), exist_ok=True)\n"
                         "    Image.fromarray(smooth(48, 64, 3)).save(d + f, quality=90)\n");
}

// Three classes of four pictures each (JPEG and PNG) in train/, two of each in val/.
std::vector<std::string> small_tree() {
  std::vector<std::string> files;
  for (const std::string c : {"cat", "dog", "emu"}) {
    for (int i = 0; i < 4; ++i)
      files.push_back("train/" + c + "/" + std::to_string(i) + (i % 2 ? ".png" : ".JPEG"));
    for (int i = 0; i < 2; ++i) files.push_back("val/" + c + "/" + std::to_string(i) + ".jpg");
  }
  return files;
}

DataConfig folder_config(const TempDir& dir) {
  DataConfig c;
  c.format = "image_folder";
  c.path = dir.path().string();
  c.image_size = 16;
  c.augment = true;
  return c;
}

// Every sample of `d` (its own order), through its source's stream.
torch::Tensor all_inputs(const Dataset& d, bool augment, std::uint64_t seed,
                         std::int64_t batch = 5) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(d.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  StreamOptions options;
  options.batch_size = batch;
  options.augment = augment;
  options.seed = seed;
  auto stream = d.stream(order, options);
  std::vector<torch::Tensor> parts;
  torch::Tensor inputs, targets;
  while (stream->next(inputs, targets)) parts.push_back(inputs);
  return torch::cat(parts);
}

using automl::test::error_of;

}  // namespace

TEST_CASE("PNG files decode to exactly the pixels PIL reads", "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  python_writes(dir, R"(
rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
Image.fromarray(rgb).save(d + 'rgb.png')
Image.fromarray(rgb[:, :, 1]).save(d + 'gray.png')
Image.fromarray(rgba, 'RGBA').save(d + 'rgba.png')
Image.fromarray(rgba[:, :, :2], 'LA').save(d + 'la.png')
Image.fromarray(rgb).quantize(16).save(d + 'palette.png')
for name in ['rgb', 'gray', 'rgba', 'la', 'palette']:
    im = Image.open(d + name + '.png')
    raw(np.array(im.convert('RGB')), name + '.rgb')
    raw(np.array(im.convert('L')), name + '.l')
)");
  for (const std::string name : {"rgb", "gray", "rgba", "la", "palette"}) {
    INFO(name);
    const auto path = dir.file(name + ".png");
    const auto rgb = decode(path, 3), gray = decode(path, 1);
    CHECK(rgb.width == 30);
    CHECK(rgb.height == 20);
    CHECK(rgb.channels == 3);
    CHECK(gray.channels == 1);
    CHECK(max_difference(rgb.pixels, read_raw<std::uint8_t>(dir.file(name + ".rgb"))) == 0);
    CHECK(max_difference(gray.pixels, read_raw<std::uint8_t>(dir.file(name + ".l"))) == 0);
  }
}

TEST_CASE("JPEG files decode as PIL decodes them (RGB and gray and CMYK)", "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  python_writes(dir, R"(
rgb = smooth(48, 64, 3)
Image.fromarray(rgb).save(d + 'rgb.jpg', quality=90)
Image.fromarray(rgb[:, :, 0]).save(d + 'gray.jpg', quality=90)
Image.fromarray(smooth(48, 64, 4), 'CMYK').save(d + 'cmyk.jpg', quality=95)
for name in ['rgb', 'gray', 'cmyk']:
    im = Image.open(d + name + '.jpg')
    raw(np.array(im.convert('RGB')), name + '.rgb')
    raw(np.array(im.convert('L')), name + '.l')
)");
  for (const std::string name : {"rgb", "gray", "cmyk"}) {
    INFO(name);
    const auto path = dir.file(name + ".jpg");
    const auto rgb = decode(path, 3), gray = decode(path, 1);
    REQUIRE(rgb.width == 64);
    REQUIRE(rgb.height == 48);
    // The same libjpeg-turbo IDCT and upsampling as PIL's: the same pixels, give or take one
    // level where PIL's build differs.
    CHECK(max_difference(rgb.pixels, read_raw<std::uint8_t>(dir.file(name + ".rgb"))) <= 1);
    // Luma: the JPEG's Y plane here, PIL's weighted sum of the decoded RGB there.
    const int luma_tolerance = name == "rgb" ? 2 : 1;
    CHECK(max_difference(gray.pixels, read_raw<std::uint8_t>(dir.file(name + ".l"))) <=
          luma_tolerance);
  }
}

TEST_CASE("A large JPEG decodes at a reduced DCT scale as PIL's draft mode does", "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  python_writes(dir, R"(
Image.fromarray(smooth(384, 512, 3)).save(d + 'big.jpg', quality=90)
im = Image.open(d + 'big.jpg')
im.draft('RGB', (128, 96))
raw(np.array(im.convert('RGB')), 'big.quarter')
)");
  const auto quarter = decode(dir.file("big.jpg"), 3, /*min_short_side=*/96);
  CHECK(quarter.width == 128);  // 1/4: the smallest scale with a shorter side >= 96
  CHECK(quarter.height == 96);
  CHECK(max_difference(quarter.pixels, read_raw<std::uint8_t>(dir.file("big.quarter"))) <= 1);
  const auto full = decode(dir.file("big.jpg"), 3, /*min_short_side=*/0);
  CHECK(full.width == 512);
  const auto half = decode(dir.file("big.jpg"), 3, /*min_short_side=*/97);
  CHECK(half.width == 256 * 3 / 4);  // 3/8 is the next scale up from 1/4: 192 x 144
  CHECK(half.height == 144);
}

TEST_CASE("Resize with centre crop and resized crops match torchvision's on PIL images",
          "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  python_writes(dir, R"(
import torchvision.transforms as T
import torchvision.transforms.functional as F
Image.fromarray(smooth(48, 64, 3)).save(d + 'wide.png')
Image.fromarray(smooth(70, 45, 3)).save(d + 'tall.png')
for name in ['wide', 'tall']:
    im = Image.open(d + name + '.png')
    raw(T.Compose([T.Resize(37), T.CenterCrop(32), T.ToTensor()])(im).numpy(), name + '.eval')
im = Image.open(d + 'wide.png')
raw(F.to_tensor(F.hflip(F.resized_crop(im, 5, 7, 30, 40, [32, 32]))).numpy(), 'wide.crop')
raw(F.to_tensor(F.resized_crop(im, 0, 0, 48, 64, [16, 16])).numpy(), 'wide.small')
raw(F.to_tensor(F.resized_crop(im, 10, 20, 12, 9, [32, 32])).numpy(), 'wide.up')
)");
  const float mean[3] = {0, 0, 0}, inv_std[3] = {1, 1, 1};
  const auto compare = [&](const Image& image, const Placement& placement,
                           const std::string& truth) {
    std::vector<float> out(static_cast<std::size_t>(3 * placement.size * placement.size));
    render(image, placement, mean, inv_std, out.data());
    const auto expected = read_raw<float>(dir.file(truth));
    REQUIRE(expected.size() == out.size());
    double worst = 0, total = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const double d = std::abs(out[i] * 255.0 - expected[i] * 255.0);
      worst = std::max(worst, d);
      total += d;
    }
    INFO(truth << ": worst " << worst << ", mean " << total / out.size() << " levels");
    // PIL rounds to 8 bits after each pass, here the passes stay in float: one level at most.
    CHECK(worst <= 1.01);
    CHECK(total / out.size() < 0.35);
  };
  const auto wide = decode(dir.file("wide.png"), 3), tall = decode(dir.file("tall.png"), 3);
  CHECK(eval_resize(32) == 37);
  CHECK(eval_resize(224) == 256);
  compare(wide, eval_placement(64, 48, 32, 37), "wide.eval");
  compare(tall, eval_placement(45, 70, 32, 37), "tall.eval");
  compare(wide, crop_placement({5, 7, 30, 40}, 32, /*flip=*/true), "wide.crop");
  compare(wide, crop_placement({0, 0, 48, 64}, 16, false), "wide.small");
  compare(wide, crop_placement({10, 20, 12, 9}, 32, false), "wide.up");
}

TEST_CASE("Random resized crops follow torchvision's rule and their seed", "[images]") {
  const int width = 500, height = 375;
  double smallest = 1, largest = 0, area_sum = 0;
  int flips = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    SampleRandom random(7, static_cast<std::uint64_t>(i));
    const auto box = random_resized_crop_box(width, height, random);
    REQUIRE(box.top >= 0);
    REQUIRE(box.left >= 0);
    REQUIRE(box.top + box.height <= height);
    REQUIRE(box.left + box.width <= width);
    const double area = static_cast<double>(box.width) * box.height / (width * height);
    const double ratio = static_cast<double>(box.width) / box.height;
    CHECK(ratio >= 0.74);  // 3/4 .. 4/3, up to the rounding of the sides
    CHECK(ratio <= 1.35);
    smallest = std::min(smallest, area);
    largest = std::max(largest, area);
    area_sum += area;
    SampleRandom again(7, static_cast<std::uint64_t>(i));
    flips += train_placement(width, height, 32, again).flip;
  }
  CHECK(smallest == Approx(0.08).margin(0.005));
  CHECK(largest <= 1.0);
  CHECK(largest > 0.9);
  // Accepted draws lean to smaller areas (large ones fail the bounds more often): torchvision's
  // own get_params averages 0.433 of a 500x375 picture (20000 draws, torchvision 0.14).
  CHECK(area_sum / n == Approx(0.433).margin(0.015));
  CHECK(flips == Approx(n / 2).margin(n / 50));
  // The same (seed, sample) gives the same crop; another seed another.
  SampleRandom a(1, 3), b(1, 3), c(2, 3);
  const auto box_a = random_resized_crop_box(width, height, a);
  const auto box_b = random_resized_crop_box(width, height, b);
  const auto box_c = random_resized_crop_box(width, height, c);
  CHECK((box_a.top == box_b.top && box_a.left == box_b.left && box_a.width == box_b.width));
  CHECK_FALSE((box_a.top == box_c.top && box_a.left == box_c.left && box_a.width == box_c.width));
  // A strip too thin for any try: torchvision's fallback, the centre at the widest ratio.
  SampleRandom d(1, 1);
  const auto strip = random_resized_crop_box(1000, 10, d);
  CHECK(strip.height == 10);
  CHECK(strip.width == 13);
  CHECK(strip.left == (1000 - 13) / 2);
}

TEST_CASE("An image folder lists classes and files as torchvision's ImageFolder", "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  // Unsorted names, nested folders, upper-case extensions, a text file and a class missing
  // from val: the order and the labels are torchvision's.
  write_tree(dir, {"train/b/2.png", "train/b/10.jpg", "train/a/z.JPEG", "train/a/sub/x.png",
                   "train/a/A.jpeg", "train/c10/k.jpg", "train/c9/k.jpg", "val/c9/v.png",
                   "val/a/v1.jpg", "val/a/v0.jpg"});
  automl::test::write_text(dir.file("train/a/notes.txt"), "not an image");
  python_writes(dir, R"(
from torchvision.datasets import ImageFolder
train, val = ImageFolder(d + 'train'), ImageFolder(d + 'val')
with open(d + 'truth.txt', 'w') as out:
    out.write(' '.join(train.classes) + '\n')
    for p, k in train.samples:
        out.write(f'train {p} {k}\n')
    for p, k in val.samples:
        out.write(f'val {p} {train.class_to_idx[val.classes[k]]}\n')
)");
  std::ifstream truth(dir.file("truth.txt"));
  std::string classes_line;
  std::getline(truth, classes_line);
  const auto index = scan_image_folder(dir.path().string());
  std::string classes;
  for (const auto& c : index.classes) classes += (classes.empty() ? "" : " ") + c;
  CHECK(classes == classes_line);  // a b c10 c9
  std::string expected, listed;
  for (std::string line; std::getline(truth, line);) expected += line + "\n";
  for (const auto& f : index.train)
    listed += "train " + f.path + " " + std::to_string(f.label) + "\n";
  for (const auto& f : index.test) listed += "val " + f.path + " " + std::to_string(f.label) + "\n";
  CHECK(listed == expected);

  DataConfig config = folder_config(dir);
  const auto splits = load_splits(config, 1);
  CHECK(splits.train.num_classes == 4);
  CHECK(splits.train.size() == 7);
  CHECK(splits.test.size() == 3);
  CHECK(splits.train.is_image());
  CHECK(splits.train.sample_shape() == std::vector<std::int64_t>{3, 16, 16});
  CHECK(torch::equal(splits.test.targets, torch::tensor({0, 0, 3}, torch::kInt64)));
}

TEST_CASE("Image batches are seeded and do not depend on threads or the cache", "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  write_tree(dir, small_tree());
  auto config = folder_config(dir);
  config.cache = "false";
  config.workers = 1;
  const auto one_thread = load_splits(config, 1);
  config.workers = 3;
  const auto three_threads = load_splits(config, 1);
  config.cache = "true";
  const auto cached = load_splits(config, 1);
  REQUIRE(one_thread.train.size() == 12);
  CHECK_FALSE(
      std::dynamic_pointer_cast<const ImageFolderSource>(one_thread.train.source)->cached());
  CHECK(std::dynamic_pointer_cast<const ImageFolderSource>(cached.train.source)->cached());

  const auto reference = all_inputs(one_thread.train, true, 42);
  CHECK(reference.sizes() == torch::IntArrayRef({12, 3, 16, 16}));
  CHECK(torch::equal(reference, all_inputs(three_threads.train, true, 42)));
  CHECK(torch::equal(reference, all_inputs(cached.train, true, 42, /*batch=*/4)));
  CHECK_FALSE(torch::equal(reference, all_inputs(one_thread.train, true, 43)));
  // Evaluation is not random, and gather_inputs makes the same samples.
  const auto eval = all_inputs(one_thread.test, false, 1);
  CHECK(torch::equal(eval, all_inputs(cached.test, false, 2)));
  CHECK(torch::equal(eval.slice(0, 1, 3),
                     cached.test.gather_inputs(torch::tensor({1, 2}, torch::kInt64))));
  CHECK(eval.min().item<float>() >= 0);  // not normalised: [0, 1]
  CHECK(eval.max().item<float>() <= 1);

  // normalize: (x - mean) / std with ImageNet's statistics by default.
  config.normalize = true;
  const auto normalised = all_inputs(load_splits(config, 1).test, false, 1);
  const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  const auto stddev = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  CHECK(torch::allclose(normalised, (eval - mean) / stddev, 1e-5, 1e-5));
  // One channel: luma.
  config.channels = 1;
  config.normalize = false;
  CHECK(all_inputs(load_splits(config, 1).test, false, 1).size(1) == 1);

  // Subsets and the validation split are drawn by seed as for every format.
  config.channels = 3;
  config.train_subset = 9;
  config.validation_fraction = 0.34;
  const auto drawn = load_splits(config, 5);
  CHECK(drawn.validation.size() == 3);
  CHECK(drawn.train.size() == 6);
  CHECK(torch::equal(drawn.train.source_ids, load_splits(config, 5).train.source_ids));
}

TEST_CASE("A corrupt image file is named or else skipped and counted", "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  write_tree(dir, small_tree());
  // A JPEG cut in half, and random bytes under a PNG name.
  const auto good = automl::trials::read_file_bytes(dir.file("train/cat/0.JPEG"));
  automl::test::write_bytes(dir.file("train/cat/0b.jpg"),
                            {good.begin(), good.begin() + static_cast<long>(good.size() / 2)});
  automl::test::write_bytes(dir.file("train/dog/junk.png"), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto truncated = dir.file("train/cat/0b.jpg"), junk = dir.file("train/dog/junk.png");
  auto config = folder_config(dir);

  // Cached (auto: a small set): every file is decoded at load; the first corrupt one is named.
  CHECK_THAT(error_of([&] { load_splits(config, 1); }),
             Contains(truncated) && Contains("corrupt JPEG data"));
  config.skip_corrupt = true;
  const auto skipped = load_splits(config, 1);
  CHECK(skipped.train.size() == 12);  // 14 files, 2 skipped
  CHECK(std::dynamic_pointer_cast<const ImageFolderSource>(skipped.train.source)->skipped() == 2);

  // Not cached: the load only lists the files; the batch that needs a corrupt one says so.
  config.cache = "false";
  config.skip_corrupt = false;
  const auto lazy = load_splits(config, 1);
  CHECK(lazy.train.size() == 14);
  CHECK_THAT(error_of([&] { all_inputs(lazy.train, true, 1); }), Contains(truncated));
  config.skip_corrupt = true;
  const auto lazy_skip = load_splits(config, 1);
  CHECK(all_inputs(lazy_skip.train, true, 1).size(0) == 12);  // dropped from their batches
  const auto* source = dynamic_cast<const ImageFolderSource*>(lazy_skip.train.source.get());
  CHECK(source->skipped() == 2);
  CHECK_THAT(error_of([&] { decode_image_file(junk, {}); }),
             Contains(junk) && Contains("neither a JPEG nor a PNG"));
}

TEST_CASE("Empty class folders and splits without images are errors naming the folder",
          "[images]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  write_tree(dir, {"train/a/1.jpg", "val/a/1.jpg"});
  const auto root = dir.path().string();
  std::filesystem::create_directories(dir.file("train/b"));
  automl::test::write_text(dir.file("train/b/readme.txt"), "no pictures here");
  CHECK_THAT(error_of([&] { scan_image_folder(root); }),
             Contains(dir.file("train/b")) && Contains("empty class folder"));
  std::filesystem::remove_all(dir.file("train/b"));
  std::filesystem::create_directories(dir.file("val/zebra"));
  automl::test::write_text(dir.file("val/zebra/z.jpg"), "");
  CHECK_THAT(error_of([&] { scan_image_folder(root); }),
             Contains(dir.file("val/zebra")) && Contains("not a class of"));
  std::filesystem::remove_all(dir.file("val"));
  CHECK_THAT(error_of([&] { scan_image_folder(root); }),
             Contains(dir.file("val")) && Contains("no such folder"));
  std::filesystem::create_directories(dir.file("val"));
  CHECK_THAT(error_of([&] { scan_image_folder(root); }),
             Contains(dir.file("val")) && Contains("holds no class folders"));
  CHECK_THAT(error_of([&] { scan_image_folder(dir.file("nowhere")); }),
             Contains(dir.file("nowhere")) && Contains("train/<class>/"));
}

TEST_CASE("experiments/imagenet-resnet50.yaml loads and trains on an image folder",
          "[images][experiments]") {
  AUTOML_SKIP_WITHOUT(automl::test::python_torchvision());
  TempDir dir;
  write_tree(dir, small_tree());
  // The experiment file as shipped, with its data path pointed at the tree.
  std::ifstream in(std::string(AUTOML_SOURCE_DIR) + "/experiments/imagenet-resnet50.yaml");
  std::stringstream text;
  text << in.rdbuf();
  const std::string shipped = text.str(), path_line = "path: data/imagenet";
  const auto at = shipped.find(path_line);
  REQUIRE(at != std::string::npos);
  const auto yaml = shipped.substr(0, at) + "path: " + dir.path().string() +
                    shipped.substr(at + path_line.size());
  const auto e = automl::experiments::parse_experiment(yaml, "imagenet-resnet50.yaml");
  CHECK(e.trial.data.format == "image_folder");
  CHECK(e.trial.data.augment);
  CHECK(e.trial.data.normalize);
  CHECK(e.trial.model.name == "resnet50");
  // One short epoch of its trial on the CPU: ResNet-50 on 32x32 crops of the 12 pictures.
  auto trial = e.trial;
  trial.device = "cpu";
  trial.epochs = 1;
  trial.batch_size = 6;
  trial.data.image_size = 32;
  trial.mi.samples = 12;
  trial.policy.name = "constant";
  trial.optimizer.lr = 0.01;
  std::vector<EpochRecord> records;
  const auto summary = run_trial(trial, [&](const EpochRecord& r) { records.push_back(r); });
  CHECK(summary.status == automl::TrialStatus::done);
  REQUIRE(records.size() == 2);  // epoch 0 (MI before training) and epoch 1
  CHECK(std::isfinite(records[1].train_loss));
  CHECK(records[1].test_accuracy >= 0);
  CHECK(std::isfinite(records[1].ity));
}

TEST_CASE("The image_folder keys are checked at load with file and line", "[images][experiments]") {
  automl::experiments::LoadOptions no_data;
  no_data.check_data = false;
  const auto error = [&](const std::string& data) {
    return error_of([&] {
      automl::experiments::parse_experiment("name: a\ndata:\n" + data, "x.yaml", no_data);
    });
  };
  const std::string folder = "  format: image_folder\n  path: /srv/images\n";
  const auto e = automl::experiments::parse_experiment(
      "name: a\ndata:\n" + folder +
          "  channels: 1\n  image_size: 64\n  cache: true\n  skip_corrupt: true\n  workers: 3\n"
          "  normalize: true\n  mean: [0.5]\n  std: [0.25]\n",
      "x.yaml", no_data);
  CHECK(e.trial.data.channels == 1);
  CHECK(e.trial.data.image_size == 64);
  CHECK(e.trial.data.cache == "true");
  CHECK(e.trial.data.skip_corrupt);
  CHECK(e.trial.data.workers == 3);
  CHECK(e.trial.data.normalize_mean == std::vector<double>{0.5});
  CHECK_THAT(error(folder + "  cache: sometimes\n"),
             Contains("x.yaml:5: data.cache") && Contains("'sometimes' is not one of: auto"));
  CHECK_THAT(error(folder + "  channels: 4\n"),
             Contains("x.yaml:5: data.channels") && Contains("expected 1 or 3"));
  CHECK_THAT(error(folder + "  image_size: 4\n"), Contains("x.yaml:5: data.image_size"));
  CHECK_THAT(error(folder + "  mean: [0.5]\n"),
             Contains("x.yaml:5: data.mean") && Contains("1 values for 3 channel(s)"));
  CHECK_THAT(error(folder + "  std: [0.2, 0, 0.2]\n"), Contains("x.yaml:5: data.std"));
  CHECK_THAT(error("  format: idx\n  image_size: 32\n"),
             Contains("x.yaml:4: data.image_size") && Contains("only an image_folder"));
}
