#pragma once
// Tensor files (data.format: tensors): what the experiment loader needs to know about them, free
// of LibTorch. The readers are declared in trials/data.h (read_tensor_file, load_tensor_dataset);
// whether the targets are class labels or regression targets is data.task (trials/config.h,
// DataConfig::is_regression), which the files' dtypes must agree with.
namespace automl::trials {

// The two files a tensors data directory holds, each written by Python's
// torch.save({"x": X, "y": Y}, path).
inline constexpr const char* kTensorTrainFile = "train.pt";
inline constexpr const char* kTensorTestFile = "test.pt";

}  // namespace automl::trials
