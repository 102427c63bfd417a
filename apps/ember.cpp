// The ember binary: parses the command line with CLI11 and runs one
// subcommand. Errors from any command end as one line on stderr and a
// non-zero exit status.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/options.h"
#include "autodiff/kernels/threads.h"

namespace ember::apps {

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--seed", options.seed, "Seed for every random choice (data, init, order)")
      ->check(non_negative_integer())
      ->capture_default_str();
  command.add_option("--threads", options.threads,
                     "Worker threads for the kernels; 0 keeps EMBER_NUM_THREADS or uses all cores")
      ->check(CLI::Range(0, 1024));
  command.add_flag("--quiet,-q", options.quiet, "Print only errors and the final result");
}

void apply_common_options(const CommonOptions& options) {
  // Reading the thread count parses EMBER_NUM_THREADS, so an invalid value
  // stops every command here, even one that --threads overrides or one that
  // never runs a threaded kernel.
  kernels::num_threads();
  if (options.threads > 0) {
    kernels::set_num_threads(options.threads);
  }
}

void check_output_folder(const std::filesystem::path& folder, std::string_view option) {
  // The folder itself, or the nearest ancestor that exists, must take new files.
  std::filesystem::path existing = folder.empty() ? "." : folder;
  while (!std::filesystem::exists(existing) && existing.has_relative_path()) {
    existing = existing.parent_path().empty() ? "." : existing.parent_path();
  }
  if (!std::filesystem::is_directory(existing)) {
    throw UserError(fmt::format("{}: cannot use folder '{}' because '{}' is not a folder; pick another path",
                                option, folder.string(), existing.string()));
  }
  // Creating a file is the only sure test: permission bits do not stop root,
  // and a read-only mount shows only when writing.
  const std::filesystem::path probe = existing / fmt::format(".ember-write-test-{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw UserError(fmt::format("{}: cannot write to folder '{}' ({}); pick another path", option,
                                existing.string(), std::strerror(errno)));
  }
  ::close(fd);
  std::filesystem::remove(probe);
}

void prepare_output_file(const std::filesystem::path& file, std::string_view option) {
  const std::filesystem::path folder = file.parent_path();
  check_output_folder(folder, option);
  if (!folder.empty()) {
    std::filesystem::create_directories(folder);
  }
}

}  // namespace ember::apps

namespace {

// Formats CLI11's parse errors as one line, like every other error:
// "ember: <CLI11's message>; see 'ember <command> --help'".
std::string one_line_parse_error(const CLI::App* app, const CLI::Error& error) {
  std::string command = app->get_name();
  const CLI::App* current = app;
  while (!current->get_subcommands().empty()) {
    current = current->get_subcommands().front();
    command += " " + current->get_name();
  }
  return fmt::format("ember: {}; see '{} --help'\n", error.what(), command);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember: train and inspect energy-based handwriting recognizers", "ember"};
  app.failure_message(one_line_parse_error);
  app.require_subcommand(1);
  ember::apps::add_demo_command(app);
  ember::apps::add_pretrain_command(app);
  ember::apps::add_train_command(app);
  ember::apps::add_digits_command(app);
  ember::apps::add_landscape_command(app);
  ember::apps::add_render_command(app);
  ember::apps::add_decode_command(app);
  ember::apps::add_eval_command(app);
  ember::apps::add_plot_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const std::exception& error) {
    fmt::print(stderr, "ember: {}\n", error.what());
    return 1;
  }
  return 0;
}
