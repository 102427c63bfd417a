// Tests of the ember command line's training commands (train, digits,
// landscape) and of what every command checks first: EMBER_NUM_THREADS,
// parse errors, output folders and fonts. Bad input must end in one line on
// stderr that names the value, before any training starts.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "apps/cli/cli_helpers.h"
#include "apps/data/font.h"
#include "apps/data/idx.h"
#include "apps/data/image_io.h"
#include "apps/data/test_helpers.h"
#include "nn/checkpoint.h"

using ember::data::testing::TempFolder;
using namespace ember::cli_testing;

namespace {

// Writes `count` synthetic 28 x 28 digits as IDX files: digit d is a
// vertical bar d + 1 pixels wide, so the labels cycle through 0-9.
void write_bar_digits(const fs::path& images_file, const fs::path& labels_file, int count) {
  ember::data::IdxImages images;
  images.count = count;
  images.rows = 28;
  images.cols = 28;
  images.pixels.assign(static_cast<size_t>(count) * 28 * 28, 0);
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < count; ++i) {
    const int digit = i % 10;
    labels.push_back(static_cast<std::uint8_t>(digit));
    for (int row = 4; row < 24; ++row) {
      for (int col = 10; col <= 10 + digit; ++col) {
        images.pixels[static_cast<size_t>((i * 28 + row) * 28 + col)] = 255;
      }
    }
  }
  ember::data::write_idx_images(images_file, images);
  ember::data::write_idx_labels(labels_file, labels);
}

// A temporary folder with `count` bar digits as IDX files, and the path of
// a digits run's output folder in it.
struct BarDigitsFolder {
  BarDigitsFolder(const std::string& tag, int count) : temp(tag) { write_bar_digits(images, labels, count); }

  TempFolder temp;
  fs::path images = temp / "images.idx3-ubyte";
  fs::path labels = temp / "labels.idx1-ubyte";
  fs::path output = temp / "run";
};

bool font_installed(const std::string& family, const std::string& package) {
  try {
    ember::data::Font::find(family);
    return true;
  } catch (const std::runtime_error&) {
    WARN("font family '" << family << "' not installed (Debian package " << package << "); skipping");
    return false;
  }
}

}  // namespace

TEST_CASE("cli parse errors are one line", "[cli][errors]") {
  const Run run = run_ember("decode a b --beam-width 0");
  INFO("stderr: " << run.err);
  CHECK(run.status == 105);  // CLI::ExitCodes::ValidationError
  REQUIRE(lines_of(run.err).size() == 1);
  CHECK(run.err.rfind("ember: ", 0) == 0);
  CHECK(run.err.find("see 'ember decode --help'") != std::string::npos);
}

TEST_CASE("cli rejects an invalid EMBER_NUM_THREADS", "[cli][threads][errors]") {
  TempFolder temp("threads");
  // Each command reads the variable first: before its own errors (the
  // missing files below), and even when --threads overrides it.
  const std::vector<std::string> commands = {
      fmt::format("render --text hi --out '{}'", (temp / "words").string()),
      fmt::format("landscape --steps 1 --threads 2 -o '{}'", (temp / "l.png").string()),
      "plot metrics no-such-metrics.jsonl",
      "digits --images no-such-images --labels no-such-labels",
      "train --init no-such-checkpoint.safetensors --threads 1",
      "decode no-such-checkpoint.safetensors no-such-image.png",
  };
  for (const std::string value : {"abc", "0", "-3", "99999", "4 "}) {
    for (const std::string& command : commands) {
      const Run run = run_ember(command, fmt::format("EMBER_NUM_THREADS='{}'", value));
      INFO("EMBER_NUM_THREADS='" << value << "' ember " << command);
      require_one_line_error(run);
      CHECK(run.err.find(fmt::format("EMBER_NUM_THREADS='{}' is invalid", value)) != std::string::npos);
      CHECK(run.err.find("1 to 1024") != std::string::npos);
    }
  }
  CHECK_FALSE(fs::exists(temp / "words"));

  const Run valid = run_ember(fmt::format("render -q --text hi --out '{}'", (temp / "words").string()),
                              "EMBER_NUM_THREADS=1");
  CHECK(valid.status == 0);
}

