// The model zoo: parameter counts against published figures (or hand counts), layers that cover
// every parameter, and forward passes on tiny batches.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <set>

#include "common/error.h"
#include "trials/network.h"

using automl::trials::InputShape;
using automl::trials::make_network;
using automl::trials::ModelConfig;
using automl::trials::parameter_count;

namespace {

ModelConfig model(const std::string& name, std::map<std::string, double> options = {}) {
  ModelConfig c;
  c.name = name;
  c.options = std::move(options);
  return c;
}

const InputShape kCifar{3, 32, 32, 0};

// Layers hold every trainable parameter exactly once; forward_layers reports one output per
// layer and ends with forward()'s output.
void check_layers(automl::trials::Network& net, const torch::Tensor& batch) {
  std::int64_t covered = 0;
  std::set<const void*> seen;
  for (const auto& layer : net.layers())
    for (const auto& p : layer.parameters) {
      CHECK(seen.insert(p.data_ptr()).second);
      covered += p.numel();
    }
  CHECK(covered == parameter_count(net));
  torch::NoGradGuard no_grad;
  net.eval();
  const auto outputs = net.forward_layers(batch);
  REQUIRE(outputs.size() == net.layers().size());
  CHECK(torch::allclose(outputs.back(), net.forward(batch)));
}

}  // namespace

TEST_CASE("LeNet: hand-counted parameters, layers, forward", "[trials][models]") {
  auto net = make_network(model("lenet"), {1, 28, 28, 0}, 10);
  // conv1 1*6*25+6, conv2 6*16*25+16, fc1 16*5*5*120+120, fc2 120*10+10
  CHECK(parameter_count(*net) == 156 + 2416 + 48120 + 1210);
  check_layers(*net, torch::rand({2, 1, 28, 28}));
}

TEST_CASE("All-CNN-C has 1.37M parameters", "[trials][models]") {
  auto net = make_network(model("allcnn"), kCifar, 10);
  // Springenberg et al. 2015, Table: All-CNN-C ~1.37M (hand count 1,369,738).
  CHECK(parameter_count(*net) == 1369738);
  check_layers(*net, torch::rand({2, 3, 32, 32}));
  CHECK(net->forward(torch::rand({2, 3, 32, 32})).sizes() == torch::IntArrayRef({2, 10}));
}

TEST_CASE("VGG-16 (CIFAR) has 15.0M parameters", "[trials][models]") {
  auto net = make_network(model("vgg16"), kCifar, 10);
  // Li et al. 2017 (Pruning Filters for Efficient ConvNets), Table 1: VGG-16 on CIFAR-10 1.5e7.
  CHECK(std::abs(parameter_count(*net) / 15.0e6 - 1) < 0.01);
  check_layers(*net, torch::rand({2, 3, 32, 32}));
}

TEST_CASE("WRN-28-10 has 36.5M parameters, depth and width are options", "[trials][models]") {
  auto net = make_network(model("wrn"), kCifar, 100);
  // Zagoruyko & Komodakis 2016, Table: WRN-28-10 36.5M.
  CHECK(std::abs(parameter_count(*net) / 36.5e6 - 1) < 0.01);
  // WRN-16-8: 11.0M in the same table.
  auto other = make_network(model("wrn", {{"depth", 16}, {"width", 8}}), kCifar, 100);
  CHECK(std::abs(parameter_count(*other) / 11.0e6 - 1) < 0.01);
  // WRN-10-1 is small enough to run here.
  auto small = make_network(model("wrn", {{"depth", 10}, {"width", 1}}), kCifar, 10);
  check_layers(*small, torch::rand({2, 3, 32, 32}));
  CHECK_THROWS_WITH(make_network(model("wrn", {{"depth", 27}}), kCifar, 10),
                    Catch::Contains("model.options.depth"));
}

TEST_CASE("ResNet-50 has 25.6M parameters at 1000 classes", "[trials][models]") {
  auto net = make_network(model("resnet50"), {3, 224, 224, 0}, 1000);
  // He et al. 2016 / torchvision: 25,557,032.
  CHECK(parameter_count(*net) == 25557032);
  check_layers(*net, torch::rand({1, 3, 64, 64}));
}

TEST_CASE("MLP: 64-32 then outputs by default, hidden sizes as options", "[trials][models]") {
  auto net = make_network(model("mlp"), {0, 0, 0, 21}, 2);
  CHECK(parameter_count(*net) == (21 * 64 + 64) + (64 * 32 + 32) + (32 * 2 + 2));
  check_layers(*net, torch::rand({3, 21}));
  auto wide = make_network(model("mlp", {{"hidden1", 8}, {"hidden2", 0}}), {0, 0, 0, 4}, 1);
  CHECK(parameter_count(*wide) == (4 * 8 + 8) + (8 + 1));
}

TEST_CASE("Unknown models and options are refused with the key", "[trials][models]") {
  CHECK_THROWS_WITH(make_network(model("resnet18"), kCifar, 10),
                    Catch::Contains("model.name") && Catch::Contains("resnet50"));
  CHECK_THROWS_WITH(make_network(model("mlp", {{"hiden1", 3}}), {0, 0, 0, 4}, 1),
                    Catch::Contains("model.options.hiden1") && Catch::Contains("hidden1"));
}
