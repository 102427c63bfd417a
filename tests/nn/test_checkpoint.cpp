// Tests of .safetensors checkpoints: bit-exact round trips, the byte layout
// other tools read, atomic writes, every corrupt-file case, and exact resume
// of training from a checkpoint with optimizer state.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autodiff/autodiff.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/optim.h"

using namespace ember;
using namespace ember::nn;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test case, removed afterwards.
struct TemporaryFolder {
  TemporaryFolder() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("ember_checkpoint_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TemporaryFolder() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::string u64_le(uint64_t value) {
  std::string bytes;
  for (int i = 0; i < 8; ++i) {
    bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  return bytes;
}

// A file made of a given header text and a data section of data_bytes zeros.
std::string make_file(const std::string& header, size_t data_bytes) {
  return u64_le(header.size()) + header + std::string(data_bytes, '\0');
}

int64_t count_entries(const fs::path& folder) {
  const fs::directory_iterator entries(folder);
  return std::distance(fs::begin(entries), fs::end(entries));
}

std::vector<uint32_t> bits_of(const Tensor& t) {
  std::vector<uint32_t> bits;
  for (float v : t.to_vector()) {
    bits.push_back(std::bit_cast<uint32_t>(v));
  }
  return bits;
}

// A small model with two named layers.
std::shared_ptr<Sequential> make_model(uint64_t seed) {
  Generator generator(seed);
  auto model = std::make_shared<Sequential>();
  model->add("fc1", std::make_shared<Linear>(3, 4, generator));
  model->add("relu", std::make_shared<ReLU>());
  model->add("fc2", std::make_shared<Linear>(4, 2, generator));
  return model;
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact", "[nn][checkpoint]") {
  TemporaryFolder folder;
  const std::string path = folder.file("tensors.safetensors");
  const float nan = std::bit_cast<float>(uint32_t{0x7fc01234});  // NaN with a payload
  const Tensor special = from_vector(
      {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
       std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(), nan, 0.1f},
      {2, 4});
  Generator generator(1);
  const Tensor random = normal({3, 5, 7}, 0.0f, 1.0f, generator);
  const Tensor empty = zeros({0, 3});
  const Tensor scalar_tensor = scalar(-2.5f);
  write_safetensors(path, {{"special", special}, {"random", random}, {"empty", empty},
                           {"scalar", scalar_tensor}},
                    {{"note", "round trip"}});

  const SafetensorsContents contents = read_safetensors(path);
  REQUIRE(contents.tensors.size() == 4);

  SECTION("names, shapes and bits survive") {
    CHECK(contents.tensors[0].first == "special");
    CHECK(contents.tensors[0].second.shape() == Shape{2, 4});
    CHECK(bits_of(contents.tensors[0].second) == bits_of(special));
    CHECK(contents.tensors[1].second.shape() == Shape{3, 5, 7});
    CHECK(bits_of(contents.tensors[1].second) == bits_of(random));
    CHECK(contents.tensors[2].second.shape() == Shape{0, 3});
    CHECK(contents.tensors[3].second.shape() == Shape{});
    CHECK(contents.tensors[3].second.item() == -2.5f);
  }
  SECTION("metadata survives") {
    CHECK(contents.metadata.at("note") == "round trip");
  }
}

TEST_CASE("safetensors byte layout", "[nn][checkpoint]") {
  TemporaryFolder folder;
  const std::string path = folder.file("layout.safetensors");
  write_safetensors(path, {{"a", from_vector({1.0f, -2.0f}, {2})}, {"b", scalar(0.5f)}},
                    {{"format", "ember"}});
  const std::string bytes = read_bytes(path);

  // The first 8 bytes are the header length N, little-endian.
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) {
    header_bytes |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  REQUIRE(8 + header_bytes <= bytes.size());
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_bytes));

  SECTION("the data section starts 8-byte aligned") {
    CHECK((8 + header_bytes) % 8 == 0);
  }
  SECTION("each tensor has dtype, shape and data offsets") {
    CHECK(header["a"]["dtype"] == "F32");
    CHECK(header["a"]["shape"] == nlohmann::json::array({2}));
    CHECK(header["a"]["data_offsets"] == nlohmann::json::array({0, 8}));
    CHECK(header["b"]["shape"] == nlohmann::json::array());
    CHECK(header["b"]["data_offsets"] == nlohmann::json::array({8, 12}));
    CHECK(header["__metadata__"]["format"] == "ember");
  }
  SECTION("data is raw little-endian float32") {
    CHECK(bytes.size() == 8 + header_bytes + 12);
    // -2.0f is 0xc0000000: bytes 00 00 00 c0.
    const std::string second = bytes.substr(8 + header_bytes + 4, 4);
    CHECK(second == std::string("\x00\x00\x00\xc0", 4));
  }
  SECTION("Python's standard library reads it") {
    // json and struct only: the layout needs no other package.
    if (std::system("python3 -c 'import json, struct' > /dev/null 2>&1") != 0) {
      WARN("python3 is not installed; the byte-level checks above still ran");
      return;
    }
    const std::string script =
        "import json, struct, sys\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "n = struct.unpack('<Q', data[:8])[0]\n"
        "header = json.loads(data[8:8 + n])\n"
        "begin, end = header['a']['data_offsets']\n"
        "values = struct.unpack('<2f', data[8 + n + begin:8 + n + end])\n"
        "sys.exit(0 if values == (1.0, -2.0) else 1)\n";
    write_bytes(folder.file("read.py"), script);
    CHECK(std::system(("python3 " + folder.file("read.py") + " " + path).c_str()) == 0);
  }
}

