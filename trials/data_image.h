#pragma once
// Image folders (data.format: image_folder): torchvision's ImageFolder layout, ROOT/train/<class>/
// and ROOT/val/<class>/ holding .jpg/.jpeg/.png files, the class folders in sorted order (label k
// is the k-th name). Samples are decoded and transformed when batches are drawn, by a pool of
// threads that works ahead of the training loop (trials/sample_source.h); small sets are decoded
// once, at load, and kept in memory (data.cache). ROOT/val is the test split.
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "trials/config.h"
#include "trials/data.h"
#include "trials/image_codec.h"
#include "trials/sample_source.h"

namespace automl::trials {

struct ImageFile {
  std::string path;
  std::int64_t label = 0;
};

struct ImageFolderIndex {
  std::vector<std::string> classes;    // sorted; label k is classes[k]
  std::vector<ImageFile> train, test;  // ROOT/train and ROOT/val, in torchvision's order
};

// True for a name ending in .jpg, .jpeg or .png, in any case (ImageNet's are .JPEG).
bool is_image_file_name(const std::string& name);

// Lists ROOT/train/<class>/** and ROOT/val/<class>/** as torchvision's ImageFolder does: class
// folders sorted by name, each walked recursively (following links) in sorted order, files kept
// by their extension; other files are ignored. A val class folder takes the label of the train
// folder of the same name. Throws InputError naming the folder when ROOT, train/ or val/ is
// missing or holds no class folders, when a class folder holds no image file, and when a val
// class is not a train class.
ImageFolderIndex scan_image_folder(const std::string& root);

// What every sample becomes: `channels` x size x size floats, (pixel / 255 - mean) / std.
struct ImageOptions {
  int channels = 3;
  int size = 224;
  std::vector<float> mean, stddev;  // per channel
  bool skip_corrupt = false;
  int workers = 1;  // decoding threads (data.workers, or the trial's LibTorch threads)
  // Decoding at reduced JPEG scale keeps the shorter side at least twice the evaluation resize
  // (eval_resize(size)), so that neither transform upsamples a picture that was large enough.
  DecodeRequest decode_request() const;
};

// From data.channels, image_size, normalize, mean, std, skip_corrupt and workers: mean and std
// default to ImageNet's (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) (their averages, 0.449 /
// 0.226, for one channel); without `normalize` the pixels stay in [0, 1].
ImageOptions image_options(const DataConfig& config);

// The decoded images of a cached source, by sample id (empty for samples not cached).
using ImageCache = std::vector<Image>;

// The files corrupt ones were found among, shared by a source and the cached one made from it.
class SkippedFiles {
 public:
  // Records `id` (once) and says so on stderr the first time.
  void add(std::int64_t id, const std::string& what);
  std::int64_t count() const;

 private:
  mutable std::mutex mutex_;
  std::set<std::int64_t> ids_;
};

// Batch tensors kept for the next batches of the same shape once their consumer has let go of
// them: fresh memory for every batch costs a page fault per 4 KiB (a 256 x 3 x 224 x 224 batch
// is 154 MB), a sizeable part of the cost of making it. Page-locked batches are not kept.
class BatchPool {
 public:
  torch::Tensor take(const std::vector<std::int64_t>& sizes, bool pinned);

 private:
  std::mutex mutex_;
  std::vector<torch::Tensor> entries_;
};

// An image folder's samples (train first, then val, one numbering), made on demand.
class ImageFolderSource final : public SampleSource,
                                public std::enable_shared_from_this<ImageFolderSource> {
 public:
  ImageFolderSource(std::shared_ptr<const std::vector<ImageFile>> files, ImageOptions options,
                    std::shared_ptr<const ImageCache> cache = nullptr,
                    std::shared_ptr<SkippedFiles> skipped = nullptr);

  std::vector<std::int64_t> sample_shape() const override;
  std::unique_ptr<BatchStream> stream(std::vector<std::int64_t> ids,
                                      const StreamOptions& options) const override;

  // Writes sample `id` (the training transform seeded by (seed, id) when `augment`, else the
  // evaluation one) as channels x size x size floats at `out`. A file that cannot be decoded is
  // an InputError naming it; with skip_corrupt it is counted, `out` is zeroed and false returned.
  bool make(std::int64_t id, bool augment, std::uint64_t seed, float* out) const;

  const std::vector<ImageFile>& files() const { return *files_; }
  const ImageOptions& options() const { return options_; }
  bool cached() const { return cache_ != nullptr; }
  // Corrupt files skipped so far (with skip_corrupt), each counted once.
  std::int64_t skipped() const { return skipped_->count(); }

  // The same files with `cache` holding their decoded images.
  std::shared_ptr<ImageFolderSource> with_cache(std::shared_ptr<const ImageCache> cache) const;
  SkippedFiles& skipped_files() const { return *skipped_; }
  BatchPool& batch_pool() const { return *pool_; }

 private:
  std::shared_ptr<const std::vector<ImageFile>> files_;
  ImageOptions options_;
  std::vector<float> inv_std_;
  std::shared_ptr<const ImageCache> cache_;
  std::shared_ptr<SkippedFiles> skipped_;
  std::shared_ptr<BatchPool> pool_ = std::make_shared<BatchPool>();
};

// The whole folder: train and test splits over one ImageFolderSource, labels in `targets`.
Splits load_image_folder(const DataConfig& config);

// data.cache auto: decode at load when the decoded images, estimated from the headers of up to
// 64 of the files used, take at most this much memory.
constexpr std::int64_t kImageCacheAutoBytes = std::int64_t{1} << 30;

// After load_splits has drawn the subsets: decodes the images the splits use into memory when
// data.cache says so (auto: below kImageCacheAutoBytes). Decoding them all finds every corrupt
// file now: the first (in file order) is an InputError naming it, or with skip_corrupt they are
// counted and removed from the splits. Without the cache a file is read when a batch needs it.
// Throws InputError naming ROOT/train when no training image is left.
void finish_image_folder(Splits& splits, const DataConfig& config);

}  // namespace automl::trials
