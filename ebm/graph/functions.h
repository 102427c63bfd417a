// Operations on graphs, all differentiable with respect to arc energies.
//
// Every operation that returns a graph keeps each accepting path's energy:
// an output arc's energy is the sum of the input arcs it stands for, and one
// tape node per operation routes gradients back (see arc_origins.h). The
// scoring operations (free_energy, viterbi_score) return scalar tensors
// whose backward gives arc posteriors or best-path indicators.
//
// Cyclic graphs: union, concat, closure, intersect, compose, project and
// viterbi_score / viterbi_path accept them. free_energy and k_best_paths
// need an acyclic graph and throw std::invalid_argument naming a state on a
// cycle. remove_epsilon throws if the epsilon arcs alone form a cycle.
// viterbi_score throws if a cycle of negative energy is reachable.
//
// Empty results are ordinary graphs: an intersection with no common path
// has no accepting path, its free energy and Viterbi score are +inf with
// zero gradients, and its best path is a graph with no states.
//
// Legend: S states, A arcs, k paths.
#pragma once

#include <cstdint>
#include <vector>

#include "ebm/graph/graph.h"

namespace ember::graph {

// ------------------------------------------------------------ rational ops

// A graph accepting any path of any input graph. States are renumbered in
// order: the states of graphs[0] first, then those of graphs[1], ...
//   graph_union({word("a"), word("b")}) accepts "a" and "b".
Graph graph_union(const std::vector<Graph>& graphs);

// A graph accepting a path of graphs[0] followed by a path of graphs[1] and
// so on, joined by zero-energy epsilon arcs from each accept state of one
// graph to each start state of the next. An empty list gives the graph that
// accepts only the empty path.
Graph concat(const std::vector<Graph>& graphs);

// The Kleene star: zero or more paths of graph in sequence. A new state is
// the only start state and the only accept state. Zero-energy epsilon arcs
// lead from it to graph's start states and from graph's accept states back
// to it, so each sequence of paths appears exactly once. The result is cyclic.
Graph closure(const Graph& graph);

// ------------------------------------------------------------ products

// Intersection of two acceptors: the paths whose label sequences both accept,
// with energy = energy in first + energy in second. Throws if either graph
// is not an acceptor. Epsilon arcs are handled as in compose.
Graph intersect(const Graph& first, const Graph& second);

// Composition of transducers: first's output labels are matched with
// second's input labels; an output arc reads first's input label and writes
// second's output label, with energy = sum of the two arcs' energies.
// Epsilons: an arc of first writing epsilon moves alone, and so does an arc
// of second reading epsilon. To count each pair of paths once, a two-state
// filter fixes their order between matched arcs: first's epsilon moves come
// before second's. Only states reachable from a start state are built.
Graph compose(const Graph& first, const Graph& second);

// ------------------------------------------------------------ label ops

// A graph with the same accepting paths and label sequences and no epsilon
// arcs (arcs whose input and output labels are both epsilon). Each run of
// epsilon arcs is folded into the next non-epsilon arc. A run that ends in
// an accept state is folded into the previous one, which then leads to a
// new accept state. So every accepting path keeps its energy, and gradients
// stay exact. A path
// made only of epsilon arcs cannot be folded and stays as one epsilon arc
// from its start state to the new accept state.
// NOTE: the number of output arcs grows with the number of epsilon paths,
// which can be exponential in long chains of parallel epsilon arcs.
Graph remove_epsilon(const Graph& graph);

// The acceptor reading graph's input labels (project_input) or output labels
// (project_output) on every arc.
Graph project_input(const Graph& graph);
Graph project_output(const Graph& graph);

// ------------------------------------------------------------ scores

// The free energy F = -(1/beta) log sum over accepting paths p of
// exp(-beta E(p)), a soft minimum of the path energies; a scalar tensor.
// dF/dE[a] is the posterior probability that an accepting path uses arc a.
// +inf with zero gradient when no accepting path exists. Needs beta > 0 and
// an acyclic graph.
Tensor free_energy(const Graph& graph, float beta = 1.0f);

// The minimum energy of an accepting path (Viterbi), a scalar tensor whose
// gradient is 1 on the arcs of that path (the first one found among ties)
// and 0 elsewhere. +inf with zero gradient when no accepting path exists.
Tensor viterbi_score(const Graph& graph);

// The minimum-energy accepting path as a linear graph (states 0 .. n, arc i
// from state i to i + 1), whose energies are tied to the arcs it copies. A
// graph with no states when no accepting path exists.
Graph viterbi_path(const Graph& graph);

// The labels along the minimum-energy accepting path, epsilons dropped;
// input labels, or output labels if output is true. Empty when no accepting
// path exists.
std::vector<int> viterbi_labels(const Graph& graph, bool output = false);

// Up to k accepting paths of lowest energy, best first, each as a linear
// graph like viterbi_path's (fewer if the graph has fewer paths). Paths are
// distinct as arc sequences, not as label sequences. Needs an acyclic graph.
std::vector<Graph> k_best_paths(const Graph& graph, int64_t k);

}  // namespace ember::graph
