// Builders for the graphs a recognizer's losses are made of.
//
// Emissions graphs carry the network's energies. Target graphs accept the
// correct label sequences and their alignments. Transition graphs score
// label bigrams with a learned matrix. Target graphs built
// here have zero energies and serve as constraints.
//
// Legend: L windows, C symbols, T target length.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ebm/graph/graph.h"

namespace ember::graph {

// The linear graph of a window sequence: states 0 .. L, and from state i to
// i + 1 one arc per symbol c with label c and energy E[i, c]. Arc i * C + c
// is tied to E[i, c] (a view of energies [L, C]), so gradients of any loss
// built on it land in energies. Use narrow(E, 0, 0, length) for a shorter
// sequence.
Graph emissions_graph(const Tensor& energies);

// The linear acceptor of one label sequence (each label exactly once).
//   label_graph({2, 0}) accepts exactly "2 0".
Graph label_graph(const std::vector<int64_t>& labels);

// Each label one or more times, in order: the alignment topology of ASG.
//   repeat_graph({2, 0}) accepts "2 0", "2 2 0", "2 0 0 0", ...
Graph repeat_graph(const std::vector<int64_t>& labels);

// The separator topology: every label followed by the separator, each
// symbol one or more times ("cat" -> c+ _+ a+ _+ t+ _+). This is the path
// set of the monotone alignment dp[i, j] = min(dp[i-1, j], dp[i-1, j-1]) + pm[i, j]
// over the transformed target "c_a_t_".
Graph separator_graph(const std::vector<int64_t>& labels, int64_t separator);

// The CTC topology: optional blanks around and between the labels, each
// label repeated one or more times, and a blank required between two equal
// consecutive labels. State 0 starts, state 2t + 1 reads the blanks before
// label t and state 2t + 2 reads label t (2T + 2 states).
Graph ctc_graph(const std::vector<int64_t>& labels, int64_t blank);

// The bigram acceptor of all label sequences scored by transitions [C, C]:
// state 0 is the start, state 1 + c means "the last label was c", and the
// arc from 1 + p to 1 + c (label c) has energy transitions[p, c]. Arcs
// leaving the start have energy 0. Every state accepts. With a blank, the
// blank label is a zero-energy self-loop on every state that leaves the last
// label unchanged, and the blank row and column of transitions are unused.
Graph transitions_graph(const Tensor& transitions, std::optional<int64_t> blank = std::nullopt);

}  // namespace ember::graph
