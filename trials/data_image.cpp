// Image folders: the folder scan, the sources that decode and transform samples, the prefetching
// batch stream and the in-memory cache.
#include "trials/data_image.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <limits>
#include <thread>

#include "common/error.h"
#include "trials/image_transform.h"

namespace automl::trials {
namespace fs = std::filesystem;

std::vector<std::string> image_caches() {
  return {"auto", "true", "false"};
}

// ---- the folder -----------------------------------------------------------------------------

bool is_image_file_name(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* extension : {".jpg", ".jpeg", ".png"}) {
    const std::string e(extension);
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0)
      return true;
  }
  return false;
}

namespace {

constexpr const char* kLayout =
    "an image folder holds train/<class>/ and val/<class>/ with .jpg, .jpeg or .png files";

// Names of the subfolders of `dir` (links followed), sorted.
std::vector<std::string> class_folders(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty())
    throw InputError(dir.string(), fmt::format("holds no class folders: {}", kLayout));
  return names;
}

// The image files under `dir` in torchvision's order: sorted(os.walk(dir, followlinks=True)),
// each folder's file names sorted.
std::vector<std::string> class_files(const fs::path& dir) {
  std::vector<fs::path> folders{dir};
  for (const auto& entry :
       fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink))
    if (entry.is_directory()) folders.push_back(entry.path());
  std::sort(folders.begin(), folders.end(),
            [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  std::vector<std::string> files;
  for (const auto& folder : folders) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
      if (!entry.is_directory() && is_image_file_name(entry.path().filename().string()))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) files.push_back((folder / name).string());
  }
  if (files.empty())
    throw InputError(dir.string(), "is an empty class folder (no .jpg, .jpeg or .png file)");
  return files;
}

fs::path split_folder(const std::string& root, const char* name) {
  const auto dir = fs::path(root) / name;
  if (!fs::is_directory(dir))
    throw InputError(dir.string(), fmt::format("no such folder: {}", kLayout));
  return dir;
}

}  // namespace

ImageFolderIndex scan_image_folder(const std::string& root) {
  if (!fs::is_directory(root)) throw InputError(root, fmt::format("no such folder: {}", kLayout));
  ImageFolderIndex index;
  try {
    const auto train = split_folder(root, "train"), val = split_folder(root, "val");
    index.classes = class_folders(train);
    for (std::size_t k = 0; k < index.classes.size(); ++k)
      for (auto& path : class_files(train / index.classes[k]))
        index.train.push_back({std::move(path), static_cast<std::int64_t>(k)});
    for (const auto& name : class_folders(val)) {
      const auto found = std::lower_bound(index.classes.begin(), index.classes.end(), name);
      if (found == index.classes.end() || *found != name)
        throw InputError(
            (val / name).string(),
            fmt::format("is not a class of {} (whose {} classes are {})", train.string(),
                        index.classes.size(), fmt::join(index.classes, ", ")));
      for (auto& path : class_files(val / name))
        index.test.push_back({std::move(path), found - index.classes.begin()});
    }
  } catch (const fs::filesystem_error& e) {
    throw InputError(e.path1().string(), fmt::format("cannot list ({})", e.code().message()));
  }
  return index;
}

// ---- what a sample becomes ------------------------------------------------------------------

DecodeRequest ImageOptions::decode_request() const {
  DecodeRequest r;
  r.channels = channels;
  r.min_short_side = 2 * eval_resize(size);
  return r;
}

