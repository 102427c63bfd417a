// .safetensors reading and atomic writing, and model checkpoints on top.
// The file layout is described in checkpoint.h.
#include "nn/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ember::nn {

namespace {

using Json = nlohmann::ordered_json;

// The safetensors format caps the header at 100 MB, so a corrupt length
// cannot make a reader allocate without bound.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";
constexpr const char* kOptimizerPrefix = "optimizer.";

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw CheckpointError(fmt::format("{}: {}", path, message));
}

[[noreturn]] void fail_errno(const std::string& path, const std::string& action) {
  throw CheckpointError(fmt::format("{}: {} failed: {}", path, action, std::strerror(errno)));
}

// ------------------------------------------------------------ little-endian bytes

void append_u64(std::string& bytes, uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

uint64_t read_u64(const unsigned char* bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  return value;
}

void append_f32(std::string& bytes, float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  for (int i = 0; i < 4; ++i) {
    bytes.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
}

float read_f32(const unsigned char* bytes) {
  uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) {
    bits |= static_cast<uint32_t>(bytes[i]) << (8 * i);
  }
  return std::bit_cast<float>(bits);
}

// ------------------------------------------------------------ encoding

std::string encode(const std::vector<NamedTensor>& tensors,
                   const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    header[kMetadataKey] = metadata;
  }
  uint64_t offset = 0;
  for (const NamedTensor& entry : tensors) {
    if (header.contains(entry.first)) {
      throw CheckpointError(
          fmt::format("write_safetensors: tensor name '{}' appears twice", entry.first));
    }
    const uint64_t bytes = static_cast<uint64_t>(entry.second.numel()) * 4;
    header[entry.first] = {{"dtype", "F32"},
                           {"shape", entry.second.shape()},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }

  // Spaces pad the header so the float data starts 8-byte aligned.
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  std::string file;
  file.reserve(8 + header_text.size() + offset);
  append_u64(file, header_text.size());
  file += header_text;
  for (const NamedTensor& entry : tensors) {
    const float* values = entry.second.data();
    for (int64_t i = 0; i < entry.second.numel(); ++i) {
      append_f32(file, values[i]);
    }
  }
  return file;
}

// ------------------------------------------------------------ atomic write

// A name no other writer in this process or another one picks.
std::string temporary_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp-{}-{}", path, getpid(), counter.fetch_add(1));
}

void write_all(int fd, const std::string& bytes, const std::string& path) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      fail_errno(path, "write");
    }
    written += static_cast<size_t>(n);
  }
}

// Flushes the folder entry of a rename to disk. Some file systems cannot
// fsync a folder; the rename itself has happened by then, so that is ignored.
void sync_parent_folder(const std::string& path) {
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) {
    folder = ".";
  }
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void write_atomically(const std::string& path, const std::string& bytes) {
  const std::string temporary = temporary_name(path);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    fail_errno(temporary, "creating the temporary file");
  }
  try {
    write_all(fd, bytes, temporary);
    if (::fsync(fd) != 0) {
      fail_errno(temporary, "fsync");
    }
  } catch (...) {
    ::close(fd);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(temporary.c_str());
    fail_errno(temporary, "close");
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    ::unlink(temporary.c_str());
    fail_errno(path, fmt::format("renaming {} over it", temporary));
  }
  sync_parent_folder(path);
}

// ------------------------------------------------------------ decoding

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail_errno(path, "opening the checkpoint");
  }
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) {
    fail_errno(path, "reading the checkpoint");
  }
  return bytes;
}

// A non-negative integer from the header, or an error naming the tensor and field.
uint64_t header_integer(const Json& value, const std::string& path, const std::string& name,
                        const char* field) {
  if (!value.is_number_unsigned()) {
    fail(path, fmt::format("tensor '{}': {} contains {}, expected a non-negative integer", name,
                           field, value.dump()));
  }
  return value.get<uint64_t>();
}

