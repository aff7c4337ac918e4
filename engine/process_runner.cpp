#include "engine/process_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "engine/worker.h"

namespace automl::engine {
namespace {

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "unknown";
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::filesystem::path log_dir(const ProcessRunnerOptions& o) {
  return std::filesystem::path(o.checkpoint_dir) / "logs";
}

// Slots are this machine's: two engines on one database take turns on them through a lock
// file per slot, held while a worker of theirs runs a trial there (an idle worker holds none).
int lock_slot(const ProcessRunnerOptions& o, const Slot& slot) {
  const auto path = (std::filesystem::path(slot_lock_dir(o)) / (slot.name + ".lock")).string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", path, strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  close(fd);
  return -1;
}

void unlock(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// The child's side of fork(): becomes the slot's worker (never returns).
[[noreturn]] void exec_worker(pid_t parent, const Slot& slot, const std::string& log, int channel,
                              const std::vector<char*>& argv) {
  // The worker dies with the engine: a killed engine leaves no orphans behind that would keep
  // running (their trials go back to pending when their heartbeats stop).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  setpgid(0, 0);
  if (!slot.visible_devices.empty())
    setenv("CUDA_VISIBLE_DEVICES", slot.visible_devices.c_str(), 1);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd != channel && fd > STDERR_FILENO) close(fd);
  }
  if (channel == kWorkerChannelFd)
    fcntl(channel, F_SETFD, 0);  // keep it across exec
  else
    dup2(channel, kWorkerChannelFd);  // the copy is not close-on-exec
  execv(argv[0], argv.data());
  _exit(127);
}

}  // namespace

std::vector<std::string> worker_command(const ProcessRunnerOptions& o, const Slot& slot) {
  return {o.executable,    "worker",
          "--db",          o.database,
          "--serve-fd",    std::to_string(kWorkerChannelFd),
          "--device",      slot.device,
          "--checkpoints", o.checkpoint_dir,
          "--logs",        log_dir(o).string(),
          "--threads",     std::to_string(o.threads),
          "--heartbeat",   fmt::format("{}", o.heartbeat_seconds)};
}

std::string slot_lock_dir(const ProcessRunnerOptions& o) {
  return (std::filesystem::path(o.database + ".checkpoints") / "slots").string();
}

// One slot's long-lived worker process and the engine's end of its socket.
struct SlotWorker {
  SlotWorker(boost::asio::io_context& io, int fd) : channel(io, fd) {}
  pid_t pid = 0;
  boost::asio::posix::stream_descriptor channel;
  std::string buffer;         // answer bytes not yet ending in a newline
  std::int64_t trial_id = 0;  // the trial it runs; 0 = idle
  int slot_lock = -1;         // held while it runs a trial
  bool retiring = false;      // it said it ends (after a trial threw or its database failed)
};

struct ProcessRunner::Impl {
  ProcessRunnerOptions options;
  boost::asio::io_context io;  // first: destroyed after everything that uses it
  boost::asio::signal_set child_signals{io, SIGCHLD};
  boost::asio::signal_set stop_signals{io, SIGINT, SIGTERM};
  boost::asio::steady_timer timer{io};
  int timer_generation = 0;  // a timer that fired for an earlier wait() does not end this one
  bool timed_out = false;
  int stop_signal = 0;
  std::map<std::string, std::shared_ptr<SlotWorker>> workers;  // by slot name
  std::deque<Exit> exits;
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();

  // The signal waits stay armed for the runner's life, so no signal is missed between waits;
  // their handlers run only inside wait().
  void watch_children() {
    child_signals.async_wait([this](const boost::system::error_code& error, int) {
      if (error) return;
      reap();
      watch_children();
    });
  }

  void watch_stop_signals() {
    stop_signals.async_wait([this](const boost::system::error_code& error, int signal) {
      if (error) return;
      stop_signal = signal;
      watch_stop_signals();
    });
  }

  // Asio only says when the socket is readable; the reading is ours (drain), so that reap()
  // can take every answer a dead worker left before it decides that its trial died with it.
  void watch(const std::shared_ptr<SlotWorker>& w) {
    w->channel.async_wait(boost::asio::posix::descriptor::wait_read,
                          [this, w](const boost::system::error_code& error) {
                            if (!error && w->channel.is_open() && drain(*w)) watch(w);
                          });
  }