ImageOptions image_options(const DataConfig& config) {
  if (config.channels != 1 && config.channels != 3)
    throw InputError("data.channels", fmt::format("{} (expected 1 or 3)", config.channels));
  if (config.image_size < 1)
    throw InputError("data.image_size", fmt::format("{} is not >= 1", config.image_size));
  ImageOptions o;
  o.channels = config.channels;
  o.size = config.image_size;
  o.skip_corrupt = config.skip_corrupt;
  // By default as many as the trial's LibTorch threads: one per core, or the engine's share of
  // the cores when trials run side by side.
  o.workers = config.workers > 0 ? config.workers : std::max(1, torch::get_num_threads());
  const bool rgb = o.channels == 3;
  std::vector<double> mean = config.normalize_mean, stddev = config.normalize_std;
  if (mean.empty()) mean = rgb ? std::vector<double>{0.485, 0.456, 0.406} : std::vector{0.449};
  if (stddev.empty()) stddev = rgb ? std::vector<double>{0.229, 0.224, 0.225} : std::vector{0.226};
  if (!config.normalize) {
    mean.assign(static_cast<std::size_t>(o.channels), 0.0);
    stddev.assign(static_cast<std::size_t>(o.channels), 1.0);
  }
  for (const auto& [values, key] : {std::pair{&mean, "data.mean"}, std::pair{&stddev, "data.std"}})
    if (values->size() != static_cast<std::size_t>(o.channels))
      throw InputError(key, fmt::format("{} values for {} channel(s)", values->size(), o.channels));
  for (const double s : stddev)
    if (!(s > 0)) throw InputError("data.std", fmt::format("{} is not > 0", s));
  o.mean.assign(mean.begin(), mean.end());
  o.stddev.assign(stddev.begin(), stddev.end());
  return o;
}

void SkippedFiles::add(std::int64_t id, const std::string& what) {
  std::lock_guard lock(mutex_);
  if (ids_.insert(id).second) std::cerr << "skipped (data.skip_corrupt): " << what << "\n";
}

std::int64_t SkippedFiles::count() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(ids_.size());
}

// ---- the source and its stream --------------------------------------------------------------

