// Tests of the ember command line: each runs the built binary (EMBER_BINARY,
// set by tests/CMakeLists.txt) in a shell and checks its exit status, its
// output and the files it writes. Bad input must end in one line on stderr
// that names the file or value, and a non-zero status.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/cli_helpers.h"
#include "apps/data/image_io.h"
#include "apps/data/test_helpers.h"
#include "nn/checkpoint.h"

using ember::data::testing::TempFolder;
using namespace ember::cli_testing;

TEST_CASE("cli help of every command", "[cli][help]") {
  for (const std::string command : {"render", "decode", "eval", "plot energies", "plot path", "plot metrics",
                                    "plot graph", "train", "pretrain"}) {
    const Run run = run_ember(command + " --help");
    INFO("ember " << command << " --help");
    CHECK(run.status == 0);
    CHECK(run.out.find("--seed") != std::string::npos);
    CHECK(run.out.find("--threads") != std::string::npos);
    CHECK(run.out.find("--quiet") != std::string::npos);
  }
}

TEST_CASE("cli parse errors keep CLI11 exit codes", "[cli][errors]") {
  SECTION("missing positional argument") {
    const Run run = run_ember("decode");
    CHECK(run.status == 106);  // CLI::ExitCodes::RequiredError
    CHECK(run.err.find("checkpoint") != std::string::npos);
  }
  SECTION("unknown option") {
    const Run run = run_ember("eval some.safetensors --no-such-option");
    CHECK(run.status == 109);  // CLI::ExitCodes::ExtrasError
  }
  SECTION("value outside its range") {
    const Run run = run_ember("decode a b --beam-width 0");
    CHECK(run.status == 105);  // CLI::ExitCodes::ValidationError
  }
}

TEST_CASE("cli render writes a dataset folder", "[cli][render]") {
  TempFolder temp("render");

  SECTION("given words, one image per word and font") {
    render_words(temp / "words", "hello world");
    CHECK(read_text(temp / "words" / "labels.tsv") == "000000.png\thello\n000001.png\tworld\n");
    const auto image = ember::data::load_gray_image(temp / "words" / "000000.png");
    CHECK(image.height == 32);
    CHECK(image.width == 5 * 18);
  }
  SECTION("a generated test set with a preview") {
    const Run run = run_ember(fmt::format("render --quiet --set test --test-samples 5 --min-length 2 --max-length 3 "
                                      "--out '{}' --preview '{}'",
                                      (temp / "set").string(), (temp / "preview.png").string()));
    INFO(run.err);
    REQUIRE(run.status == 0);
    const auto lines = lines_of(read_text(temp / "set" / "labels.tsv"));
    REQUIRE(lines.size() == 5);
    for (const std::string& line : lines) {
      const std::string text = line.substr(line.find('\t') + 1);
      CHECK(text.size() >= 2);
      CHECK(text.size() <= 3);
    }
    CHECK(is_png(temp / "preview.png"));
  }
  SECTION("the same seed renders the same images") {
    render_words(temp / "a", "seed");
    render_words(temp / "b", "seed");
    CHECK(read_text(temp / "a" / "000000.png") == read_text(temp / "b" / "000000.png"));
  }
  SECTION("an existing dataset is kept unless --overwrite") {
    render_words(temp / "words", "first");
    const Run again = run_ember(fmt::format("render --text second --out '{}'", (temp / "words").string()));
    require_one_line_error(again);
    CHECK(again.err.find("--overwrite") != std::string::npos);
    CHECK(read_text(temp / "words" / "labels.tsv") == "000000.png\tfirst\n");

    const Run forced = run_ember(fmt::format("render -q --text second --overwrite --out '{}'", (temp / "words").string()));
    CHECK(forced.status == 0);
    CHECK(read_text(temp / "words" / "labels.tsv") == "000000.png\tsecond\n");
  }
}