// One header entry: a tensor's name, shape and byte range in the data section.
struct TensorEntry {
  std::string name;
  Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

TensorEntry parse_entry(const std::string& name, const Json& entry, uint64_t data_bytes,
                        const std::string& path) {
  if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
      !entry.contains("data_offsets")) {
    fail(path, fmt::format("tensor '{}': header entry {} must be an object with dtype, shape "
                           "and data_offsets",
                           name, entry.dump()));
  }
  const Json& dtype = entry["dtype"];
  if (dtype != "F32") {
    fail(path, fmt::format("tensor '{}': dtype is {}, expected \"F32\" (Ember reads float32 "
                           "tensors only)",
                           name, dtype.dump()));
  }

  TensorEntry parsed;
  parsed.name = name;
  const Json& shape = entry["shape"];
  if (!shape.is_array()) {
    fail(path, fmt::format("tensor '{}': shape is {}, expected an array", name, shape.dump()));
  }
  uint64_t numel = 1;
  bool overflow = false;
  for (const Json& size : shape) {
    const uint64_t s = header_integer(size, path, name, "shape");
    parsed.shape.push_back(static_cast<int64_t>(s));
    overflow = overflow || __builtin_mul_overflow(numel, s, &numel);
  }
  if (overflow || numel > std::numeric_limits<uint64_t>::max() / 4) {
    fail(path, fmt::format("tensor '{}': shape {} has more elements than 64-bit byte offsets "
                           "can address",
                           name, shape.dump()));
  }

  const Json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail(path, fmt::format("tensor '{}': data_offsets is {}, expected [begin, end]", name,
                           offsets.dump()));
  }
  parsed.begin = header_integer(offsets[0], path, name, "data_offsets");
  parsed.end = header_integer(offsets[1], path, name, "data_offsets");
  if (parsed.begin > parsed.end || parsed.end > data_bytes) {
    fail(path, fmt::format("tensor '{}': data_offsets [{}, {}] lie outside the data section of "
                           "{} bytes (the file is truncated or the header is wrong)",
                           name, parsed.begin, parsed.end, data_bytes));
  }
  if (parsed.end - parsed.begin != numel * 4) {
    fail(path, fmt::format("tensor '{}': shape {} needs {} bytes of float32, found data_offsets "
                           "[{}, {}] spanning {} bytes",
                           name, shape_to_string(parsed.shape), numel * 4, parsed.begin,
                           parsed.end, parsed.end - parsed.begin));
  }
  return parsed;
}

std::map<std::string, std::string> parse_metadata(const Json& metadata, const std::string& path) {
  if (!metadata.is_object()) {
    fail(path, fmt::format("{} is {}, expected an object of strings", kMetadataKey,
                           metadata.dump()));
  }
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : metadata.items()) {
    if (!value.is_string()) {
      fail(path, fmt::format("{} entry '{}' is {}, expected a string", kMetadataKey, key,
                             value.dump()));
    }
    out[key] = value.get<std::string>();
  }
  return out;
}

// Checks that the entries, sorted by offset, tile the data section exactly.
void require_full_coverage(std::vector<TensorEntry>& entries, uint64_t data_bytes,
                           const std::string& path) {
  std::sort(entries.begin(), entries.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin; });
  uint64_t expected_begin = 0;
  for (const TensorEntry& entry : entries) {
    if (entry.begin != expected_begin) {
      fail(path, fmt::format("tensor '{}': data starts at byte {}, expected {} (tensors must "
                             "cover the data section without gaps or overlaps)",
                             entry.name, entry.begin, expected_begin));
    }
    expected_begin = entry.end;
  }
  if (expected_begin != data_bytes) {
    fail(path, fmt::format("the tensors cover {} bytes but the data section holds {}; the file "
                           "has trailing bytes",
                           expected_begin, data_bytes));
  }
}

