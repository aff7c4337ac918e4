#include "engine/process_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "engine/worker.h"

namespace automl::engine {
namespace {

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "unknown";
}

}  // namespace

std::vector<std::string> worker_command(const ProcessRunnerOptions& o, const Launch& launch) {
  return {o.executable,    "worker",
          "--db",          o.database,
          "--trial",       std::to_string(launch.trial_id),
          "--device",      launch.slot.device,
          "--checkpoints", o.checkpoint_dir,
          "--threads",     std::to_string(o.threads),
          "--heartbeat",   fmt::format("{}", o.heartbeat_seconds)};
}

struct ProcessRunner::Impl {
  ProcessRunnerOptions options;
  boost::asio::io_context io;
  boost::asio::signal_set child_signals{io, SIGCHLD};
  boost::asio::signal_set stop_signals{io, SIGINT, SIGTERM};
  boost::asio::steady_timer timer{io};
  int stop_signal = 0;
  std::map<pid_t, std::int64_t> children;  // pid -> trial id
  std::map<pid_t, int> slot_locks;         // pid -> the open, flock()ed lock file of its slot
  std::deque<Exit> exits;
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();

  // Collects every child of ours that has ended.
  void reap() {
    for (auto it = children.begin(); it != children.end();) {
      int status = 0;
      if (waitpid(it->first, &status, WNOHANG) == it->first) {
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        exits.push_back({it->second, worker_identity(it->first), code, describe_status(status)});
        close(slot_locks[it->first]);
        slot_locks.erase(it->first);
        it = children.erase(it);
      } else {
        ++it;
      }
    }
  }
};

ProcessRunner::ProcessRunner(ProcessRunnerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  std::filesystem::create_directories(std::filesystem::path(impl_->options.checkpoint_dir) /
                                      "logs");
  std::filesystem::create_directories(slot_lock_dir(impl_->options));
}

// Slots are this machine's: two engines on one database take turns on them through a lock
// file per slot, held while a worker of theirs runs there.
std::string slot_lock_dir(const ProcessRunnerOptions& o) {
  return (std::filesystem::path(o.database + ".checkpoints") / "slots").string();
}

namespace {

int lock_slot(const ProcessRunnerOptions& o, const Slot& slot) {
  const auto path = (std::filesystem::path(slot_lock_dir(o)) / (slot.name + ".lock")).string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", path, strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  close(fd);
  return -1;
}

}  // namespace

ProcessRunner::~ProcessRunner() {
  stop_all();
}

double ProcessRunner::now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->epoch).count();
}

bool ProcessRunner::start(const Launch& launch) {
  const int slot_lock = lock_slot(impl_->options, launch.slot);
  if (slot_lock < 0) return false;
  const auto command = worker_command(impl_->options, launch);
  const auto log = (std::filesystem::path(impl_->options.checkpoint_dir) / "logs" /
                    fmt::format("trial-{}.log", launch.trial_id))
                       .string();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(slot_lock);
    throw std::runtime_error(fmt::format("cannot start a worker: {}", strerror(errno)));
  }
  if (pid == 0) {
    // The worker dies with the engine: a killed engine leaves no orphans behind that would keep
    // running (their trials go back to pending when their heartbeats stop).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    if (!launch.slot.visible_devices.empty())
      setenv("CUDA_VISIBLE_DEVICES", launch.slot.visible_devices.c_str(), 1);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    std::vector<char*> argv;
    for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  impl_->children[pid] = launch.trial_id;
  impl_->slot_locks[pid] = slot_lock;
  return true;
}

std::optional<Exit> ProcessRunner::wait(double timeout_seconds) {
  auto& s = *impl_;
  s.reap();
  if (s.exits.empty() && s.stop_signal == 0) {
    bool timed_out = false;
    s.timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(timeout_seconds)));
    s.timer.async_wait([&](const boost::system::error_code& error) {
      if (!error) timed_out = true;
    });
    s.child_signals.async_wait([&](const boost::system::error_code& error, int) {
      if (!error) s.reap();
    });
    s.stop_signals.async_wait([&](const boost::system::error_code& error, int signal) {
      if (!error) s.stop_signal = signal;
    });
    s.io.restart();
    while (!timed_out && s.exits.empty() && s.stop_signal == 0) {
      s.io.run_one();
      s.reap();  // a SIGCHLD that arrived before the wait started
    }
    s.timer.cancel();
    s.child_signals.cancel();
    s.stop_signals.cancel();
    s.io.restart();
    s.io.poll();  // let the cancelled handlers run while their captures are alive
  }
  if (s.exits.empty() || s.stop_signal != 0) return std::nullopt;
  auto exit = s.exits.front();
  s.exits.pop_front();
  return exit;
}

int ProcessRunner::interrupted() {
  return impl_->stop_signal;
}

void ProcessRunner::abandon(std::int64_t trial_id) {
  for (const auto& [pid, trial] : impl_->children)
    if (trial == trial_id) kill(pid, SIGKILL);
}

void ProcessRunner::stop_all() {
  for (const auto& [pid, trial] : impl_->children) {
    kill(pid, SIGTERM);
    kill(pid, SIGCONT);  // a paused worker acts on SIGTERM only once it runs again
  }
  for (const auto& [pid, trial] : impl_->children) {
    int status = 0;
    waitpid(pid, &status, 0);
    close(impl_->slot_locks[pid]);
  }
  impl_->children.clear();
  impl_->slot_locks.clear();
}

}  // namespace automl::engine
