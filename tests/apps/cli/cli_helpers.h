// Helpers for the command-line tests: run the built ember binary (EMBER_BINARY,
// set by tests/CMakeLists.txt) in a shell and read what it printed and wrote.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

namespace ember::cli_testing {

namespace fs = std::filesystem;

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

// Runs `ember <arguments>` through /bin/sh, with `environment` (e.g.
// "PATH=/nowhere") put in front of the command.
inline Run run_ember(const std::string& arguments, const std::string& environment = "") {
  static int counter = 0;
  const fs::path base = fs::temp_directory_path() / fmt::format("ember-cli-{}-{}", getpid(), counter++);
  const std::string command = fmt::format("{} '{}' {} > '{}.out' 2> '{}.err'", environment, EMBER_BINARY,
                                          arguments, base.string(), base.string());
  const int raw = std::system(command.c_str());
  Run run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read_text(base.string() + ".out");
  run.err = read_text(base.string() + ".err");
  fs::remove(base.string() + ".out");
  fs::remove(base.string() + ".err");
  return run;
}

// Starts `ember <arguments>` without a shell, polls `ready` every 10 ms
// until it returns true, sends `signal` to the process and waits for it to
// end. A process that ends before it is ready gets no signal. status is -1
// when a signal killed the process instead of it exiting.
inline Run run_ember_interrupted(const std::vector<std::string>& arguments, const std::function<bool()>& ready,
                                 int signal = SIGINT) {
  static int counter = 0;
  const fs::path base = fs::temp_directory_path() / fmt::format("ember-cli-signal-{}-{}", getpid(), counter++);
  const std::string out_file = base.string() + ".out";
  const std::string err_file = base.string() + ".err";
  std::vector<std::string> words = {EMBER_BINARY};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) {
    argv.push_back(word.data());
  }
  argv.push_back(nullptr);

  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Only async-signal-safe calls between fork and exec.
    const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }

  int raw = 0;
  while (waitpid(child, &raw, WNOHANG) == 0) {
    if (ready()) {
      kill(child, signal);
      waitpid(child, &raw, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Run run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read_text(out_file);
  run.err = read_text(err_file);
  fs::remove(out_file);
  fs::remove(err_file);
  return run;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

// Checks a run failed with status 1 and one line on stderr, `ember: ...`.
inline void require_one_line_error(const Run& run) {
  INFO("stderr: " << run.err);
  CHECK(run.status == 1);
  REQUIRE(lines_of(run.err).size() == 1);
  CHECK(run.err.rfind("ember: ", 0) == 0);
}

// An exclusive flock on a file, released when the object goes out of scope
// (or the process ends, as when a REQUIRE fails).
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::flock(fd_, LOCK_EX) == 0);
  }
  ~FileLock() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

// A run folder of a briefly pretrained tiny recognizer, made once per build
// next to the binary and remade when the binary is newer. Its accuracy is
// poor: the tests check the commands, not the model. CTest runs test cases
// in parallel processes, so a lock makes one of them build the folder while
// the others wait, instead of each replacing it under the others' reads.
inline fs::path fixture_run() {
  const fs::path folder = fs::path(EMBER_BINARY).parent_path() / "cli-test-fixture";
  const fs::path checkpoint = folder / "best.safetensors";
  const FileLock lock(folder.string() + ".lock");
  if (fs::exists(checkpoint) && fs::last_write_time(checkpoint) > fs::last_write_time(EMBER_BINARY)) {
    return folder;
  }
  const fs::path staging = folder.string() + fmt::format("-{}", getpid());
  const Run run = run_ember(fmt::format("pretrain --epochs 2 --train-samples 256 --validation-samples 32 "
                                    "--test-samples 8 --quiet --run-dir '{}'",
                                    staging.string()));
  INFO("pretrain stderr: " << run.err);
  REQUIRE(run.status == 0);
  fs::remove_all(folder);
  fs::rename(staging, folder);
  return folder;
}

inline std::string fixture_checkpoint() { return (fixture_run() / "best.safetensors").string(); }

// Renders words into folder with Anonymous Pro, the homework's setup.
inline void render_words(const fs::path& folder, const std::string& words) {
  const Run run = run_ember(fmt::format("render --quiet --text '{}' --out '{}'", words, folder.string()));
  INFO("render stderr: " << run.err);
  REQUIRE(run.status == 0);
}

inline bool is_png(const fs::path& file) {
  const std::string bytes = read_text(file);
  return bytes.size() > 8 && bytes.compare(1, 3, "PNG") == 0;
}

// Bytes of a PNG whose header claims width x height pixels.
inline std::string png_with_size(const std::string& png, uint32_t width, uint32_t height) {
  std::string bytes = png;
  for (int k = 0; k < 4; ++k) {
    bytes[16 + k] = static_cast<char>(width >> (24 - 8 * k));
    bytes[20 + k] = static_cast<char>(height >> (24 - 8 * k));
  }
  return bytes;
}

}  // namespace ember::cli_testing
