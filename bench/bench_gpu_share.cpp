// GPU sharing figure (issue 6): N small trials (LeNet on Fashion-MNIST) in N processes on one
// device, as the engine runs them, against one trial alone. Prints images/s of training for
// each N and the ratio to N = 1. The first epoch of every trial (CUDA start-up, data loading)
// is left out: throughput counts epochs 2..E over the window from the first trial finishing
// its epoch 1 to the last trial finishing.
//
//   bench_gpu_share [--device cuda] [--epochs 12] [--train 60000] [--batch 256] [--n 1,4,8]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "trials/config.h"
#include "trials/trial.h"

namespace {

double monotonic_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Options {
  std::string device = "cuda";
  int epochs = 12;
  long train = 60000;
  int batch = 256;
  std::vector<int> counts = {1, 4, 8};
};

// One trial in this (child) process; writes "<t after epoch 1> <t after last epoch>" to `fd`.
[[noreturn]] void child(const Options& o, int fd, int index) {
  automl::trials::TrialConfig config;
  config.data.path = "/usr/share/datasets/fashion-mnist";
  config.data.train_subset = o.train;
  config.data.test_subset = 1000;
  config.evaluate_test = false;
  config.mi.enabled = false;
  config.epochs = o.epochs;
  config.batch_size = o.batch;
  config.seed = static_cast<std::uint64_t>(index + 1);
  config.device = o.device;
  automl::trials::set_threads(1);
  double after_first = 0, after_last = 0;
  automl::trials::run_trial(config, [&](const automl::trials::EpochRecord& r) {
    if (r.epoch == 1) after_first = monotonic_now();
    if (r.epoch == o.epochs) after_last = monotonic_now();
  });
  const auto line = std::to_string(after_first) + " " + std::to_string(after_last) + "\n";
  if (write(fd, line.data(), line.size()) < 0) _exit(2);
  _exit(0);
}

// Images per second of N concurrent trials.
double run_concurrent(const Options& o, int n) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) std::exit(1);
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      close(pipe_fds[0]);
      child(o, pipe_fds[1], i);
    }
    pids.push_back(pid);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[256];
  for (ssize_t got; (got = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, got);
  close(pipe_fds[0]);
  for (const auto pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "a trial process failed\n");
      std::exit(1);
    }
  }
  std::istringstream in(text);
  double start = 1e300, end = 0, first, last;
  int finished = 0;
  while (in >> first >> last) {
    start = std::min(start, first);
    end = std::max(end, last);
    ++finished;
  }
  const double images = static_cast<double>(finished) * o.train * (o.epochs - 1);
  return images / (end - start);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--device") o.device = value;
    if (key == "--epochs") o.epochs = std::max(2, std::atoi(value.c_str()));
    if (key == "--train") o.train = std::atol(value.c_str());
    if (key == "--batch") o.batch = std::atoi(value.c_str());
    if (key == "--n") {
      o.counts.clear();
      std::istringstream list(value);
      for (std::string item; std::getline(list, item, ',');) o.counts.push_back(std::stoi(item));
    }
  }
  std::printf("LeNet, %ld Fashion-MNIST images, batch %d, %d epochs (epoch 1 left out), %s\n",
              o.train, o.batch, o.epochs, o.device.c_str());
  double alone = 0;
  for (const int n : o.counts) {
    const double rate = run_concurrent(o, n);
    if (n == 1) alone = rate;
    std::printf("N=%d concurrent trials: %.0f images/s aggregate", n, rate);
    if (alone > 0) std::printf(" (%.2fx one trial alone)", rate / alone);
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