TEST_CASE("cli render rejects bad input", "[cli][render][errors]") {
  TempFolder temp("render-errors");
  const std::string out = (temp / "out").string();

  SECTION("missing font") {
    const Run run = run_ember(fmt::format("render --fonts 'No Such Font Family' --text abc --out '{}'", out));
    require_one_line_error(run);
    CHECK(run.err.find("No Such Font Family") != std::string::npos);
  }
  SECTION("missing font file") {
    const Run run = run_ember(fmt::format("render --fonts '{}/missing.ttf' --text abc --out '{}'", temp.path().string(), out));
    require_one_line_error(run);
    CHECK(run.err.find("missing.ttf") != std::string::npos);
  }
  SECTION("label with a symbol outside the alphabet") {
    const Run run = run_ember(fmt::format("render --text 'Hello' --out '{}'", out));
    require_one_line_error(run);
    CHECK(run.err.find("'Hello'") != std::string::npos);
    CHECK(run.err.find("'H'") != std::string::npos);
    CHECK_FALSE(fs::exists(temp / "out" / "labels.tsv"));
  }
  SECTION("label with a character outside ASCII") {
    const Run run = run_ember(fmt::format("render --text 'h\xc3\xa9llo' --out '{}'", out));
    require_one_line_error(run);
    CHECK(run.err.find("symbol '\xc3\xa9'") != std::string::npos);
  }
  SECTION("shortest word longer than the longest") {
    const Run run = run_ember(fmt::format("render --min-length 5 --max-length 2 --out '{}'", out));
    require_one_line_error(run);
    CHECK(run.err.find("--min-length 5 is greater than --max-length 2") != std::string::npos);
  }
  SECTION("empty dataset") {
    const Run run = run_ember(fmt::format("render --set test --test-samples 0 --out '{}'", out));
    require_one_line_error(run);
    CHECK(run.err.find("empty") != std::string::npos);
  }
  SECTION("empty word list") {
    write_text(temp / "words.txt", "\n\n");
    const Run run = run_ember(fmt::format("render --words '{}' --out '{}'", (temp / "words.txt").string(), out));
    require_one_line_error(run);
    CHECK(run.err.find("words.txt") != std::string::npos);
  }
}

TEST_CASE("cli decode prints text and free energy", "[cli][decode]") {
  TempFolder temp("decode");
  const std::string checkpoint = fixture_checkpoint();
  render_words(temp / "words", "hello cab");

  SECTION("one line per image: file, text, free energy") {
    const fs::path image = temp / "words" / "000000.png";
    for (const std::string method : {"greedy", "viterbi", "beam"}) {
      const Run run = run_ember(fmt::format("decode -q --decode {} '{}' '{}'", method, checkpoint, image.string()));
      INFO(method << ": " << run.err);
      REQUIRE(run.status == 0);
      const auto lines = lines_of(run.out);
      REQUIRE(lines.size() == 1);
      std::vector<std::string> fields;
      std::istringstream split(lines[0]);
      std::string field;
      while (std::getline(split, field, '\t')) {
        fields.push_back(field);
      }
      REQUIRE(fields.size() == 3);
      CHECK(fields[0] == image.string());
      CHECK(fields[1].find_first_not_of("abcdefghijklmnopqrstuvwxyz") == std::string::npos);
      CHECK(std::isfinite(std::stod(fields[2])));
    }
  }
  SECTION("a folder gives every image in name order") {
    const Run run = run_ember(fmt::format("decode -q '{}' '{}'", checkpoint, (temp / "words").string()));
    REQUIRE(run.status == 0);
    const auto lines = lines_of(run.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].rfind((temp / "words" / "000000.png").string(), 0) == 0);
    CHECK(lines[1].rfind((temp / "words" / "000001.png").string(), 0) == 0);
  }
  SECTION("dark ink on light paper reads like light on dark") {
    ember::data::GrayImage image = ember::data::load_gray_image(temp / "words" / "000000.png");
    ember::data::GrayImage inverted = image;
    for (float& pixel : inverted.pixels) {
      pixel = 1.0f - pixel;
    }
    ember::data::save_png(inverted, temp / "inverted.png");
    const Run original = run_ember(fmt::format("decode -q '{}' '{}'", checkpoint, (temp / "words" / "000000.png").string()));
    const Run flipped = run_ember(fmt::format("decode -q '{}' '{}'", checkpoint, (temp / "inverted.png").string()));
    REQUIRE(original.status == 0);
    REQUIRE(flipped.status == 0);
    CHECK(original.out.substr(original.out.find('\t')) == flipped.out.substr(flipped.out.find('\t')));
  }
  SECTION("tall and narrow images are scaled and padded") {
    ember::data::save_png(ember::data::GrayImage(100, 3, 1.0f), temp / "narrow.png");
    ember::data::save_png(ember::data::GrayImage(4, 4, 0.0f), temp / "tiny.png");
    const Run run = run_ember(fmt::format("decode -q '{}' '{}' '{}'", checkpoint, (temp / "narrow.png").string(),
                                      (temp / "tiny.png").string()));
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(lines_of(run.out).size() == 2);
  }
  SECTION("a lexicon restricts the output to its words") {
    write_text(temp / "lexicon.txt", "hello\nworld\n");
    const Run run = run_ember(fmt::format("decode -q --lexicon '{}' '{}' '{}'", (temp / "lexicon.txt").string(),
                                      checkpoint, (temp / "words").string()));
    INFO(run.err);
    REQUIRE(run.status == 0);
    for (const std::string& line : lines_of(run.out)) {
      const std::string text = line.substr(line.find('\t') + 1, line.rfind('\t') - line.find('\t') - 1);
      CHECK((text == "hello" || text == "world" || text.empty()));
    }
  }
}

