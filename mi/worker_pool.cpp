#include "mi/worker_pool.h"

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace automl::mi::detail {
namespace {

class WorkerPool {
 public:
  WorkerPool() : owner_(getpid()) {}
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  ~WorkerPool() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }

  bool run(int workers, const std::function<void(int)>& work) {
    if (getpid() != owner_) return false;  // a fork's copy has no threads behind it
    std::unique_lock<std::mutex> section(section_, std::try_to_lock);
    if (!section.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(threads_.size()) < workers - 1) {
        const int index = static_cast<int>(threads_.size()) + 1;
        threads_.emplace_back([this, index] { serve(index); });
      }
      job_ = &work;
      helpers_ = workers - 1;
      running_ = helpers_;
      ++generation_;
    }
    start_.notify_all();
    work(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return running_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  // Pool thread `index` (1-based): runs the job of each new generation that wants it.
  void serve(int index) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index > helpers_) continue;
      const std::function<void(int)>* job = job_;
      lock.unlock();
      (*job)(index);
      lock.lock();
      if (--running_ == 0) done_.notify_one();
    }
  }

  const pid_t owner_;
  std::mutex section_;  // one parallel section at a time
  std::mutex mutex_;    // guards everything below
  std::condition_variable start_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* job_ = nullptr;
  int helpers_ = 0;
  int running_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace

bool run_on_pool(int workers, const std::function<void(int)>& work) {
  static WorkerPool pool;
  return pool.run(workers, work);
}

}  // namespace automl::mi::detail
