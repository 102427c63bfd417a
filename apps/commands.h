// The ember command line: each subcommand registers itself on the CLI11 app
// through one add_*_command function, implemented in its own cmd_*.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace ember::apps {

// Options every subcommand takes.
struct CommonOptions {
  uint64_t seed = 1;
  int threads = 0;  // 0 = keep EMBER_NUM_THREADS or all hardware threads
  bool quiet = false;
};

// Adds --seed, --threads and --quiet to a subcommand, stored in options.
void add_common_options(CLI::App& command, CommonOptions& options);

// Applies the common options that act globally (the thread count).
void apply_common_options(const CommonOptions& options);

// Throws a UserError naming the option and the folder unless files can be
// created in the folder, or in its nearest existing ancestor when the folder
// is still to be made. Commands call it before long work, so a bad output
// path fails at the start instead of after training.
void check_output_folder(const std::filesystem::path& folder, std::string_view option);

// Checks the folder of an output file as check_output_folder does, then
// creates that folder, so that the file can be written at the end.
void prepare_output_file(const std::filesystem::path& file, std::string_view option);

// Thrown by commands for errors the user can fix: main prints the message
// as one line on stderr and exits with status 1.
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void add_demo_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);
void add_digits_command(CLI::App& app);
void add_landscape_command(CLI::App& app);
void add_render_command(CLI::App& app);
void add_decode_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_plot_command(CLI::App& app);

}  // namespace ember::apps
