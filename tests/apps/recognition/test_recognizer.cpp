// Tests for an ASG recognizer's transitions: checkpoint round trips, ASG
// Viterbi decoding against hand-computed paths, and `ember train --loss asg`
// saving what it learned.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>

#include "apps/data/random.h"
#include "apps/recognition/recognizer.h"
#include "apps/recognition/trainer.h"
#include "nn/checkpoint.h"

using namespace ember;
using namespace ember::recognition;

namespace {

// Symbols a, b and the separator _ (index 2), decoded with the ctc topology.
RecognizerSpec small_spec() {
  RecognizerSpec spec;
  spec.model = "tiny";
  spec.symbols = "ab_";
  spec.separator = 2;
  spec.topology = alignment::TopologyKind::ctc;
  return spec;
}

// A fresh folder under the system's temporary folder, removed on exit.
struct TemporaryFolder {
  std::filesystem::path path;
  explicit TemporaryFolder(const std::string& name)
      : path(std::filesystem::temp_directory_path() / name) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TemporaryFolder() { std::filesystem::remove_all(path); }
};

bool has_tensor(const std::string& path, const std::string& name) {
  for (const nn::NamedTensor& tensor : nn::read_safetensors(path).tensors) {
    if (tensor.first == name) {
      return true;
    }
  }
  return false;
}

void check_same_parameters(Recognizer& got, Recognizer& expected) {
  const auto got_parameters = got.model().named_parameters();
  const auto expected_parameters = expected.model().named_parameters();
  REQUIRE(got_parameters.size() == expected_parameters.size());
  for (size_t i = 0; i < got_parameters.size(); ++i) {
    INFO("parameter " << got_parameters[i].first);
    CHECK(got_parameters[i].first == expected_parameters[i].first);
    CHECK(got_parameters[i].second.to_vector() == expected_parameters[i].second.to_vector());
  }
}

// Four noise images of 43 px (6 windows of the tiny model) labelled with
// two letters each: enough for one Adam step to move the transitions.
Samples two_letter_noise_samples(uint64_t seed) {
  Samples samples;
  data::Rng rng(seed);
  for (const char* text : {"ab", "ba", "aa", "bb"}) {
    data::GrayImage image(32, 43);
    for (float& pixel : image.pixels) {
      pixel = static_cast<float>(data::uniform01(rng));
    }
    samples.push_back({image, text});
  }
  return samples;
}

// Options for training with the ASG loss for one epoch of batch 4, so one
// step on the samples above.
TrainOptions one_asg_step(const std::filesystem::path& run_dir) {
  TrainOptions options;
  options.loss = kAsg;
  options.epochs = 1;
  options.batch_size = 4;
  options.quiet = true;
  options.run_dir = run_dir.string();
  return options;
}

}  // namespace

TEST_CASE("recognizer transitions checkpoint round trip", "[recognition][checkpoint][asg]") {
  const TemporaryFolder folder("ember_test_recognizer_round_trip");
  const std::string path = (folder.path / "asg.safetensors").string();
  Generator generator(5);
  Recognizer original(small_spec(), /*seed=*/3);
  original.set_transitions(uniform({3, 3}, -1.0f, 1.0f, generator));
  original.save(path, nullptr);

  CHECK(has_tensor(path, "asg.transitions"));
  Recognizer loaded = Recognizer::load(path);
  REQUIRE(loaded.transitions().defined());
  CHECK(loaded.transitions().shape() == Shape{3, 3});
  CHECK(loaded.transitions().to_vector() == original.transitions().to_vector());
  check_same_parameters(loaded, original);
}

TEST_CASE("recognizer without transitions loads", "[recognition][checkpoint]") {
  const TemporaryFolder folder("ember_test_recognizer_no_transitions");
  const std::string path = (folder.path / "ctc.safetensors").string();
  Recognizer original(small_spec(), /*seed=*/4);
  original.save(path, nullptr);

  CHECK_FALSE(has_tensor(path, "asg.transitions"));
  Recognizer loaded = Recognizer::load(path);
  CHECK_FALSE(loaded.transitions().defined());
  check_same_parameters(loaded, original);
}

TEST_CASE("recognizer rejects transitions of another shape", "[recognition][asg]") {
  Recognizer recognizer(small_spec(), /*seed=*/1);
  CHECK_THROWS_AS(recognizer.set_transitions(zeros({2, 2})), std::invalid_argument);
  CHECK_THROWS_AS(recognizer.set_transitions(zeros({3, 4})), std::invalid_argument);
  CHECK_FALSE(recognizer.transitions().defined());
}

