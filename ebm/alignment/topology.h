// Alignment topologies: which sequences of states a path through L windows
// may follow for a given target, and the padded batch of targets the
// alignment ops take.
//
// Both topologies are a chain of states visited in order. Each state emits
// one symbol and has at most three predecessors: itself (stay), the state
// before it (advance) and, where allowed, the state two before it (skip).
// The path starts in one of the first few states and ends in one of the last
// few. So one dynamic program serves both:
//
//   separator  `cat` -> states c _ a _ t _ (the separator transform);
//              start in state 0, end in the last state, moves stay / advance.
//   ctc        `cat` -> states - c - a - t - (- the blank); start in state 0
//              or 1, end in either of the last two, and skip a blank between
//              two different symbols (a repeated symbol needs its blank).
//
// Shapes: B batch, L windows, C symbols, T target length, S states.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/tensor.h"

namespace ember::alignment {

enum class TopologyKind { separator, ctc };

struct Topology {
  TopologyKind kind = TopologyKind::separator;
  // The separator symbol (separator topology) or the blank symbol (ctc).
  int64_t blank = 26;

  static Topology separator(int64_t separator_index = 26) {
    return {TopologyKind::separator, separator_index};
  }
  static Topology ctc(int64_t blank_index = 26) { return {TopologyKind::ctc, blank_index}; }
};

// "separator" or "ctc".
std::string topology_name(TopologyKind kind);
// Parses "separator" or "ctc"; throws std::invalid_argument on anything else.
TopologyKind parse_topology(const std::string& name);

// The states of one target's chain.
struct Lattice {
  std::vector<int32_t> labels;    // [S] symbol (column of E) each state emits
  std::vector<uint8_t> can_skip;  // [S] 1 where the move s-2 -> s is allowed
  int64_t start_states = 1;       // a path starts in one of states 0 .. start_states-1
  int64_t end_states = 1;         // and ends in one of the last end_states states
  // Whether zero windows align to this target: only an empty target allows it.
  bool accepts_empty = false;

  int64_t states() const { return static_cast<int64_t>(labels.size()); }
};

// The chain of a target under a topology: 2T states for the separator
// topology, 2T + 1 for ctc (so an empty target has 0 and 1 states).
Lattice build_lattice(const Topology& topology, const std::vector<int64_t>& target);

// The homework's chain over the columns of a path matrix [L, S]: state j
// emits column j, moves stay / advance, start at 0, end at S - 1.
Lattice chain_lattice(int64_t states);

// A padded batch of targets with per-sample lengths.
struct AlignmentBatch {
  Tensor targets;                        // [B, T] symbol indices as floats; padding ignored
  std::vector<int64_t> input_lengths;    // [B] windows each sample uses (<= L); empty = all L
  std::vector<int64_t> target_lengths;   // [B] symbols in each target (<= T); empty = all T
};

// Pads targets of different lengths into one batch. input_lengths may be
// empty (every sample uses all L windows).
AlignmentBatch make_alignment_batch(const std::vector<std::vector<int64_t>>& targets,
                                    std::vector<int64_t> input_lengths = {});

// A batch checked against energies E [B, L, C]: per-sample targets and input
// lengths with the defaults filled in.
struct CheckedBatch {
  int64_t batch = 0;    // B
  int64_t windows = 0;  // L
  int64_t symbols = 0;  // C
  std::vector<std::vector<int64_t>> targets;  // B targets, each of its own length
  std::vector<int64_t> input_lengths;         // [B]
};

// Validates shapes, lengths and symbol indices (each must lie in [0, C)),
// naming op in the error.
CheckedBatch check_batch(const Tensor& energies, const AlignmentBatch& batch, const char* op);

// Validates that E is [B, L, C] and input_lengths (empty = all L) fits it.
CheckedBatch check_energies(const Tensor& energies, const std::vector<int64_t>& input_lengths,
                            const char* op);

}  // namespace ember::alignment