TEST_CASE("cli warns once when no lexicon word fits", "[cli][decode][eval][lexicon]") {
  TempFolder temp("lexicon-fit");
  const std::string checkpoint = fixture_checkpoint();
  render_words(temp / "words", "cab hi ok");
  // The fixture decodes with the separator topology, so an 18-letter word
  // needs 36 windows: a 223 px wide image for the tiny model, far wider
  // than these three short words.
  const fs::path lexicon = temp / "lexicon.txt";
  write_text(lexicon, "internationalization\ncharacteristically\n");
  const std::string expected = fmt::format(
      "warning: no word of lexicon '{}' fits 3 of 3 images: the shortest, 'characteristically', needs 36 windows",
      lexicon.string());

  SECTION("decode prints empty texts and one warning") {
    const Run run = run_ember(fmt::format("decode -q --batch-size 1 --lexicon '{}' '{}' '{}'", lexicon.string(),
                                          checkpoint, (temp / "words").string()));
    INFO("stderr: " << run.err);
    REQUIRE(run.status == 0);
    const auto lines = lines_of(run.out);
    REQUIRE(lines.size() == 3);
    for (const std::string& line : lines) {
      CHECK(line.find("\t\t") != std::string::npos);  // the text between the two TABs is empty
    }
    REQUIRE(lines_of(run.err).size() == 1);
    CHECK(run.err.rfind("ember decode: " + expected, 0) == 0);
  }
  SECTION("eval prints one warning") {
    const Run run = run_ember(fmt::format("eval -q --batch-size 1 --lexicon '{}' --folder '{}' '{}'",
                                          lexicon.string(), (temp / "words").string(), checkpoint));
    INFO("stderr: " << run.err);
    REQUIRE(run.status == 0);
    REQUIRE(lines_of(run.err).size() == 1);
    CHECK(run.err.rfind("ember eval: " + expected, 0) == 0);
  }
  SECTION("no warning when a short word fits every image") {
    // "hi" needs 4 windows, as many as the narrowest image, "hi" itself, has.
    write_text(lexicon, "internationalization\nhi\n");
    const Run run = run_ember(fmt::format("decode -q --lexicon '{}' '{}' '{}'", lexicon.string(), checkpoint,
                                          (temp / "words").string()));
    INFO("stderr: " << run.err);
    REQUIRE(run.status == 0);
    CHECK(run.err.empty());
  }
}

