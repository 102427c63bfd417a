// Command-line options shared by the handwriting commands: where the data
// comes from (DataOptions) and how to read the run folder.
#pragma once

#include <CLI/CLI.hpp>

#include "apps/recognition/sources.h"

namespace ember::apps {

// Adds --source, --fonts, --holdout-fonts, --words, lengths, rendering and
// augmentation, --mnist-dir, --folder and set sizes to a subcommand.
void add_data_options(CLI::App& command, recognition::DataOptions& options);

}  // namespace ember::apps
