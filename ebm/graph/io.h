// Reading and writing graphs: the AT&T text format of OpenFST (and k2),
// Ember's own text format, Graphviz DOT, and PNG through Graphviz's `dot`.
//
// AT&T/OpenFST text conventions, as OpenFST's fstcompile reads them:
//   - one arc per line, "source destination input output [weight]", and one
//     accept state per line, "state [weight]"; the first line's source is
//     the start state;
//   - label 0 is epsilon, so Ember's label l is written as l + 1 and
//     kEpsilon as 0 (with a symbol table, names are written instead and
//     epsilon is "<eps>");
//   - weights are tropical costs, the same as Ember's energies.
// OpenFST has one start state and final weights; Ember has several start
// states and no final weights. So a graph with several start states is
// written with a new start state and zero-energy epsilon arcs to them, and
// a nonzero final weight is read as an epsilon arc carrying that weight
// into a new accept state. Accepting paths and energies survive both ways.
//
// Ember's format keeps the graph exactly (all start states, labels as
// Ember numbers them, energies to 9 significant digits):
//   ember-graph 1
//   states S
//   start s1 s2 ...
//   accept a1 a2 ...
//   arcs A
//   source destination input output energy      (A lines; epsilon is -1)
#pragma once

#include <string>
#include <vector>

#include "ebm/graph/graph.h"

namespace ember::graph {

// Symbol names indexed by label; empty = print numbers.
using SymbolTable = std::vector<std::string>;

// Writes graph in AT&T text format (transducer columns).
std::string write_att(const Graph& graph, const SymbolTable& input_symbols = {},
                      const SymbolTable& output_symbols = {});

// Parses AT&T text. Arc lines have 4 or 5 fields (transducer) or 3 fields
// (acceptor); with acceptor = true a 4-field line is "source destination
// label weight", as fstcompile --acceptor reads it. Throws
// std::invalid_argument naming the line on malformed input.
Graph read_att(const std::string& text, bool acceptor = false, const SymbolTable& input_symbols = {},
               const SymbolTable& output_symbols = {});

// Ember's own text format; see the file comment.
std::string write_ember(const Graph& graph);
Graph read_ember(const std::string& text);

// Graphviz DOT: states are circles (accept states double circles, start
// states bold), arcs are labelled "input:output/energy", or "label/energy"
// for acceptors, with symbol names when given.
std::string to_dot(const Graph& graph, const SymbolTable& input_symbols = {},
                   const SymbolTable& output_symbols = {});

// True if Graphviz's `dot` is on the PATH (Debian package graphviz).
bool graphviz_available();

// Renders graph to a PNG file with `dot`. Throws std::runtime_error if dot
// is missing or fails.
void render_png(const Graph& graph, const std::string& path, const SymbolTable& input_symbols = {},
                const SymbolTable& output_symbols = {});

}  // namespace ember::graph
