#pragma once
// What one trial is: plain structs with the defaults of SPEC.md, free of LibTorch so that the
// experiment loader, the storage layer and the engine can use them without its headers.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace automl::trials {

struct DataConfig {
  std::string format = "idx";  // idx | cifar10 | cifar100 | csv
  std::string path = "/usr/share/datasets/fashion-mnist";
  std::int64_t train_subset = 0;     // 0 = the whole training set
  std::int64_t test_subset = 0;      // 0 = the whole test set
  double validation_fraction = 0.0;  // held out of the training set, by seed
  bool normalize = false;            // per-channel mean/std after [0,1] scaling
  bool augment = false;              // random crop (padding 4) + horizontal flip
  // csv only: feature and target columns by name; the test split is a fraction of the rows.
  std::vector<std::string> feature_columns;
  std::vector<std::string> target_columns;
  double test_fraction = 0.2;
};

struct ModelConfig {
  std::string name = "lenet";             // lenet | allcnn | vgg16 | wrn | resnet50 | mlp
  std::map<std::string, double> options;  // e.g. depth, width, dropout; per-model defaults
};

struct OptimizerConfig {
  std::string name = "sgd";  // sgd | adam | rmsprop | lars
  double lr = 0.01;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;
  double trust_coefficient = 0.001;  // LARS eta
};

// The LR policy applied at epoch boundaries.
struct PolicyConfig {
  std::string name = "constant";  // constant | step | mi | poly
  // step decay: multiply by `gamma` every `step_size` epochs, or at `milestones` when given.
  double gamma = 0.5;
  int step_size = 30;
  std::vector<int> milestones;
  double power = 2.0;  // poly (LARS): lr * (1 - e/E)^power
  // mi (Algorithm 1, SPEC.md 3):
  double lr_min = 1e-4, lr_max = 0.2, lr_top = 0.01, eps = 1e-3;
  std::string start = "top";         // top | mi
  std::string bound = "auto";        // ksg_xy | entropy | auto
  std::string time_decay = "epoch";  // epoch | none
  bool layerwise = false;
};

struct MiConfig {
  bool enabled = true;
  std::int64_t samples = 1000;  // the fixed MI subset, drawn from the training set by seed
  int k = 3;
  bool stratified = false;
  std::string estimator = "ksg";        // ksg | ksg_cd
  std::string layer_features = "full";  // full | channel_mean
};

struct TrialConfig {
  DataConfig data;
  ModelConfig model;
  OptimizerConfig optimizer;
  PolicyConfig policy;
  MiConfig mi;
  int epochs = 5;
  int batch_size = 256;
  std::uint64_t seed = 0;
  std::string device = "cpu";  // cpu | cuda | cuda:N
  bool evaluate_test = true;   // evaluate on the test split every epoch
  // Replay full training batches as CUDA graphs where possible (CUDA, SGD, classification, no
  // augmentation; trials/step_graph.h). Same arithmetic, far fewer kernel launches. Off until
  // measured on a GPU: scripts/gpu-bench-train.sh compares both paths.
  bool cuda_graphs = false;
};

}  // namespace automl::trials
