// `automl mi` and `automl mi-curve`: KSG mutual information between two CSV tables, or (for
// mi-curve) between the images and labels of an IDX data set such as Fashion-MNIST.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "common/error.h"
#include "engine/cli/commands.h"
#include "mi/mi.h"
#include "trials/data.h"

namespace automl::cli {
namespace {

struct MiArgs {
  std::string x, y;
  int k = 3;
  std::string estimator = "ksg";
  std::string device = "cpu";
  std::uint64_t seed = 0;
  int threads = 0;
  bool no_jitter = false;
  bool labels = false;
  std::vector<std::int64_t> sizes{100, 200, 500, 1000};
  int repeats = 5;
  std::string data;  // mi-curve: an IDX data set directory instead of --x/--y
};

struct Loaded {
  at::Tensor x, y;
  mi::Table ty;
};

Loaded load_pair(const MiArgs& a) {
  const mi::Table tx = mi::read_csv_table(a.x);
  mi::Table ty = mi::read_csv_table(a.y);
  if (tx.rows != ty.rows)
    throw InputError(a.y, fmt::format("has {} data rows but {} has {}; the tables must pair up row "
                                      "by row",
                                      ty.rows, a.x, tx.rows));
  if (tx.rows <= a.k)
    throw InputError(
        a.x, fmt::format("has {} data rows; the estimator needs more than k = {}", tx.rows, a.k));
  return {mi::table_tensor(tx), mi::table_tensor(ty), std::move(ty)};
}

// Y as integer class labels: one column of whole numbers >= 0.
at::Tensor labels_of(const mi::Table& t, const std::string& path) {
  if (t.cols != 1)
    throw InputError(path,
                     fmt::format("has {} columns; class labels must be a single column", t.cols));
  at::Tensor l = at::empty({t.rows}, at::TensorOptions().dtype(at::kLong));
  for (std::int64_t r = 0; r < t.rows; ++r) {
    const double v = t.values[r];
    if (v != std::floor(v) || v < 0 || v > 1e9)
      throw InputError(path, fmt::format("data row {}: '{}' is not a class label (a whole number "
                                         ">= 0)",
                                         r + 1, v));
    l.data_ptr<std::int64_t>()[r] = static_cast<std::int64_t>(v);
  }
  return l;
}

mi::KsgOptions options_of(const MiArgs& a) {
  mi::KsgOptions o;
  o.k = a.k;
  o.seed = a.seed;
  o.threads = a.threads;
  o.jitter = !a.no_jitter;
  return o;
}

at::Tensor on_device(const at::Tensor& t, const std::string& device) {
  if (device != "cuda") return t;
  if (!mi::cuda_available())
    throw InputError("--device cuda",
                     "this build or machine has no usable CUDA device; use "
                     "--device cpu");
  return t.to(at::Device(at::kCUDA, 0));
}

// X = the flattened training images of an IDX data set in [0, 1], Y = its one-hot labels: the
// I(X;Y) of the paper's Figure 1.
std::pair<at::Tensor, at::Tensor> load_idx_pair(const std::string& directory) {
  const auto train = trials::load_idx_dataset(directory).train;
  return {train.inputs.flatten(1).to(at::kDouble), mi::one_hot(train.targets, train.num_classes)};
}

void add_common(CLI::App* cmd, MiArgs& a, bool tables_required = true) {
  auto* x = cmd->add_option("--x", a.x, "CSV table of X (rows = samples; a header row is allowed)");
  auto* y = cmd->add_option("--y", a.y, "CSV table of Y, same number of rows");
  if (tables_required) {
    x->required();
    y->required();
  }
  cmd->add_option("--k", a.k, "Neighbours (KSG k)")->check(CLI::Range(1, 1000));
  cmd->add_option("--seed", a.seed, "Seed of the 1e-10 jitter");
  cmd->add_option("--threads", a.threads, "CPU threads (0 = all cores)")
      ->check(CLI::Range(0, 4096));
  cmd->add_flag("--no-jitter", a.no_jitter, "Do not add the 1e-10 jitter (SPEC.md 1 adds it)");
}

}  // namespace

void add_mi_commands(CLI::App& app) {
  auto a = std::make_shared<MiArgs>();
  auto* mi_cmd = app.add_subcommand(
      "mi",
      "Estimate I(X;Y) in nats between two CSV tables (KSG estimator 1, max-norm); the "
      "last line printed is the value");
  add_common(mi_cmd, *a);
  mi_cmd
      ->add_option("--estimator", a->estimator,
                   "ksg (X, Y continuous) or ksg_cd (Y = one column of class labels)")
      ->check(CLI::IsMember({"ksg", "ksg_cd"}));
  mi_cmd->add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  mi_cmd->callback([a] {
    const Loaded d = load_pair(*a);
    const mi::KsgOptions o = options_of(*a);
    double value = 0;
    if (a->estimator == "ksg_cd") {
      if (a->device == "cuda")
        throw InputError("--device cuda", "ksg_cd runs on the CPU only; use --device cpu");
      value = mi::ksg_cd(d.x, labels_of(d.ty, a->y), o);
    } else {
      value = mi::ksg(on_device(d.x, a->device), on_device(d.y, a->device), o);
    }
    std::cout << fmt::format("# {} rows, dX = {}, dY = {}, estimator {}, k = {}, device {}\n",
                             d.x.size(0), d.x.size(1), d.y.size(1), a->estimator, a->k, a->device);
    std::cout << fmt::format("{:.10g}\n", value);
  });

  auto c = std::make_shared<MiArgs>();
  auto* curve = app.add_subcommand(
      "mi-curve",
      "MI-vs-sample-size curve (paper Fig. 1): mean and sd of I(X;Y) over random "
      "subsets, as CSV");
  add_common(curve, *c, /*tables_required=*/false);
  curve->add_option("--data", c->data,
                    "IDX data set directory (e.g. /usr/share/datasets/fashion-mnist): X = its "
                    "training images, Y = their one-hot labels; instead of --x/--y");
  curve->add_option("--n", c->sizes, "Subset sizes, comma-separated")->delimiter(',');
  curve->add_option("--repeats", c->repeats, "Subsets per size")->check(CLI::Range(1, 100000));
  curve->add_flag("--labels", c->labels,
                  "Y is one column of class labels: one-hot encode it (as the engine does)");
  curve->add_option("--device", c->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  curve->callback([c] {
    at::Tensor x, y;
    if (!c->data.empty()) {
      if (!c->x.empty() || !c->y.empty())
        throw InputError("--data", "give either --data or --x and --y, not both");
      std::tie(x, y) = load_idx_pair(c->data);
    } else {
      if (c->x.empty() || c->y.empty())
        throw InputError("mi-curve", "needs --x and --y (CSV tables) or --data (an IDX data set)");
      const Loaded d = load_pair(*c);
      x = d.x;
      y = d.y;
      if (c->labels) {
        const at::Tensor l = labels_of(d.ty, c->y);
        y = mi::one_hot(l, l.max().item<std::int64_t>() + 1);
      }
    }
    for (auto n : c->sizes)
      if (n <= c->k || n > x.size(0))
        throw InputError("--n", fmt::format("size {} must be more than k = {} and at most the "
                                            "{} rows of the data",
                                            n, c->k, x.size(0)));
    const auto points = mi::mi_curve(on_device(x, c->device), on_device(y, c->device), c->sizes,
                                     c->repeats, c->seed, options_of(*c));
    std::cout << "n,mean_nats,sd_nats,repeats\n";
    for (const auto& p : points)
      std::cout << fmt::format("{},{:.10g},{:.10g},{}\n", p.n, p.mean, p.sd, p.values.size());
  });
}

}  // namespace automl::cli