TEST_CASE("asg viterbi decode uses transitions", "[recognition][decode][asg]") {
  // Symbols a = 0, b = 1, separator = 2. Per window the emissions prefer
  // a, b, a (energy 0 + 0 + 0), the runner-up sequence is a a a (0 + 1 + 0).
  const Tensor energies = from_vector({0.0f, 2.0f, 5.0f,   //
                                       1.0f, 0.0f, 5.0f,   //
                                       0.0f, 2.0f, 5.0f},  //
                                      {1, 3, 3});

  SECTION("zero transitions keep the emissions' best path") {
    const auto decoded = asg_viterbi_decode(energies, {3}, zeros({3, 3}), /*separator=*/2);
    REQUIRE(decoded.size() == 1);
    CHECK(decoded[0].labels == std::vector<int64_t>{0, 1, 0});
    CHECK(decoded[0].path == std::vector<int64_t>{0, 1, 0});
    CHECK(decoded[0].energy == Approx(0.0f));
  }

  SECTION("costly a-b transitions change the best path") {
    // a b a now costs 0 + 3 + 3 = 6, b b b 4, a a a 1: the best, merged to "a".
    const Tensor transitions = from_vector({0.0f, 3.0f, 0.0f,  //
                                            3.0f, 0.0f, 0.0f,  //
                                            0.0f, 0.0f, 0.0f},
                                           {3, 3});
    const auto decoded = asg_viterbi_decode(energies, {3}, transitions, /*separator=*/2);
    REQUIRE(decoded.size() == 1);
    CHECK(decoded[0].path == std::vector<int64_t>{0, 0, 0});
    CHECK(decoded[0].labels == std::vector<int64_t>{0});
    CHECK(decoded[0].energy == Approx(1.0f));
  }

  SECTION("the separator splits a repeat and is dropped") {
    const Tensor separated = from_vector({0.0f, 2.0f, 5.0f,   //
                                          3.0f, 3.0f, 0.0f,   //
                                          0.0f, 2.0f, 5.0f},  //
                                         {1, 3, 3});
    const auto decoded = asg_viterbi_decode(separated, {3}, zeros({3, 3}), /*separator=*/2);
    CHECK(decoded[0].path == std::vector<int64_t>{0, 2, 0});
    CHECK(decoded[0].labels == std::vector<int64_t>{0, 0});
  }

  SECTION("input lengths limit the windows") {
    const auto decoded = asg_viterbi_decode(energies, {1}, zeros({3, 3}), /*separator=*/2);
    CHECK(decoded[0].labels == std::vector<int64_t>{0});
    CHECK(decoded[0].energy == Approx(0.0f));

    const auto empty = asg_viterbi_decode(energies, {0}, zeros({3, 3}), /*separator=*/2);
    CHECK(empty[0].labels.empty());
    CHECK(empty[0].energy == Approx(0.0f));
  }

  SECTION("invalid lengths throw") {
    CHECK_THROWS_AS(asg_viterbi_decode(energies, {4}, zeros({3, 3}), 2), std::invalid_argument);
    CHECK_THROWS_AS(asg_viterbi_decode(energies, {3, 3}, zeros({3, 3}), 2), std::invalid_argument);
  }
}

TEST_CASE("train with asg saves its transitions", "[recognition][train][asg]") {
  const TemporaryFolder folder("ember_test_recognizer_train_asg");
  const Samples samples = two_letter_noise_samples(/*seed=*/11);

  TrainOptions options = one_asg_step(folder.path / "asg");
  options.learning_rate = 0.01f;
  Recognizer recognizer(small_spec(), /*seed=*/2);
  std::ostringstream log;
  train(recognizer, samples, {}, options, log);

  const std::string best = options.run_dir + "/best.safetensors";
  const std::string last = options.run_dir + "/last.safetensors";
  CHECK(has_tensor(last, "optimizer.asg.transitions.exp_avg"));
  Recognizer loaded = Recognizer::load(best);
  REQUIRE(loaded.transitions().defined());
  CHECK(loaded.transitions().to_vector() == recognizer.transitions().to_vector());
  bool moved = false;
  for (float value : loaded.transitions().to_vector()) {
    moved = moved || value != 0.0f;
  }
  CHECK(moved);

  SECTION("another loss drops the transitions") {
    TrainOptions ctc = options;
    ctc.loss = "ctc";
    ctc.run_dir = (folder.path / "ctc").string();
    train(loaded, samples, {}, ctc, log);
    CHECK_FALSE(loaded.transitions().defined());
    CHECK_FALSE(has_tensor(ctc.run_dir + "/best.safetensors", "asg.transitions"));
  }
}

TEST_CASE("train clips asg transitions too", "[recognition][train][asg][clip]") {
  const TemporaryFolder folder("ember_test_recognizer_clip_asg");
  const Samples samples = two_letter_noise_samples(/*seed=*/13);

  // A tiny clip norm scales every gradient down, so after the step the
  // gradients of the network and the transitions together have exactly
  // that norm.
  TrainOptions options = one_asg_step(folder.path / "run");
  options.clip_norm = 1e-3f;
  Recognizer recognizer(small_spec(), /*seed=*/2);
  std::ostringstream log;
  train(recognizer, samples, {}, options, log);

  // train() leaves the last step's gradients on the tensors it updated.
  auto squared_norm = [](const Tensor& tensor) {
    double sum = 0.0;
    for (float value : tensor.grad().to_vector()) {
      sum += static_cast<double>(value) * value;
    }
    return sum;
  };
  double network = 0.0;
  for (const Tensor& parameter : recognizer.model().parameters()) {
    REQUIRE(parameter.grad().defined());
    network += squared_norm(parameter);
  }
  REQUIRE(recognizer.transitions().grad().defined());
  const double transitions = squared_norm(recognizer.transitions());
  INFO("network gradient norm " << std::sqrt(network) << ", transitions gradient norm " << std::sqrt(transitions));
  CHECK(network > 0.0);
  CHECK(transitions > 0.0);
  CHECK(std::sqrt(network + transitions) == Approx(1e-3).epsilon(1e-4));
}