Json parse_header(const std::vector<unsigned char>& bytes, const std::string& path,
                  uint64_t& data_start) {
  if (bytes.size() < 8) {
    fail(path, fmt::format("the file is {} bytes, shorter than the 8-byte header length; it is "
                           "truncated or not a safetensors file",
                           bytes.size()));
  }
  const uint64_t header_bytes = read_u64(bytes.data());
  const uint64_t available = bytes.size() - 8;
  if (header_bytes > available || header_bytes > kMaxHeaderBytes) {
    fail(path, fmt::format("header length {} is invalid: the file has {} bytes after the length "
                           "field and the format allows at most {}",
                           header_bytes, available, kMaxHeaderBytes));
  }
  data_start = 8 + header_bytes;

  Json header;
  try {
    header = Json::parse(bytes.begin() + 8, bytes.begin() + static_cast<int64_t>(data_start));
  } catch (const Json::parse_error& error) {
    fail(path, fmt::format("the header is not valid JSON: {}", error.what()));
  }
  if (!header.is_object()) {
    fail(path, fmt::format("the header is {}, expected a JSON object", header.type_name()));
  }
  return header;
}

}  // namespace

// ------------------------------------------------------------ public API

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_atomically(path, encode(tensors, metadata));
}

SafetensorsContents read_safetensors(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path);
  uint64_t data_start = 0;
  const Json header = parse_header(bytes, path, data_start);
  const uint64_t data_bytes = bytes.size() - data_start;

  SafetensorsContents contents;
  std::vector<TensorEntry> entries;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      contents.metadata = parse_metadata(entry, path);
    } else {
      entries.push_back(parse_entry(name, entry, data_bytes, path));
    }
  }
  require_full_coverage(entries, data_bytes, path);

  for (const TensorEntry& entry : entries) {
    Tensor tensor = zeros(entry.shape);
    float* values = tensor.mutable_data();
    const unsigned char* source = bytes.data() + data_start + entry.begin;
    for (int64_t i = 0; i < tensor.numel(); ++i) {
      values[i] = read_f32(source + 4 * i);
    }
    contents.tensors.emplace_back(entry.name, tensor);
  }
  return contents;
}

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const std::map<std::string, std::string>& extra_metadata) {
  std::vector<NamedTensor> tensors = model.named_parameters();
  std::map<std::string, std::string> metadata = extra_metadata;
  metadata["format"] = "ember";
  if (optimizer != nullptr) {
    for (NamedTensor& slot : optimizer->state()) {
      tensors.emplace_back(kOptimizerPrefix + slot.first, slot.second);
    }
    metadata.merge(optimizer->state_metadata());
  }
  write_safetensors(path, tensors, metadata);
}

void load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
  const SafetensorsContents contents = read_safetensors(path);
  std::map<std::string, Tensor> saved;
  std::vector<NamedTensor> optimizer_state;
  for (const NamedTensor& entry : contents.tensors) {
    if (entry.first.starts_with(kOptimizerPrefix)) {
      optimizer_state.emplace_back(entry.first.substr(std::strlen(kOptimizerPrefix)),
                                   entry.second);
    } else {
      saved.insert(entry);
    }
  }

  // Validate every parameter before copying any.
  const std::vector<NamedTensor> parameters = model.named_parameters();
  for (const NamedTensor& parameter : parameters) {
    const auto found = saved.find(parameter.first);
    if (found == saved.end()) {
      fail(path, fmt::format("tensor '{}' is missing; the model expects shape {}",
                             parameter.first, shape_to_string(parameter.second.shape())));
    }
    if (found->second.shape() != parameter.second.shape()) {
      fail(path, fmt::format("tensor '{}' has shape {}, expected {}", parameter.first,
                             shape_to_string(found->second.shape()),
                             shape_to_string(parameter.second.shape())));
    }
    saved.erase(found);
  }
  if (!saved.empty()) {
    fail(path, fmt::format("tensor '{}' is not a parameter of the model (shape {}); the file "
                           "is for a different model",
                           saved.begin()->first, shape_to_string(saved.begin()->second.shape())));
  }

  if (optimizer != nullptr) {
    try {
      optimizer->load_state(optimizer_state, contents.metadata);
    } catch (const std::invalid_argument& error) {
      fail(path, error.what());
    }
  }

  const std::map<std::string, Tensor> by_name(contents.tensors.begin(), contents.tensors.end());
  for (const NamedTensor& parameter : parameters) {
    const Tensor& source = by_name.at(parameter.first);
    Tensor target = parameter.second;
    std::copy(source.data(), source.data() + source.numel(), target.mutable_data());
  }
}

}  // namespace ember::nn