TEST_CASE("cli decode rejects bad images", "[cli][decode][errors]") {
  TempFolder temp("decode-errors");
  const std::string checkpoint = fixture_checkpoint();
  render_words(temp / "words", "good");
  const std::string good = read_text(temp / "words" / "000000.png");

  auto decode_file = [&](const std::string& name) {
    return run_ember(fmt::format("decode '{}' '{}'", checkpoint, (temp / name).string()));
  };
  SECTION("missing image") {
    const Run run = decode_file("missing.png");
    require_one_line_error(run);
    CHECK(run.err.find("missing.png") != std::string::npos);
  }
  SECTION("zero-size image") {
    write_text(temp / "empty.png", "");
    const Run run = decode_file("empty.png");
    require_one_line_error(run);
    CHECK(run.err.find("empty.png") != std::string::npos);
  }
  SECTION("truncated image") {
    write_text(temp / "cut.png", good.substr(0, good.size() / 2));
    const Run run = decode_file("cut.png");
    require_one_line_error(run);
    CHECK(run.err.find("cut.png") != std::string::npos);
  }
  SECTION("corrupt image") {
    write_text(temp / "noise.png", std::string(300, '\x5a'));
    const Run run = decode_file("noise.png");
    require_one_line_error(run);
    CHECK(run.err.find("noise.png") != std::string::npos);
  }
  SECTION("absurdly large image") {
    write_text(temp / "huge.png", png_with_size(good, 100000, 100000));
    const Run run = decode_file("huge.png");
    require_one_line_error(run);
    CHECK(run.err.find("huge.png") != std::string::npos);
    CHECK(run.err.find("too large") != std::string::npos);
  }
  SECTION("a damaged image in a folder is skipped and counted") {
    write_text(temp / "words" / "broken.png", good.substr(0, 40));
    const Run run = run_ember(fmt::format("decode -q '{}' '{}'", checkpoint, (temp / "words").string()));
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(lines_of(run.out).size() == 1);
    CHECK(run.err.find("broken.png") != std::string::npos);
    CHECK(run.err.find("1 damaged images skipped") != std::string::npos);
  }
  SECTION("folder without images") {
    fs::create_directories(temp / "nothing");
    const Run run = run_ember(fmt::format("decode '{}' '{}'", checkpoint, (temp / "nothing").string()));
    require_one_line_error(run);
    CHECK(run.err.find("nothing") != std::string::npos);
  }
  SECTION("missing lexicon") {
    const Run run = run_ember(fmt::format("decode --lexicon '{}' '{}' '{}'", (temp / "words.txt").string(), checkpoint,
                                      (temp / "words").string()));
    require_one_line_error(run);
    CHECK(run.err.find("words.txt") != std::string::npos);
  }
  SECTION("lexicon without words") {
    write_text(temp / "words.txt", "\n\n");
    const Run run = run_ember(fmt::format("decode --lexicon '{}' '{}' '{}'", (temp / "words.txt").string(), checkpoint,
                                          (temp / "words").string()));
    require_one_line_error(run);
    CHECK(run.err.find("'" + (temp / "words.txt").string() + "' has no words") != std::string::npos);
  }
  SECTION("lexicon word outside the alphabet") {
    write_text(temp / "words.txt", "hello\nWorld\n");
    const Run run = run_ember(fmt::format("decode --lexicon '{}' '{}' '{}'", (temp / "words.txt").string(), checkpoint,
                                          (temp / "words").string()));
    require_one_line_error(run);
    CHECK(run.err.find("words.txt:2") != std::string::npos);
    CHECK(run.err.find("fix or remove that word") != std::string::npos);
  }
}

TEST_CASE("cli rejects bad checkpoints", "[cli][checkpoint][errors]") {
  TempFolder temp("checkpoints");
  render_words(temp / "words", "abc");
  const std::string image = (temp / "words" / "000000.png").string();

  auto decode_with = [&](const fs::path& checkpoint) {
    return run_ember(fmt::format("decode '{}' '{}'", checkpoint.string(), image));
  };
  SECTION("missing checkpoint") {
    const Run run = decode_with(temp / "nowhere.safetensors");
    require_one_line_error(run);
    CHECK(run.err.find("nowhere.safetensors") != std::string::npos);
  }
  SECTION("a run folder instead of its checkpoint") {
    const Run run = decode_with(fixture_run());
    require_one_line_error(run);
    CHECK(run.err.find("is a folder") != std::string::npos);
    CHECK(run.err.find((fixture_run() / "best.safetensors").string()) != std::string::npos);
  }
  SECTION("a file that is not safetensors") {
    write_text(temp / "notes.safetensors", "these are notes, not weights\n");
    const Run run = decode_with(temp / "notes.safetensors");
    require_one_line_error(run);
    CHECK(run.err.find("notes.safetensors") != std::string::npos);
  }
  SECTION("a checkpoint without model metadata") {
    ember::nn::write_safetensors((temp / "bare.safetensors").string(),
                                 {{"weight", ember::zeros({2, 2})}});
    const Run run = decode_with(temp / "bare.safetensors");
    require_one_line_error(run);
    CHECK(run.err.find("bare.safetensors") != std::string::npos);
    CHECK(run.err.find("metadata") != std::string::npos);
  }
  SECTION("metadata naming another model than the weights") {
    auto contents = ember::nn::read_safetensors(fixture_checkpoint());
    contents.metadata["model"] = "cnn";
    ember::nn::write_safetensors((temp / "mismatch.safetensors").string(), contents.tensors, contents.metadata);
    const Run run = decode_with(temp / "mismatch.safetensors");
    require_one_line_error(run);
    CHECK(run.err.find("mismatch.safetensors") != std::string::npos);
  }
  SECTION("eval on data of another alphabet") {
    const Run run = run_ember(fmt::format("eval '{}' --source digits", fixture_checkpoint()));
    require_one_line_error(run);
    CHECK(run.err.find("0123456789_") != std::string::npos);
  }
}