TEST_CASE("safetensors writes are atomic", "[nn][checkpoint]") {
  TemporaryFolder folder;
  const std::string path = folder.file("model.safetensors");

  SECTION("a rewrite replaces the file and leaves no temporary file") {
    write_safetensors(path, {{"x", ones({4})}});
    write_safetensors(path, {{"x", zeros({2})}});
    CHECK(read_safetensors(path).tensors[0].second.shape() == Shape{2});
    CHECK(count_entries(folder.path) == 1);
  }
  SECTION("a failed rename keeps what was there and removes the temporary file") {
    // A folder in place of the file makes the final rename fail.
    fs::create_directory(path);
    CHECK_THROWS_AS(write_safetensors(path, {{"x", ones({4})}}), CheckpointError);
    CHECK(fs::is_directory(path));
    CHECK(count_entries(folder.path) == 1);
  }
  SECTION("a missing folder is an error naming the path") {
    const std::string missing = folder.file("no/such/folder/model.safetensors");
    CHECK_THROWS_WITH(write_safetensors(missing, {{"x", ones({1})}}),
                      Catch::Contains("no/such/folder/model.safetensors"));
  }
}

TEST_CASE("safetensors rejects corrupt files", "[nn][checkpoint]") {
  TemporaryFolder folder;
  const std::string good = folder.file("good.safetensors");
  write_safetensors(good, {{"w", ones({2, 3})}});
  const std::string good_bytes = read_bytes(good);
  const std::string path = folder.file("bad.safetensors");

  SECTION("missing file") {
    CHECK_THROWS_WITH(read_safetensors(folder.file("absent.safetensors")),
                      Catch::Contains("absent.safetensors") && Catch::Contains("opening"));
  }
  SECTION("shorter than the length field") {
    write_bytes(path, good_bytes.substr(0, 5));
    CHECK_THROWS_WITH(read_safetensors(path),
                      Catch::Contains(path) && Catch::Contains("the file is 5 bytes"));
  }
  SECTION("truncated data") {
    write_bytes(path, good_bytes.substr(0, good_bytes.size() - 4));
    CHECK_THROWS_WITH(read_safetensors(path),
                      Catch::Contains("tensor 'w'") && Catch::Contains("[0, 24]") &&
                          Catch::Contains("data section of 20 bytes"));
  }
  SECTION("header length beyond the file") {
    write_bytes(path, u64_le(1'000'000) + good_bytes.substr(8));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("header length 1000000 is invalid"));
  }
  SECTION("header length over the format's limit") {
    write_bytes(path, u64_le(uint64_t{1} << 62) + good_bytes.substr(8));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("is invalid"));
  }
  SECTION("bad JSON") {
    write_bytes(path, make_file("{\"w\": {\"dtype\": \"F32\", ", 24));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("not valid JSON"));
  }
  SECTION("header that is not an object") {
    write_bytes(path, make_file("[1, 2, 3]", 0));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("expected a JSON object"));
  }
  SECTION("wrong dtype") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", 4));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("tensor 'w'") &&
                                                  Catch::Contains("dtype is \"F16\"") &&
                                                  Catch::Contains("expected \"F32\""));
  }
  SECTION("shape that does not match its byte range") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", 20));
    CHECK_THROWS_WITH(read_safetensors(path),
                      Catch::Contains("shape [2, 3] needs 24 bytes") && Catch::Contains("20 bytes"));
  }
  SECTION("negative shape") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4));
    CHECK_THROWS_WITH(read_safetensors(path),
                      Catch::Contains("shape contains -1") && Catch::Contains("non-negative"));
  }
  SECTION("huge shape") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("more elements than"));
  }
  SECTION("offsets outside the file") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F32", "shape": [250], "data_offsets": [0, 1000]}})", 8));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("lie outside the data section"));
  }
  SECTION("offsets in the wrong order") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})", 4));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("[4, 0]"));
  }
  SECTION("missing field") {
    write_bytes(path, make_file(R"({"w": {"dtype": "F32", "shape": [1]}})", 4));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("dtype, shape and data_offsets"));
  }
  SECTION("overlapping tensors") {
    write_bytes(path, make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                    "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("tensor 'b': data starts at byte 4, expected 8"));
  }
  SECTION("trailing bytes") {
    write_bytes(path, good_bytes + "xxxx");
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("trailing bytes"));
  }
  SECTION("metadata that is not strings") {
    write_bytes(path, make_file(R"({"__metadata__": {"step": 3}})", 0));
    CHECK_THROWS_WITH(read_safetensors(path), Catch::Contains("'step' is 3, expected a string"));
  }
}