TEST_CASE("cli rejects a negative seed", "[cli][seed][errors]") {
  TempFolder temp("seed");
  // Every command that takes --seed. The invalid EMBER_NUM_THREADS stops any
  // command that gets past parsing at its first step, so a seed that slips
  // through fails with status 1 at once instead of training.
  const std::vector<std::string> commands = {
      "demo",
      "train",
      "pretrain",
      "digits",
      "landscape",
      fmt::format("render --text hi --out '{}'", (temp / "words").string()),
      "decode no-such-checkpoint.safetensors no-such-image.png",
      "eval no-such-checkpoint.safetensors",
      "plot energies no-such-checkpoint.safetensors no-such-image.png",
      "plot path no-such-checkpoint.safetensors no-such-image.png --target ab",
      "plot metrics no-such-metrics.jsonl",
      "plot graph no-such-graph.fst",
  };
  SECTION("negative values fail while parsing") {
    // -18446744073709551615 would wrap around to seed 1.
    for (const std::string seed : {"-1", "-5", "-18446744073709551615", " -1"}) {
      for (const std::string& command : commands) {
        for (const std::string& option : {fmt::format("--seed '{}'", seed), fmt::format("'--seed={}'", seed)}) {
          const Run run = run_ember(command + " " + option, "EMBER_NUM_THREADS=abc");
          INFO("ember " << command << " " << option << "; stderr: " << run.err);
          CHECK(run.status == 105);  // CLI::ExitCodes::ValidationError
          REQUIRE(lines_of(run.err).size() == 1);
          CHECK(run.err.find("--seed") != std::string::npos);
          CHECK(run.err.find("is negative") != std::string::npos);
        }
      }
    }
  }

  SECTION("0 and the largest seed are accepted") {
    for (const std::string seed : {"0", "18446744073709551615"}) {
      const Run run = run_ember(fmt::format("render -q --seed {} --text hi --out '{}'", seed,
                                            (temp / ("words-" + seed)).string()));
      INFO("--seed " << seed << "; stderr: " << run.err);
      CHECK(run.status == 0);
    }
  }
}

TEST_CASE("cli landscape bounds the step size", "[cli][landscape][errors]") {
  TempFolder temp("landscape");

  SECTION("a huge --batch names the value and the range") {
    const Run run = run_ember("landscape --batch 1000000");
    INFO("stderr: " << run.err);
    CHECK(run.status == 105);  // CLI::ExitCodes::ValidationError
    REQUIRE(lines_of(run.err).size() == 1);
    CHECK(run.err.find("1000000") != std::string::npos);
    CHECK(run.err.find("1 to 4096") != std::string::npos);
  }
  SECTION("a batch too large for the grid and hidden sizes") {
    // 4096 x (4096 + 1) x 64 network units exceed 2^25; 127 x 4097 x 64 do not.
    const Run run = run_ember(fmt::format("landscape --batch 4096 --grid 4096 -o '{}'",
                                          (temp / "l.png").string()));
    require_one_line_error(run);
    CHECK(run.err.find("--batch 4096") != std::string::npos);
    CHECK(run.err.find("1 to 127") != std::string::npos);
    CHECK_FALSE(fs::exists(temp / "l.png"));
  }
  SECTION("the output folder is made before training") {
    const fs::path picture = temp / "new" / "folder" / "l.png";
    const Run run = run_ember(fmt::format("landscape -q --steps 2 --batch 8 -o '{}'", picture.string()));
    INFO("stderr: " << run.err);
    CHECK(run.status == 0);
    CHECK(is_png(picture));
  }
  SECTION("an output under a file fails before training") {
    write_text(temp / "file", "not a folder");
    const Run run = run_ember(fmt::format("landscape --steps 2 -o '{}'", (temp / "file" / "l.png").string()));
    require_one_line_error(run);
    CHECK(run.err.find("is not a folder") != std::string::npos);
    CHECK(run.out.find("step") == std::string::npos);
  }
}