TEST_CASE("cli eval reports error rates", "[cli][eval]") {
  TempFolder temp("eval");
  const std::string checkpoint = fixture_checkpoint();

  SECTION("generated test set with a JSON report") {
    const fs::path json = temp / "report.json";
    const Run run = run_ember(fmt::format("eval -q '{}' --test-samples 12 --max-length 3 --confusions 3 --json '{}'",
                                      checkpoint, json.string()));
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(run.out.find("12 images") != std::string::npos);
    CHECK(run.out.find("ember") != std::string::npos);
    const auto report = nlohmann::json::parse(read_text(json));
    CHECK(report["samples"] == 12);
    const double cer = report["ember"]["cer"];
    CHECK(cer >= 0.0);
    CHECK(report["ember"]["confusions"].size() <= 3);
    // The table shows the same CER as the file, in percent.
    CHECK(run.out.find(fmt::format("{:.2f}%", 100.0 * cer)) != std::string::npos);
  }
  SECTION("a labelled folder is used whole, damaged images skipped") {
    render_words(temp / "words", "one two three four five");
    write_text(temp / "words" / "000002.png", "damaged");
    const Run run = run_ember(fmt::format("eval -q '{}' --folder '{}' --json '{}'", checkpoint,
                                      (temp / "words").string(), (temp / "report.json").string()));
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(run.err.find("000002.png") != std::string::npos);
    CHECK(run.out.find("1 damaged images skipped") != std::string::npos);
    const auto report = nlohmann::json::parse(read_text(temp / "report.json"));
    CHECK(report["samples"] == 4);
    CHECK(report["skipped"] == 1);
  }
}

TEST_CASE("cli eval rejects bad input", "[cli][eval][errors]") {
  TempFolder temp("eval-errors");
  const std::string checkpoint = fixture_checkpoint();

  SECTION("label with a symbol outside the alphabet") {
    render_words(temp / "words", "abc");
    write_text(temp / "words" / "labels.tsv", "000000.png\tAbc\n");
    const Run run = run_ember(fmt::format("eval '{}' --folder '{}'", checkpoint, (temp / "words").string()));
    require_one_line_error(run);
    CHECK(run.err.find("labels.tsv") != std::string::npos);
    CHECK(run.err.find("Abc") != std::string::npos);
  }
  SECTION("empty test set") {
    const Run run = run_ember(fmt::format("eval '{}' --test-samples 0", checkpoint));
    require_one_line_error(run);
    CHECK(run.err.find("empty") != std::string::npos);
  }
  SECTION("folder without labels.tsv") {
    fs::create_directories(temp / "bare");
    const Run run = run_ember(fmt::format("eval '{}' --folder '{}'", checkpoint, (temp / "bare").string()));
    require_one_line_error(run);
    CHECK(run.err.find("labels.tsv") != std::string::npos);
  }
  SECTION("folder whose every image is damaged") {
    fs::create_directories(temp / "broken");
    write_text(temp / "broken" / "a.png", "");
    write_text(temp / "broken" / "labels.tsv", "a.png\tabc\n");
    const Run run = run_ember(fmt::format("eval '{}' --folder '{}'", checkpoint, (temp / "broken").string()));
    require_one_line_error(run);
    CHECK(run.err.find("broken") != std::string::npos);
    CHECK(run.err.find("1 damaged") != std::string::npos);
    CHECK(run.err.find("the first: image") != std::string::npos);
    CHECK(run.err.find("a.png") != std::string::npos);
  }
}

TEST_CASE("cli eval compares with tesseract", "[cli][eval][tesseract]") {
  const std::string checkpoint = fixture_checkpoint();

  SECTION("tesseract absent from PATH") {
    const Run run = run_ember(fmt::format("eval -q '{}' --test-samples 2 --tesseract", checkpoint), "PATH=/nonexistent");
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(run.err.find("tesseract is not on PATH") != std::string::npos);
    CHECK(run.out.find("tesseract") == std::string::npos);
  }
  SECTION("tesseract installed") {
    if (std::system("command -v tesseract > /dev/null 2>&1") != 0) {
      WARN("tesseract is not installed; skipping its comparison");
      return;
    }
    TempFolder temp("tesseract");
    const Run run = run_ember(fmt::format("eval -q '{}' --test-samples 4 --binarize --tesseract --json '{}'", checkpoint,
                                      (temp / "report.json").string()));
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(run.out.find("tesseract") != std::string::npos);
    const auto report = nlohmann::json::parse(read_text(temp / "report.json"));
    const double cer = report["tesseract"]["cer"];
    CHECK(cer >= 0.0);
  }
}

