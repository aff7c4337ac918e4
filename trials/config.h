#pragma once
// What one trial is: plain structs with the defaults of SPEC.md, free of LibTorch so that the
// experiment loader, the storage layer and the engine can use them without its headers.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace automl::trials {

struct DataConfig {
  std::string format = "idx";  // one of data_formats()
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
  // tensors only: one of data_tasks(). Said in the experiment, not read from the files, so that
  // a report can tell without the data; the reader checks that the files' dtypes agree.
  std::string task = "classification";
  // image_folder only (trials/data_image.h): `channels` (1 or 3) of image_size x image_size
  // crops; `normalize` uses mean/std (empty: ImageNet's); `cache` is one of image_caches();
  // `workers` decoding threads (0 = as many as the trial's LibTorch threads).
  int channels = 3;
  int image_size = 224;
  std::vector<double> normalize_mean, normalize_std;
  std::string cache = "auto";
  bool skip_corrupt = false;
  int workers = 0;

  // CSV tables are the regression data sets (SPEC.md 6), tensor files when data.task says so;
  // every other format holds class labels. Regression decides the loss, what a validation score
  // is and which LRRT attributes apply.
  bool is_regression() const {
    return format == "csv" || (format == "tensors" && task == "regression");
  }
};

struct ModelConfig {
  std::string name = "lenet";             // one of model_names()
  std::map<std::string, double> options;  // e.g. depth, width, dropout; per-model defaults
  // A TorchScript file (torch.jit.script(net).save(...)) instead of a built-in model: set, it
  // replaces `name` and `options` (trials/torchscript.h). `layers`: the submodules (dotted
  // paths) that are layer-wise MI-SGD's parameter groups; empty = every trainable child.
  std::string torchscript;
  std::vector<std::string> layers;
};

struct OptimizerConfig {
  std::string name = "sgd";  // one of optimizer_names()
  double lr = 0.01;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;
  double trust_coefficient = 0.001;  // LARS eta
};

// The LR policy applied at epoch boundaries.
struct PolicyConfig {
  std::string name = "constant";  // one of policy_names()
  // step decay: multiply by `gamma` every `step_size` epochs, or at `milestones` when given.
  double gamma = 0.5;
  int step_size = 30;
  std::vector<int> milestones;
  double power = 2.0;  // poly (LARS): lr * (1 - e/E)^power
  // mi (Algorithm 1, SPEC.md 3):
  double lr_min = 1e-4, lr_max = 0.2, lr_top = 0.01, eps = 1e-3;
  std::string start = "top";         // one of mi_starts()
  std::string bound = "auto";        // one of mi_bounds()
  std::string time_decay = "epoch";  // one of time_decays()
  bool layerwise = false;
};

struct MiConfig {
  bool enabled = true;
  std::int64_t samples = 1000;  // the fixed MI subset, drawn from the training set by seed
  int k = 3;
  bool stratified = false;
  std::string estimator = "ksg";        // one of mi_estimators()
  std::string layer_features = "full";  // one of mi_layer_features()
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

// The choices each part of a trial accepts, asked of the code that implements them (each is
// defined next to its factory, named below) so that no other module types the lists out again.
std::vector<std::string> data_formats();  // trials/data.cpp: load_splits
std::vector<std::string> data_tasks();    // trials/data_tensors.cpp: load_tensor_dataset
std::vector<std::string> image_caches();  // trials/data_image.cpp: finish_image_folder
std::vector<std::string> model_names();   // trials/models.cpp: make_network
// The option keys model `name` accepts (model.options), sorted; empty for an unknown model.
std::vector<std::string> model_option_names(const std::string& name);
std::vector<std::string> optimizer_names();    // trials/optimizers.cpp: make_optimizer
std::vector<std::string> policy_names();       // trials/policies.cpp: make_scheduler
std::vector<std::string> mi_starts();          // trials/policies.cpp: mi_decay_options
std::vector<std::string> time_decays();        // trials/policies.cpp: mi_decay_options
std::vector<std::string> mi_estimators();      // trials/mi_probe.cpp: MiProbe
std::vector<std::string> mi_layer_features();  // trials/mi_probe.cpp: MiProbe
std::vector<std::string> mi_bounds();          // trials/mi_probe.cpp: MiProbe

}  // namespace automl::trials