TEST_CASE("cli digits keeps an earlier run", "[cli][digits]") {
  const BarDigitsFolder digits("digits", 40);
  const TempFolder& temp = digits.temp;
  const fs::path& images = digits.images;
  const fs::path& labels = digits.labels;
  const fs::path& output = digits.output;
  const std::string tiny_run = fmt::format(
      "digits -q --images '{}' --labels '{}' --output '{}' --test-count 10 --epochs 1 --batch-size 10 "
      "--conv1 2 --conv2 2 --fc1 8 --fc2 8",
      images.string(), labels.string(), output.string());

  SECTION("a new folder gets a checkpoint and a loss curve") {
    const Run run = run_ember(tiny_run);
    INFO("stderr: " << run.err);
    REQUIRE(run.status == 0);
    CHECK(is_png(output / "loss.png"));
    CHECK_NOTHROW(ember::nn::read_safetensors((output / "lenet5.safetensors").string()));
  }
  SECTION("an earlier run is rejected unless --overwrite") {
    fs::create_directories(output);
    write_text(output / "lenet5.safetensors", "earlier run");
    const Run rejected = run_ember(tiny_run);
    require_one_line_error(rejected);
    CHECK(rejected.err.find(output.string()) != std::string::npos);
    CHECK(rejected.err.find("lenet5.safetensors exists") != std::string::npos);
    CHECK(rejected.err.find("--overwrite") != std::string::npos);
    CHECK(read_text(output / "lenet5.safetensors") == "earlier run");

    const Run forced = run_ember(tiny_run + " --overwrite");
    INFO("stderr: " << forced.err);
    REQUIRE(forced.status == 0);
    CHECK_NOTHROW(ember::nn::read_safetensors((output / "lenet5.safetensors").string()));
  }
  SECTION("a loss curve alone counts as an earlier run") {
    fs::create_directories(output);
    write_text(output / "loss.png", "earlier run");
    const Run rejected = run_ember(tiny_run);
    require_one_line_error(rejected);
    CHECK(rejected.err.find("loss.png exists") != std::string::npos);
  }
  SECTION("an output under a file fails before training") {
    write_text(temp / "file", "not a folder");
    const Run run = run_ember(fmt::format("digits --images '{}' --labels '{}' --output '{}'", images.string(),
                                          labels.string(), (temp / "file" / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("--output") != std::string::npos);
    CHECK(run.out.find("epoch") == std::string::npos);
  }
}

TEST_CASE("cli digits stops cleanly on a signal", "[cli][digits][interrupt]") {
  const BarDigitsFolder digits("digits-interrupt", 2000);
  const fs::path& output = digits.output;
  // 1000 epochs of 1,990 digits run far longer than the test waits.
  std::vector<std::string> arguments = {
      "digits", "--images", digits.images.string(), "--labels", digits.labels.string(), "--output",
      output.string(), "--test-count", "10", "--epochs", "1000", "--batch-size", "10"};

  SECTION("Ctrl-C after an epoch keeps that epoch's files") {
    // A tiny network keeps the epochs short.
    arguments.insert(arguments.end(), {"--conv1", "2", "--conv2", "2", "--fc1", "8", "--fc2", "8"});
    const Run run = run_ember_interrupted(arguments, [&] { return fs::exists(output / "lenet5.safetensors"); });
    require_one_line_error(run);
    CHECK(run.err.find("interrupted in epoch") != std::string::npos);
    CHECK(run.err.find(output.string()) != std::string::npos);
    CHECK(is_png(output / "loss.png"));
    CHECK_NOTHROW(ember::nn::read_safetensors((output / "lenet5.safetensors").string()));
  }
  SECTION("SIGTERM in the first epoch says nothing was written") {
    // The output folder appears just before the first epoch starts, and an
    // epoch of the default network takes far longer than the 10 ms between
    // polls.
    const Run run = run_ember_interrupted(arguments, [&] { return fs::is_directory(output); }, SIGTERM);
    require_one_line_error(run);
    CHECK(run.err.find("interrupted in epoch 1 after") != std::string::npos);
    CHECK(run.err.find("no epoch finished") != std::string::npos);
    CHECK_FALSE(fs::exists(output / "lenet5.safetensors"));
  }
}

TEST_CASE("cli train checks its inputs before the data", "[cli][train][errors]") {
  TempFolder temp("train");

  SECTION("missing --init checkpoint") {
    const Run run = run_ember(fmt::format("train --init '{}' --run-dir '{}'", (temp / "none.safetensors").string(),
                                          (temp / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("none.safetensors") != std::string::npos);
  }
  SECTION("--model that contradicts the --init checkpoint") {
    const Run run = run_ember(fmt::format("train --init '{}' --model cnn --run-dir '{}'", fixture_checkpoint(),
                                          (temp / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("--model cnn contradicts") != std::string::npos);
  }
  SECTION("--init checkpoint of another alphabet") {
    // A folder of digit labels: the letters checkpoint cannot read them.
    const fs::path folder = temp / "digits";
    fs::create_directories(folder);
    std::string list;
    for (int i = 0; i < 10; ++i) {
      const std::string file = fmt::format("{}.png", i);
      ember::data::save_png(ember::data::GrayImage(32, 72), folder / file);
      list += fmt::format("{}\t{}{}{}\n", file, i, i, i);
    }
    write_text(folder / "labels.tsv", list);
    const Run run = run_ember(fmt::format("train --init '{}' --source folder --folder '{}' --run-dir '{}'",
                                          fixture_checkpoint(), folder.string(), (temp / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("scores symbols") != std::string::npos);
    CHECK_FALSE(fs::exists(temp / "run" / "last.safetensors"));
  }
  SECTION("a run folder with a run in it") {
    fs::create_directories(temp / "run");
    write_text(temp / "run" / "best.safetensors", "earlier run");
    const Run run = run_ember(fmt::format("train --run-dir '{}'", (temp / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("already contains a run") != std::string::npos);
    CHECK(read_text(temp / "run" / "best.safetensors") == "earlier run");
  }
  SECTION("--loss asg with --decode beam") {
    const Run run = run_ember(fmt::format("train --loss asg --decode beam --run-dir '{}'",
                                          (temp / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("--decode beam") != std::string::npos);
    CHECK_FALSE(fs::exists(temp / "run" / "last.safetensors"));
  }
  SECTION("a run folder under a file") {
    write_text(temp / "file", "not a folder");
    const Run run = run_ember(fmt::format("train --run-dir '{}'", (temp / "file" / "run").string()));
    require_one_line_error(run);
    CHECK(run.err.find("--run-dir") != std::string::npos);
  }
}

TEST_CASE("cli warns about capital letterforms at a-z", "[cli][fonts]") {
  TempFolder temp("fonts");

  SECTION("Humor Sans, in render and in training") {
    if (!font_installed("Humor Sans", "fonts-humor-sans")) return;
    const Run render = run_ember(
        fmt::format("render -q --text hello --fonts 'Humor Sans' --out '{}'", (temp / "words").string()));
    INFO("render stderr: " << render.err);
    CHECK(render.status == 0);
    REQUIRE(lines_of(render.err).size() == 1);
    CHECK(render.err.find("warning: font 'Humor Sans'") != std::string::npos);
    CHECK(render.err.find("capital letterforms") != std::string::npos);

    // --quiet keeps the warning.
    const Run train = run_ember(fmt::format(
        "pretrain -q --fonts 'Humor Sans' --epochs 1 --train-samples 16 --validation-samples 0 --test-samples 0 "
        "--run-dir '{}'",
        (temp / "run").string()));
    INFO("pretrain stderr: " << train.err);
    CHECK(train.status == 0);
    CHECK(train.err.find("warning: font 'Humor Sans'") != std::string::npos);
  }
  SECTION("small capitals of fonts-bwht") {
    const fs::path font = "/usr/share/fonts/opentype/bwht/BecauseWeConnect-Regular.otf";
    if (!fs::exists(font)) {
      WARN(font << " not installed (Debian package fonts-bwht); skipping");
      return;
    }
    const Run run = run_ember(
        fmt::format("render -q --text hello --fonts '{}' --out '{}'", font.string(), (temp / "words").string()));
    CHECK(run.status == 0);
    CHECK(run.err.find("capital letterforms") != std::string::npos);
  }
  SECTION("a lowercase font gives no warning") {
    const Run run = run_ember(fmt::format("render -q --text hello --out '{}'", (temp / "words").string()));
    CHECK(run.status == 0);
    CHECK(run.err.empty());
  }
}

TEST_CASE("cli train anneals the learning rate with cosine", "[cli][train]") {
  TempFolder temp("train-cosine");
  const fs::path run_dir = temp / "run";
  const Run run = run_ember(fmt::format(
      "train --epochs 3 --train-samples 64 --validation-samples 8 --test-samples 8 --lr 0.002 "
      "--lr-schedule cosine --quiet --run-dir '{}'",
      run_dir.string()));
  INFO("train stderr: " << run.err);
  REQUIRE(run.status == 0);

  // metrics.jsonl records the step size in use at the end of each epoch.
  std::istringstream lines(read_text(run_dir / "metrics.jsonl"));
  std::vector<double> rates;
  for (std::string line; std::getline(lines, line);) {
    const std::string key = "\"learning_rate\":";
    const size_t at = line.find(key);
    REQUIRE(at != std::string::npos);
    rates.push_back(std::stod(line.substr(at + key.size())));
  }
  REQUIRE(rates.size() == 3);
  CHECK(rates[0] < 0.002);
  CHECK(rates[1] < rates[0]);
  CHECK(rates[2] < rates[1]);
  // 64 samples in batches of 32: 6 steps in all, the last one step 5 of a
  // cosine from 0.002 down to 1% of it, 0.00002.
  const double last = 0.00002 + (0.002 - 0.00002) * (1.0 + std::cos(M_PI * 5.0 / 6.0)) / 2.0;
  CHECK(rates[2] == Approx(last).epsilon(1e-4));
}
