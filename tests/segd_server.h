// SegdServer: one `segd serve` process for a test, on a free loopback port
// with a fresh data directory (or one given), stopped by its destructor.
// REQUIRES: SEGD_BINARY defined as the path of the segd binary.
#ifndef SEGD_TESTS_SEGD_SERVER_H_
#define SEGD_TESTS_SEGD_SERVER_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace segd {
namespace testing {

inline std::string Clip(std::string_view text, size_t max = 1500) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max)) + "...(" +
         std::to_string(text.size()) + " bytes)";
}

inline std::string MakeTempDir(std::string_view tag) {
  std::string pattern = ::testing::TempDir();
  if (!pattern.empty() && pattern.back() != '/') pattern.push_back('/');
  pattern += "segd_e2e_" + std::string(tag) + "_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) return "";
  return buffer.data();
}

// A temporary directory, removed with all it holds when this goes.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(std::string_view tag) : path_(MakeTempDir(tag)) {}
  ~ScopedTempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// --- The server under test ------------------------------------------------

// One `segd serve --port 0 --data-dir <fresh dir>` process. Its standard
// output is read by a thread of ours (for the port and "ready"); its
// standard error goes to a file in its temporary directory. The child dies
// with this process (PR_SET_PDEATHSIG), and the destructor stops it, so
// that no server outlives a test.
class SegdServer {
 public:
  struct Options {
    std::vector<std::string> args;  // after serve --port 0 --data-dir DIR
    // Set in the server's environment; SEGD_API_KEY is unset unless given.
    std::vector<std::pair<std::string, std::string>> env;
    bool wait_ready = true;  // wait for "segd: ready" before returning
    // The data directory; "" for a fresh one (removed with the server).
    std::string data_dir;
  };

  SegdServer() : SegdServer(Options{}) {}
  explicit SegdServer(Options options) { Start(options); }
  ~SegdServer() {
    Stop(SIGTERM);
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  SegdServer(const SegdServer&) = delete;
  SegdServer& operator=(const SegdServer&) = delete;

  bool started() const { return port_ != 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // Waits until the standard output holds `text`; false at its end or
  // after `timeout`.
  bool WaitForOutput(std::string_view text,
                     std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return out_.find(text) != std::string::npos || eof_;
    }) && out_.find(text) != std::string::npos;
  }

  std::string Describe() const {
    std::string err;
    if (!dir_.empty()) {
      if (FILE* f = std::fopen((dir_ + "/stderr.log").c_str(), "r")) {
        char chunk[4096];
        size_t n;
        while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) {
          err.append(chunk, n);
        }
        std::fclose(f);
      }
    }
    std::lock_guard lock(mu_);
    return "segd " + std::string(problem_) + "\nstdout: " + Clip(out_) +
           "\nstderr: " + Clip(err);
  }

  // Sends `signal` (none when 0) and waits for the process (SIGKILL after
  // `patience`); returns its wait status, as waitpid gives it.
  int Stop(int signal,
           std::chrono::milliseconds patience = std::chrono::seconds(30)) {
    if (pid_ > 0) {
      ::kill(pid_, signal);
      int status = 0;
      bool exited = false;
      for (int64_t i = 0; i < patience.count() / 10 && !exited; ++i) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno != EINTR)) {
          exited = true;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      if (!exited) {
        killed_ = true;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      status_ = status;
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    return status_;
  }
  // Whether Stop had to kill it.
  bool killed() const { return killed_; }

 private:
  void Start(const Options& options) {
    dir_ = MakeTempDir("server");
    if (dir_.empty()) {
      problem_ = "cannot make a temporary directory";
      return;
    }
    std::vector<std::string> args = {
        SEGD_BINARY,
        "serve",
        "--port",
        "0",
        "--data-dir",
        options.data_dir.empty() ? dir_ + "/data" : options.data_dir};
    args.insert(args.end(), options.args.begin(), options.args.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("SEGD_API_KEY=")) env.push_back(*e);
    }
    for (const auto& [name, value] : options.env)
      env.push_back(name + "=" + value);
    // Everything the child touches is made before fork: between fork and
    // exec it may call only async-signal-safe functions.
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      problem_ = "cannot make a pipe";
      return;
    }
    const int err_fd = ::open((dir_ + "/stderr.log").c_str(),
                              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      if (err_fd >= 0) ::dup2(err_fd, STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    if (err_fd >= 0) ::close(err_fd);
    out_fd_ = pipe_fds[0];
    if (pid_ < 0) {
      problem_ = "cannot fork";
      return;
    }
    reader_ = std::thread([this] {
      char chunk[4096];
      for (;;) {
        const ssize_t n = ::read(out_fd_, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::lock_guard lock(mu_);
        out_.append(chunk, static_cast<size_t>(n));
        cv_.notify_all();
      }
      std::lock_guard lock(mu_);
      eof_ = true;
      cv_.notify_all();
    });
    constexpr std::string_view kListening = "segd: listening on http://";
    {
      std::unique_lock lock(mu_);
      const bool seen = cv_.wait_for(lock, std::chrono::seconds(60), [&] {
        const size_t at = out_.find(kListening);
        return eof_ || (at != std::string::npos &&
                        out_.find('\n', at) != std::string::npos);
      });
      const size_t at = out_.find(kListening);
      if (!seen || at == std::string::npos) {
        problem_ = "never said where it listens";
        return;
      }
      const size_t end = out_.find('\n', at);
      const std::string line = out_.substr(at, end - at);
      const size_t colon = line.rfind(':');
      const int port = std::atoi(line.c_str() + colon + 1);
      if (port <= 0 || port > 65535) {
        problem_ = "printed no port";
        return;
      }
      port_ = static_cast<uint16_t>(port);
    }
    if (options.wait_ready && !WaitForOutput("segd: ready\n")) {
      problem_ = "never became ready";
      port_ = 0;
    }
  }

  std::string dir_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  uint16_t port_ = 0;
  int status_ = 0;
  bool killed_ = false;
  const char* problem_ = "is running";
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;   // guarded by mu_
  bool eof_ = false;  // guarded by mu_
};

}  // namespace testing
}  // namespace segd

#endif  // SEGD_TESTS_SEGD_SERVER_H_
