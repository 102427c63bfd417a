// Checkpoints as .safetensors files: reading, atomic writing, and saving or
// loading a model's parameters with an optional optimizer state.
//
// File layout (all integers little-endian):
//   bytes 0..7        N, the header length, as an unsigned 64-bit integer
//   bytes 8..8+N-1    the header: UTF-8 JSON, padded with spaces so that the
//                     data starts at a multiple of 8 bytes
//   bytes 8+N..end    the data section: raw float32 values, little-endian
// The header maps each tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// where begin and end are byte offsets into the data section (end exclusive),
// and the optional key "__metadata__" to an object of string values.
// Tensors cover the data section exactly, without gaps or overlaps.
// Python reads such a file with json and struct alone; docs/checkpoints.md
// shows how.
//
// A checkpoint stores the model's parameters under their dotted names
// ("conv1.weight") and, optionally, the optimizer's state under
// "optimizer.<parameter>.<slot>" with its kind, step count and learning rate
// in the metadata, enough to resume training exactly.
//
// Left out on purpose: dtypes other than F32 (a file holding F16 or I64
// tensors is rejected with the dtype named), and memory mapping.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/optim.h"

namespace ember::nn {

// A file that cannot be read, written or trusted. The message names the
// file and, where one is involved, the tensor, the expected and the found value.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SafetensorsContents {
  std::vector<NamedTensor> tensors;  // in data-section order
  std::map<std::string, std::string> metadata;
};

// Writes tensors and metadata to path atomically: the bytes go to a new
// temporary file in the same folder, which is flushed to disk (fsync) and
// then renamed over path, so path always contains either the old file or the
// complete new one. Throws CheckpointError on any I/O failure.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file: header length, JSON, every dtype, shape
// and offset pair, and full coverage of the data section.
SafetensorsContents read_safetensors(const std::string& path);

// Saves the model's parameters, plus the optimizer's state when one is given.
// extra_metadata goes into the header's "__metadata__" (for example the
// model kind and alphabet an app needs to rebuild the model before loading).
void save_checkpoint(const std::string& path, const Module& model,
                     const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& extra_metadata = {});

// Loads parameters into model, and the optimizer's state when one is given.
// Every model parameter must be present with its exact shape, and the file
// may hold no other tensors except optimizer state. Everything is validated
// before anything is copied, so a failed load leaves model and optimizer
// unchanged.
void load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer = nullptr);

}  // namespace ember::nn