TEST_CASE("checkpoint loading validates against the model", "[nn][checkpoint]") {
  TemporaryFolder folder;
  const std::string path = folder.file("model.safetensors");
  auto model = make_model(1);
  save_checkpoint(path, *model);

  SECTION("round trip restores every parameter bit for bit") {
    auto other = make_model(2);
    load_checkpoint(path, *other);
    for (size_t i = 0; i < model->parameters().size(); ++i) {
      CHECK(bits_of(other->parameters()[i]) == bits_of(model->parameters()[i]));
    }
  }
  SECTION("missing tensor") {
    write_safetensors(path, {{"fc1.weight", model->parameters()[0]}});
    CHECK_THROWS_WITH(load_checkpoint(path, *model),
                      Catch::Contains(path) && Catch::Contains("'fc1.bias' is missing") &&
                          Catch::Contains("[4]"));
  }
  SECTION("shape mismatch names the tensor, the expected and the found shape") {
    std::vector<NamedTensor> tensors = model->named_parameters();
    tensors[0].second = zeros({4, 5});
    write_safetensors(path, tensors);
    CHECK_THROWS_WITH(load_checkpoint(path, *model),
                      Catch::Contains("'fc1.weight' has shape [4, 5], expected [4, 3]"));
  }
  SECTION("unexpected tensor") {
    std::vector<NamedTensor> tensors = model->named_parameters();
    tensors.emplace_back("fc3.weight", zeros({1}));
    write_safetensors(path, tensors);
    CHECK_THROWS_WITH(load_checkpoint(path, *model),
                      Catch::Contains("'fc3.weight' is not a parameter"));
  }
  SECTION("a failed load leaves the model unchanged") {
    auto other = make_model(3);
    const std::vector<uint32_t> before = bits_of(other->parameters()[0]);
    std::vector<NamedTensor> tensors = model->named_parameters();
    tensors.back().second = zeros({7});
    write_safetensors(path, tensors);
    CHECK_THROWS_AS(load_checkpoint(path, *other), CheckpointError);
    CHECK(bits_of(other->parameters()[0]) == before);
  }
  SECTION("optimizer state requested but absent") {
    Adam adam(model->named_parameters(), {});
    CHECK_THROWS_WITH(load_checkpoint(path, *model, &adam),
                      Catch::Contains(path) && Catch::Contains("'optimizer' is missing"));
  }
}

TEST_CASE("checkpoint resumes training exactly", "[nn][checkpoint]") {
  TemporaryFolder folder;
  const std::string path = folder.file("resume.safetensors");
  Generator data_generator(5);
  const Tensor x = normal({8, 3}, 0.0f, 1.0f, data_generator);
  const Tensor target = normal({8, 2}, 0.0f, 1.0f, data_generator);

  auto train_steps = [&](Module& model, Optimizer& optimizer, int steps) {
    for (int i = 0; i < steps; ++i) {
      optimizer.zero_grad();
      mean(pow(model.forward(x) - target, 2.0f)).backward();
      optimizer.step();
    }
  };

  // Straight run: 3 steps, checkpoint, 2 more steps.
  auto model = make_model(1);
  Adam adam(model->named_parameters(), {.learning_rate = 0.05f});
  train_steps(*model, adam, 3);
  save_checkpoint(path, *model, &adam);
  train_steps(*model, adam, 2);

  // Resumed run: a differently initialized model and optimizer, loaded, 2 steps.
  auto resumed = make_model(9);
  Adam resumed_adam(resumed->named_parameters(), {.learning_rate = 0.05f});
  load_checkpoint(path, *resumed, &resumed_adam);
  CHECK(resumed_adam.step_count() == 3);
  train_steps(*resumed, resumed_adam, 2);

  for (size_t i = 0; i < model->parameters().size(); ++i) {
    INFO("parameter " << model->named_parameters()[i].first);
    CHECK(bits_of(resumed->parameters()[i]) == bits_of(model->parameters()[i]));
  }
}