torch::Tensor BatchPool::take(const std::vector<std::int64_t>& sizes, bool pinned) {
  constexpr std::size_t kKept = 8;  // the batches in flight (PrefetchStream::kAhead + 1) and more
  // Page-locked memory comes from LibTorch's caching host allocator, which already reuses it,
  // and only once the asynchronous copies reading it have finished: it is not kept here.
  if (pinned)
    return torch::empty(sizes, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
  std::lock_guard lock(mutex_);
  // Free: nothing but this pool holds the memory (no other handle to it, no view of it).
  const auto is_free = [](const torch::Tensor& t) {
    return t.use_count() == 1 && t.storage().use_count() == 1;
  };
  for (const auto& e : entries_)
    if (e.sizes() == torch::IntArrayRef(sizes) && is_free(e)) return e;
  auto tensor = torch::empty(sizes, torch::kFloat32);
  if (entries_.size() >= kKept) {
    const auto unused = std::find_if(entries_.begin(), entries_.end(), is_free);
    if (unused == entries_.end()) return tensor;  // all in use: this one is not kept
    entries_.erase(unused);
  }
  entries_.push_back(tensor);
  return tensor;
}

namespace {

// Runs body(i) for i in [0, n) on `workers` threads.
template <typename Body>
void parallel_for(std::int64_t n, int workers, const Body& body) {
  std::atomic<std::int64_t> next{0};
  const auto run = [&] {
    for (std::int64_t i; (i = next++) < n;) body(i);
  };
  std::vector<std::thread> threads;
  const auto extra = std::min<std::int64_t>(workers, n) - 1;
  for (std::int64_t t = 0; t < extra; ++t) threads.emplace_back(run);
  run();
  for (auto& t : threads) t.join();
}

// Batches made by worker threads up to kAhead batches beyond the last one handed out; every
// sample is made by (source, id, augment, seed) alone, so the batches do not depend on the
// number of threads or their timing.
class PrefetchStream final : public BatchStream {
 public:
  static constexpr std::int64_t kAhead = 3;

  PrefetchStream(std::shared_ptr<const ImageFolderSource> source, std::vector<std::int64_t> ids,
                 const StreamOptions& options)
      : source_(std::move(source)), ids_(std::move(ids)), options_(options) {
    const auto shape = source_->sample_shape();
    sample_floats_ = shape[0] * shape[1] * shape[2];
    const auto total = static_cast<std::int64_t>(ids_.size());
    batches_.resize(
        static_cast<std::size_t>((total + options_.batch_size - 1) / options_.batch_size));
    const int workers =
        static_cast<int>(std::clamp<std::int64_t>(source_->options().workers, 1, total));
    for (int t = 0; t < workers && total > 0; ++t) workers_.emplace_back([this] { work(); });
  }

  ~PrefetchStream() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    work_ready_.notify_all();
    for (auto& t : workers_) t.join();
  }

  bool next(torch::Tensor& inputs, torch::Tensor& targets) override {
    while (handed_ < static_cast<std::int64_t>(batches_.size())) {
      Batch batch;
      {
        std::unique_lock lock(mutex_);
        batch_done_.wait(lock, [&] { return failure_ || done(batches_[handed_]); });
        if (failure_) std::rethrow_exception(failure_);
        batch = std::move(batches_[static_cast<std::size_t>(handed_)]);
        ++handed_;
      }
      work_ready_.notify_all();
      if (batch.error) std::rethrow_exception(batch.error);
      if (hand_out(batch, inputs, targets)) return true;
    }
    return false;
  }

 private:
  struct Batch {
    torch::Tensor inputs;
    std::int64_t first = 0, remaining = -1;  // -1: not started
    std::vector<char> made;
    std::exception_ptr error;
    std::int64_t error_at = std::numeric_limits<std::int64_t>::max();
  };

  static bool done(const Batch& b) { return b.remaining == 0; }

  std::int64_t total() const { return static_cast<std::int64_t>(ids_.size()); }

  void start(Batch& batch, std::int64_t index) {
    batch.first = index * options_.batch_size;
    const auto n = std::min(options_.batch_size, total() - batch.first);
    const auto shape = source_->sample_shape();
    batch.inputs =
        source_->batch_pool().take({n, shape[0], shape[1], shape[2]}, options_.pin_memory);
    batch.made.assign(static_cast<std::size_t>(n), 0);
    batch.remaining = n;
  }

  void work() {
    try {
      std::unique_lock lock(mutex_);
      while (true) {
        work_ready_.wait(lock, [&] {
          return stop_ || next_sample_ >= total() ||
                 next_sample_ / options_.batch_size < handed_ + kAhead;
        });
        if (stop_ || next_sample_ >= total()) return;
        const auto sample = next_sample_++;
        const auto index = sample / options_.batch_size;
        Batch& batch = batches_[static_cast<std::size_t>(index)];
        if (batch.remaining < 0) start(batch, index);
        const auto position = sample - batch.first;
        float* out = batch.inputs.data_ptr<float>() + position * sample_floats_;
        lock.unlock();
        bool made = false;
        std::exception_ptr error;
        try {
          made = source_->make(ids_[static_cast<std::size_t>(sample)], options_.augment,
                               options_.seed, out);
        } catch (...) {
          error = std::current_exception();
        }
        lock.lock();
        if (error && position < batch.error_at) {
          batch.error = error;
          batch.error_at = position;
        }
        batch.made[static_cast<std::size_t>(position)] = made;
        if (--batch.remaining == 0) batch_done_.notify_all();
      }
    } catch (...) {  // e.g. out of memory for a batch: the consumer rethrows it
      std::lock_guard lock(mutex_);
      if (!failure_) failure_ = std::current_exception();
      stop_ = true;
      batch_done_.notify_all();
      work_ready_.notify_all();
    }
  }

  // The batch's inputs and labels, without skipped samples when asked; false when none is left.
  bool hand_out(const Batch& batch, torch::Tensor& inputs, torch::Tensor& targets) const {
    const auto n = static_cast<std::int64_t>(batch.made.size());
    std::vector<std::int64_t> labels, kept;
    for (std::int64_t i = 0; i < n; ++i) {
      if (!batch.made[static_cast<std::size_t>(i)] && options_.drop_skipped) continue;
      kept.push_back(i);
      const auto id = ids_[static_cast<std::size_t>(batch.first + i)];
      labels.push_back(source_->files()[static_cast<std::size_t>(id)].label);
    }
    if (kept.empty()) return false;
    inputs = static_cast<std::int64_t>(kept.size()) == n
                 ? batch.inputs
                 : batch.inputs.index_select(0, torch::tensor(kept, torch::kInt64));
    targets = torch::tensor(labels, torch::kInt64);
    return true;
  }

  std::shared_ptr<const ImageFolderSource> source_;
  std::vector<std::int64_t> ids_;
  StreamOptions options_;
  std::int64_t sample_floats_ = 0;
  std::mutex mutex_;
  std::condition_variable work_ready_, batch_done_;
  std::vector<Batch> batches_;
  std::int64_t next_sample_ = 0, handed_ = 0;
  bool stop_ = false;
  std::exception_ptr failure_;
  std::vector<std::thread> workers_;
};

}  // namespace

