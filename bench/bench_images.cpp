// Decoded, augmented images/s of the image-folder reader (trials/data_image.h) against
// torchvision's ImageFolder + DataLoader on the same files, printed side by side in one run: the
// training pipeline of both (random resized crop, horizontal flip, [0, 1] scaling, ImageNet
// normalisation) over ROOT/train, batch by batch as a training loop receives them, every
// epoch decoding every file again (no cache). bench/images_torchvision.py is the Python side;
// bench/make_images.py writes a tree of photo-like 500x375 JPEGs to read.
//
// The machine may be shared: the two run in turns, `--rounds` times, each round reporting the best
// of its epochs, and the ratio is that of the medians over the rounds.
//
//   bench_images ROOT [--size 224] [--batch 64] [--workers 2] [--epochs 3] [--rounds 3]
//                     [--no-torchvision]
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "trials/data.h"
#include "trials/random.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string root;
  int size = 224, batch = 64, workers = 2, epochs = 3, rounds = 3;
  bool torchvision = true;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + key);
      return std::atoi(argv[++i]);
    };
    if (key == "--size")
      a.size = value();
    else if (key == "--batch")
      a.batch = value();
    else if (key == "--workers")
      a.workers = value();
    else if (key == "--epochs")
      a.epochs = value();
    else if (key == "--rounds")
      a.rounds = value();
    else if (key == "--no-torchvision")
      a.torchvision = false;
    else if (a.root.empty() && key.rfind("--", 0) != 0)
      a.root = key;
    else
      throw std::runtime_error("unknown option " + key);
  }
  if (a.root.empty()) throw std::runtime_error("usage: bench_images ROOT [--size 224] ...");
  return a;
}

// Images/s of each epoch over the training split, as the trial loop draws it.
std::vector<double> ours(const Args& a, bool cache, std::int64_t& images) {
  automl::trials::DataConfig config;
  config.format = "image_folder";
  config.path = a.root;
  config.image_size = a.size;
  config.normalize = true;
  config.augment = true;
  config.cache = cache ? "true" : "false";
  config.workers = a.workers;
  const auto splits = automl::trials::load_splits(config, 0);
  images = splits.train.size();
  std::vector<double> rates;
  double checksum = 0;
  for (int epoch = 1; epoch <= a.epochs; ++epoch) {
    const auto start = Clock::now();
    automl::trials::StreamOptions options;
    options.batch_size = a.batch;
    options.augment = true;
    options.seed = static_cast<std::uint64_t>(epoch);
    const auto batches = splits.train.stream(
        automl::trials::seeded_permutation(splits.train.size(), static_cast<std::uint64_t>(epoch)),
        options);
    torch::Tensor inputs, targets;
    std::int64_t n = 0;
    while (batches->next(inputs, targets)) {
      n += inputs.size(0);
      checksum += inputs.select(2, 0).select(2, 0).sum().item<double>();  // touch the batch
    }
    rates.push_back(static_cast<double>(n) /
                    std::chrono::duration<double>(Clock::now() - start).count());
  }
  if (checksum == 1234.5) std::puts("");  // keeps the reads
  return rates;
}

std::string torchvision_line(const Args& a) {
  const auto command = fmt::format(
      "/usr/bin/python3 {}/images_torchvision.py '{}' --workers {} --size {} --batch {} "
      "--epochs {} 2>&1",
      AUTOML_BENCH_DIR, a.root, a.workers, a.size, a.batch, a.epochs);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "torchvision: cannot start /usr/bin/python3";
  std::string output;
  char buffer[4096];
  while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  pclose(pipe);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

double best(const std::vector<double>& rates) {
  return *std::max_element(rates.begin(), rates.end());
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string listed(const std::vector<double>& rates) {
  std::vector<std::string> parts;
  for (const double r : rates) parts.push_back(fmt::format("{:.1f}", r));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    torch::set_num_threads(1);  // the decoding threads do the work; torch only sums checksums
    std::vector<double> ours_best, theirs_best;
    std::int64_t images = 0;
    for (int round = 1; round <= a.rounds; ++round) {
      if (a.torchvision) {
        const auto python = torchvision_line(a);
        fmt::print("round {}: {}\n", round, python);
        double theirs = 0;
        if (std::sscanf(python.c_str(), "torchvision %lf", &theirs) == 1)
          theirs_best.push_back(theirs);
      }
      const auto rates = ours(a, /*cache=*/false, images);
      ours_best.push_back(best(rates));
      fmt::print(
          "round {}: automl      {:.1f} images/s (epochs: {}; {} images, {} workers, batch "
          "{}, size {})\n",
          round, best(rates), listed(rates), images, a.workers, a.batch, a.size);
      std::fflush(stdout);
    }
    fmt::print(
        "\nimages/s, median of {} rounds (best epoch of {} each), decoding every file "
        "every epoch:\n",
        a.rounds, a.epochs);
    fmt::print("  automl      {:.1f}\n", median(ours_best));
    if (!theirs_best.empty()) {
      fmt::print("  torchvision {:.1f}  (ImageFolder + DataLoader, {} workers)\n",
                 median(theirs_best), a.workers);
      fmt::print("  ratio       {:.2f}x\n", median(ours_best) / median(theirs_best));
    }
    const auto cached = ours(a, /*cache=*/true, images);
    fmt::print("  automl, decoded once and cached in memory: {:.1f} (epochs: {})\n", best(cached),
               listed(cached));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_images: {}\n", e.what());
    return 1;
  }
}
