// The passes behind intersect and free_energy, without the tape: an
// intersection that returns its arc origins instead of tying energies, and
// the forward-backward pass over plain arrays of arc energies.
//
// The batched losses in losses.cpp run them on the thread pool, one sample
// per task. Each thread has its own tape, so a worker cannot record the
// per-operation nodes of free_energy(intersect(...)). The losses record one
// node per batch instead. These functions create no tensors, so workers may
// call them concurrently on different graphs. A graph user calls intersect
// and free_energy (functions.h) instead.
//
// Legend: S states, A arcs.
#pragma once

#include <cstdint>

#include "ebm/graph/arc_origins.h"
#include "ebm/graph/graph.h"

namespace ember::graph {

// The states and arcs of emissions_graph for L windows and C symbols,
// without energies: arc i * C + c goes from state i to i + 1 reading c.
// One such chain serves every sample of a batch that has L windows.
Graph emissions_chain(int64_t windows, int64_t symbols);

// The intersection of two acceptors as intersect builds it, before its
// energies are computed. graph contains the output states and arcs, with
// untied energies. Output arc a combines arc origins.first[a] of first with
// arc origins.second[a] of second. Throws like intersect.
struct Product {
  Graph graph;
  PairOrigins origins;
};
Product intersect_product(const Graph& first, const Graph& second);

// log Z = log of the sum over accepting paths p of exp(-beta E(p)) for arc
// energies [A] (-inf when no accepting path exists), so the free energy is
// -log Z / beta. If posteriors is not null it receives [A] floats: the
// probability that an accepting path uses each arc, which is dF/dE (all 0
// when log Z = -inf). The graph must be acyclic; op names the caller in
// the error for a cyclic one.
double log_partition(const Graph& graph, const float* energies, double beta, float* posteriors,
                     const char* op);

}  // namespace ember::graph