  // Reads what the worker wrote so far and turns its answers into exits; false at the end.
  bool drain(SlotWorker& w) {
    char chunk[512];
    for (;;) {
      const auto n = read(w.channel.native_handle(), chunk, sizeof chunk);
      if (n > 0) {
        w.buffer.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      const int error = n < 0 ? errno : 0;
      if (error == EINTR) continue;
      take_answers(w);
      return error == EAGAIN || error == EWOULDBLOCK;
    }
  }

  void take_answers(SlotWorker& w) {
    for (auto end = w.buffer.find('\n'); end != std::string::npos; end = w.buffer.find('\n')) {
      std::istringstream line(w.buffer.substr(0, end));
      w.buffer.erase(0, end + 1);
      std::int64_t trial = 0;
      int code = 0;
      if (!(line >> trial >> code) || trial != w.trial_id || trial == 0) continue;
      exits.push_back({trial, worker_identity(w.pid), code, fmt::format("exit {}", code)});
      // Such a worker exits after answering (engine/worker.h): a trial sent to it now would
      // die with it.
      w.retiring = code == kWorkerFailed || code == kWorkerStorageError;
      w.trial_id = 0;
      unlock(w.slot_lock);
    }
  }

  // Collects every worker of ours that has ended: its answers first, then its trial, if it
  // still had one, as an exit with the process's status.
  void reap() {
    for (auto it = workers.begin(); it != workers.end();) {
      auto& w = *it->second;
      int status = 0;
      if (waitpid(w.pid, &status, WNOHANG) != w.pid) {
        ++it;
        continue;
      }
      drain(w);
      if (w.trial_id != 0)
        exits.push_back(
            {w.trial_id, worker_identity(w.pid), exit_code_of(status), describe_status(status)});
      unlock(w.slot_lock);
      w.channel.close();
      it = workers.erase(it);
    }
  }

  std::shared_ptr<SlotWorker> spawn(const Slot& slot) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error(fmt::format("cannot start a worker: {}", strerror(errno)));
    const auto command = worker_command(options, slot);
    std::vector<char*> argv;  // made before fork(): the child only execs
    for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    const auto log = (log_dir(options) / fmt::format("worker-{}.log", slot.name)).string();
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) exec_worker(parent, slot, log, fds[1], argv);
    close(fds[1]);
    if (pid < 0) {
      close(fds[0]);
      throw std::runtime_error(fmt::format("cannot start a worker: {}", strerror(errno)));
    }
    auto w = std::make_shared<SlotWorker>(io, fds[0]);
    w->pid = pid;
    w->channel.non_blocking(true);
    watch(w);
    return w;
  }

  static bool send(SlotWorker& w, const std::string& line) {
    return ::send(w.channel.native_handle(), line.data(), line.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(line.size());
  }

  // Ends an idle worker that can no longer take trials (a retiring one is on its way out).
  void discard(std::map<std::string, std::shared_ptr<SlotWorker>>::iterator it) {
    auto& w = *it->second;
    kill(w.pid, SIGKILL);
    waitpid(w.pid, nullptr, 0);
    w.channel.close();
    workers.erase(it);
  }

  // Hands the trial to the slot's worker, started first if the slot has none (or a dead one).
  void assign(const Launch& launch, int slot_lock) {
    const auto line = fmt::format("run {}\n", launch.trial_id);
    auto it = workers.find(launch.slot.name);
    if (it != workers.end() && it->second->trial_id != 0)
      throw std::logic_error(
          fmt::format("slot {} is still running trial {}", launch.slot.name, it->second->trial_id));
    if (it != workers.end() && (it->second->retiring || !send(*it->second, line))) {
      discard(it);  // it ends, or died since the last reap
      it = workers.end();
    }
    if (it == workers.end()) {
      it = workers.emplace(launch.slot.name, spawn(launch.slot)).first;
      send(*it->second, line);  // if it dies before it reads this, reap() reports the trial
    }
    it->second->trial_id = launch.trial_id;
    it->second->slot_lock = slot_lock;
  }

  void wait_for_event(double timeout_seconds) {
    timed_out = false;
    const int generation = ++timer_generation;
    timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(timeout_seconds)));
    timer.async_wait([this, generation](const boost::system::error_code& error) {
      if (!error && generation == timer_generation) timed_out = true;
    });
    io.restart();
    while (!timed_out && exits.empty() && stop_signal == 0) {
      io.run_one();
      reap();
    }
    timer.cancel();
  }
};

ProcessRunner::ProcessRunner(ProcessRunnerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  std::filesystem::create_directories(log_dir(impl_->options));
  std::filesystem::create_directories(slot_lock_dir(impl_->options));
  impl_->watch_children();
  impl_->watch_stop_signals();
}

ProcessRunner::~ProcessRunner() {
  stop_all();
}

double ProcessRunner::now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->epoch).count();
}

bool ProcessRunner::start(const Launch& launch) {
  auto& s = *impl_;
  s.reap();  // a worker that died while idle is replaced by assign()
  const int slot_lock = lock_slot(s.options, launch.slot);
  if (slot_lock < 0) return false;
  try {
    s.assign(launch, slot_lock);
  } catch (...) {
    close(slot_lock);
    throw;
  }
  return true;
}

std::optional<Exit> ProcessRunner::wait(double timeout_seconds) {
  auto& s = *impl_;
  s.reap();
  if (s.exits.empty() && s.stop_signal == 0) s.wait_for_event(timeout_seconds);
  if (s.exits.empty() || s.stop_signal != 0) return std::nullopt;
  auto exit = s.exits.front();
  s.exits.pop_front();
  return exit;
}

int ProcessRunner::interrupted() {
  return impl_->stop_signal;
}

void ProcessRunner::abandon(std::int64_t trial_id) {
  for (const auto& [slot, w] : impl_->workers)
    if (w->trial_id == trial_id) kill(w->pid, SIGKILL);
}

void ProcessRunner::stop_all() {
  auto& workers = impl_->workers;
  for (const auto& [slot, w] : workers) {
    kill(w->pid, SIGTERM);
    kill(w->pid, SIGCONT);  // a paused worker acts on SIGTERM only once it runs again
  }
  for (const auto& [slot, w] : workers) {
    waitpid(w->pid, nullptr, 0);
    unlock(w->slot_lock);
    w->channel.close();
  }
  workers.clear();
  // The closed sockets' cancelled waits hold their workers: let them go while asio is whole.
  impl_->io.restart();
  impl_->io.poll();
}

int ProcessRunner::worker_pid(const std::string& slot_name) const {
  const auto it = impl_->workers.find(slot_name);
  return it == impl_->workers.end() || !it->second ? 0 : it->second->pid;
}

}  // namespace automl::engine