TEST_CASE("cli plot writes pictures", "[cli][plot]") {
  TempFolder temp("plot");
  const std::string checkpoint = fixture_checkpoint();
  render_words(temp / "words", "cab");
  const std::string image = (temp / "words" / "000000.png").string();

  SECTION("energies with and without a target") {
    const Run plain = run_ember(fmt::format("plot energies -q '{}' '{}' -o '{}'", checkpoint, image,
                                        (temp / "e.png").string()));
    const Run target = run_ember(fmt::format("plot energies -q '{}' '{}' --target cab -o '{}'", checkpoint, image,
                                         (temp / "t.png").string()));
    INFO(plain.err << target.err);
    CHECK(plain.status == 0);
    CHECK(target.status == 0);
    CHECK(is_png(temp / "e.png"));
    CHECK(is_png(temp / "t.png"));
  }
  SECTION("path matrix and DP table") {
    const Run run = run_ember(fmt::format("plot path -q '{}' '{}' --target cab -o '{}' --table-out '{}'", checkpoint,
                                      image, (temp / "pm.png").string(), (temp / "dp.png").string()));
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(is_png(temp / "pm.png"));
    CHECK(is_png(temp / "dp.png"));
  }
  SECTION("metrics curves") {
    const Run run = run_ember(fmt::format("plot metrics -q '{}' -o '{}'", (fixture_run() / "metrics.jsonl").string(),
                                      (temp / "curves.png").string()));
    INFO(run.err);
    CHECK(run.status == 0);
    CHECK(is_png(temp / "curves.png"));
  }
  SECTION("a graph file in Ember's text format") {
    write_text(temp / "g.txt", "ember-graph 1\nstates 2\nstart 0\naccept 1\narcs 1\n0 1 0 0 1.5\n");
    const Run run = run_ember(fmt::format("plot graph -q '{}' -o '{}' --dot '{}'", (temp / "g.txt").string(),
                                      (temp / "g.png").string(), (temp / "g.dot").string()));
    INFO(run.err);
    CHECK(read_text(temp / "g.dot").find("digraph") != std::string::npos);
    if (std::system("command -v dot > /dev/null 2>&1") == 0) {
      CHECK(run.status == 0);
      CHECK(is_png(temp / "g.png"));
    } else {
      require_one_line_error(run);
      CHECK(run.err.find("graphviz") != std::string::npos);
    }
  }
  SECTION("a graph file in AT&T text without dot on PATH") {
    write_text(temp / "g.fst", "0 1 1 1 0.5\n1\n");
    const Run run = run_ember(fmt::format("plot graph '{}' -o '{}'", (temp / "g.fst").string(), (temp / "g.png").string()),
                          "PATH=/nonexistent");
    require_one_line_error(run);
    CHECK(run.err.find("graphviz") != std::string::npos);
    CHECK_FALSE(fs::exists(temp / "g.png"));
  }
}

TEST_CASE("cli plot rejects bad input", "[cli][plot][errors]") {
  TempFolder temp("plot-errors");
  const std::string checkpoint = fixture_checkpoint();
  render_words(temp / "words", "cab");
  const std::string image = (temp / "words" / "000000.png").string();

  SECTION("target with a symbol outside the alphabet") {
    const Run run = run_ember(fmt::format("plot path '{}' '{}' --target 'C4b'", checkpoint, image));
    require_one_line_error(run);
    CHECK(run.err.find("C4b") != std::string::npos);
  }
  SECTION("missing image") {
    const Run run = run_ember(fmt::format("plot energies '{}' '{}'", checkpoint, (temp / "none.png").string()));
    require_one_line_error(run);
    CHECK(run.err.find("none.png") != std::string::npos);
  }
  SECTION("metrics file that is not JSON lines") {
    write_text(temp / "metrics.jsonl", "epoch 1 loss 2\n");
    const Run run = run_ember(fmt::format("plot metrics '{}' -o '{}'", (temp / "metrics.jsonl").string(),
                                      (temp / "c.png").string()));
    require_one_line_error(run);
    CHECK(run.err.find("metrics.jsonl") != std::string::npos);
  }
  SECTION("malformed graph file") {
    write_text(temp / "bad.fst", "zero one two\n");
    const Run run = run_ember(fmt::format("plot graph '{}'", (temp / "bad.fst").string()));
    require_one_line_error(run);
    CHECK(run.err.find("bad.fst") != std::string::npos);
  }
}
