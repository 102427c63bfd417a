// The ember binary: parses the command line with CLI11 and runs one
// subcommand. Errors from any command end as one line on stderr and a
// non-zero exit status.
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include "apps/commands.h"
#include "autodiff/kernels/threads.h"

namespace ember::apps {

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--seed", options.seed, "Seed for every random choice (data, init, order)")
      ->capture_default_str();
  command.add_option("--threads", options.threads,
                     "Worker threads for the kernels; 0 keeps EMBER_NUM_THREADS or uses all cores")
      ->check(CLI::Range(0, 1024));
  command.add_flag("--quiet,-q", options.quiet, "Print only errors and the final result");
}

void apply_common_options(const CommonOptions& options) {
  if (options.threads > 0) {
    kernels::set_num_threads(options.threads);
  }
}

}  // namespace ember::apps

int main(int argc, char** argv) {
  CLI::App app{"ember: train and inspect energy-based handwriting recognizers"};
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