ImageFolderSource::ImageFolderSource(std::shared_ptr<const std::vector<ImageFile>> files,
                                     ImageOptions options, std::shared_ptr<const ImageCache> cache,
                                     std::shared_ptr<SkippedFiles> skipped)
    : files_(std::move(files)),
      options_(std::move(options)),
      cache_(std::move(cache)),
      skipped_(skipped ? std::move(skipped) : std::make_shared<SkippedFiles>()) {
  for (const float s : options_.stddev) inv_std_.push_back(1.0f / s);
}

std::vector<std::int64_t> ImageFolderSource::sample_shape() const {
  return {options_.channels, options_.size, options_.size};
}

std::unique_ptr<BatchStream> ImageFolderSource::stream(std::vector<std::int64_t> ids,
                                                       const StreamOptions& options) const {
  if (options.batch_size < 1) throw std::invalid_argument("stream: batch_size < 1");
  return std::make_unique<PrefetchStream>(shared_from_this(), std::move(ids), options);
}

bool ImageFolderSource::make(std::int64_t id, bool augment, std::uint64_t seed, float* out) const {
  const auto& file = (*files_)[static_cast<std::size_t>(id)];
  thread_local Image decoded;  // reused: a fresh half megabyte per file costs page faults
  const Image* image = cache_ ? &(*cache_)[static_cast<std::size_t>(id)] : nullptr;
  if (!image || image->pixels.empty()) {
    try {
      decode_image_file(file.path, options_.decode_request(), decoded);
    } catch (const InputError& e) {
      if (!options_.skip_corrupt) throw;
      skipped_->add(id, e.what());
      std::fill(out, out + options_.channels * options_.size * options_.size, 0.0f);
      return false;
    }
    image = &decoded;
  }
  SampleRandom random(seed, static_cast<std::uint64_t>(id));
  const auto placement =
      augment
          ? train_placement(image->width, image->height, options_.size, random)
          : eval_placement(image->width, image->height, options_.size, eval_resize(options_.size));
  render(*image, placement, options_.mean.data(), inv_std_.data(), out);
  return true;
}

std::shared_ptr<ImageFolderSource> ImageFolderSource::with_cache(
    std::shared_ptr<const ImageCache> cache) const {
  return std::make_shared<ImageFolderSource>(files_, options_, std::move(cache), skipped_);
}

// ---- loading --------------------------------------------------------------------------------

namespace {

Dataset split_of(const std::shared_ptr<ImageFolderSource>& source, std::int64_t begin,
                 std::int64_t end, std::int64_t classes) {
  Dataset d;
  d.source = source;
  d.source_ids = torch::arange(begin, end, torch::kInt64);
  std::vector<std::int64_t> labels;
  for (auto id = begin; id < end; ++id)
    labels.push_back(source->files()[static_cast<std::size_t>(id)].label);
  d.targets = torch::tensor(labels, torch::kInt64);
  d.num_classes = classes;
  return d;
}

std::vector<std::int64_t> used_ids(const Splits& splits) {
  std::vector<std::int64_t> ids;
  for (const Dataset* d : {&splits.train, &splits.validation, &splits.test})
    if (d->source_ids.defined())
      ids.insert(ids.end(), d->source_ids.data_ptr<std::int64_t>(),
                 d->source_ids.data_ptr<std::int64_t>() + d->source_ids.numel());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// Decoded bytes of `ids`, estimated from the headers of up to 64 of them spread evenly.
double estimated_bytes(const ImageFolderSource& source, const std::vector<std::int64_t>& ids) {
  const auto n = static_cast<std::int64_t>(ids.size());
  const auto samples = std::min<std::int64_t>(n, 64);
  const auto request = source.options().decode_request();
  double sum = 0;
  std::int64_t read = 0;
  for (std::int64_t i = 0; i < samples; ++i) {
    const auto& path =
        source.files()[static_cast<std::size_t>(ids[static_cast<std::size_t>(i * n / samples)])]
            .path;
    try {
      const auto bytes = read_file_bytes(path);
      const auto size = decoded_size(bytes.data(), bytes.size(), request, path);
      sum += static_cast<double>(size.width) * size.height * request.channels;
      ++read;
    } catch (const InputError&) {  // corrupt: decoding it at load will say so
    }
  }
  return read ? sum / static_cast<double>(read) * static_cast<double>(n) : 0.0;
}

bool use_cache(const DataConfig& config, const ImageFolderSource& source,
               const std::vector<std::int64_t>& ids) {
  if (config.cache == "true") return true;
  if (config.cache == "false") return false;
  if (config.cache != "auto")
    throw InputError("data.cache", fmt::format("'{}' (expected {})", config.cache,
                                               fmt::join(image_caches(), ", ")));
  return estimated_bytes(source, ids) <= static_cast<double>(kImageCacheAutoBytes);
}

// Drops the samples whose ids are in `bad` (sorted) from `d`.
void drop_samples(Dataset& d, const std::vector<std::int64_t>& bad) {
  if (!d.source_ids.defined() || bad.empty()) return;
  std::vector<std::int64_t> keep;
  const auto* ids = d.source_ids.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < d.source_ids.numel(); ++i)
    if (!std::binary_search(bad.begin(), bad.end(), ids[i])) keep.push_back(i);
  const auto positions = torch::tensor(keep, torch::kInt64);
  d.source_ids = d.source_ids.index_select(0, positions);
  d.targets = d.targets.index_select(0, positions.to(d.targets.device()));
}

}  // namespace

Splits load_image_folder(const DataConfig& config) {
  const auto options = image_options(config);
  auto index = scan_image_folder(config.path);
  const auto train_count = static_cast<std::int64_t>(index.train.size());
  auto files = std::make_shared<std::vector<ImageFile>>(std::move(index.train));
  files->insert(files->end(), std::make_move_iterator(index.test.begin()),
                std::make_move_iterator(index.test.end()));
  const auto source = std::make_shared<ImageFolderSource>(files, options);
  const auto classes = static_cast<std::int64_t>(index.classes.size());
  Splits splits;
  splits.train = split_of(source, 0, train_count, classes);
  splits.test = split_of(source, train_count, static_cast<std::int64_t>(files->size()), classes);
  return splits;
}

void finish_image_folder(Splits& splits, const DataConfig& config) {
  const auto source = std::dynamic_pointer_cast<const ImageFolderSource>(splits.train.source);
  if (!source) throw std::logic_error("finish_image_folder: not an image folder's splits");
  const auto ids = used_ids(splits);
  if (use_cache(config, *source, ids)) {
    auto cache = std::make_shared<ImageCache>(source->files().size());
    std::vector<std::string> errors(ids.size());
    const auto request = source->options().decode_request();
    parallel_for(static_cast<std::int64_t>(ids.size()), source->options().workers,
                 [&](std::int64_t i) {
                   const auto id = static_cast<std::size_t>(ids[static_cast<std::size_t>(i)]);
                   try {
                     (*cache)[id] = decode_image_file(source->files()[id].path, request);
                   } catch (const InputError& e) {
                     errors[static_cast<std::size_t>(i)] = e.what();
                   }
                 });
    std::vector<std::int64_t> bad;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (errors[i].empty()) continue;
      if (!config.skip_corrupt) throw InputError(errors[i]);  // the first, in file order
      source->skipped_files().add(ids[i], errors[i]);
      bad.push_back(ids[i]);
    }
    const std::shared_ptr<const SampleSource> cached = source->with_cache(std::move(cache));
    for (Dataset* d : {&splits.train, &splits.validation, &splits.test}) {
      if (!d->source) continue;
      drop_samples(*d, bad);
      d->source = cached;
    }
    if (!bad.empty())
      std::cerr << fmt::format("{}: skipped {} corrupt file(s) of {}\n", config.path, bad.size(),
                               ids.size());
  }
  if (splits.train.size() == 0)
    throw InputError((fs::path(config.path) / "train").string(),
                     "no training image left (every file was corrupt and skipped)");
}

}  // namespace automl::trials
