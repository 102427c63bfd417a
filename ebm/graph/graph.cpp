// Graph construction, accessors, arc indexes and topological order.
#include "ebm/graph/graph.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace ember::graph {

int64_t Graph::add_state(bool start, bool accept) {
  if (num_states() >= std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument(fmt::format(
        "Graph::add_state: the graph already has {} states, the maximum that int32 indices allow",
        num_states()));
  }
  start_flags_.push_back(start ? 1 : 0);
  accept_flags_.push_back(accept ? 1 : 0);
  return num_states() - 1;
}

int64_t Graph::add_arc(int64_t source, int64_t destination, int label, float energy) {
  return add_arc(source, destination, label, label, energy);
}

void Graph::check_new_arcs(std::span<const int32_t> sources, std::span<const int32_t> destinations,
                           std::span<const int32_t> labels) const {
  if (destinations.size() != sources.size() || labels.size() != sources.size()) {
    throw std::invalid_argument(fmt::format(
        "Graph::add_arcs: {} sources, {} destinations and {} labels; expected one of each per arc",
        sources.size(), destinations.size(), labels.size()));
  }
  for (size_t a = 0; a < sources.size(); ++a) {
    if (tied_ || sources[a] < 0 || sources[a] >= num_states() || destinations[a] < 0 ||
        destinations[a] >= num_states() || labels[a] < kEpsilon) {
      throw_invalid_arc(sources[a], destinations[a], labels[a], labels[a]);
    }
  }
}

void Graph::add_arcs(std::span<const int32_t> sources, std::span<const int32_t> destinations,
                     std::span<const int32_t> labels) {
  check_new_arcs(sources, destinations, labels);
  sources_.insert(sources_.end(), sources.begin(), sources.end());
  destinations_.insert(destinations_.end(), destinations.begin(), destinations.end());
  input_labels_.insert(input_labels_.end(), labels.begin(), labels.end());
  output_labels_.insert(output_labels_.end(), labels.begin(), labels.end());
  if (energies_.defined()) {
    energies_ = Tensor();
  }
}

void Graph::add_arcs(std::vector<int32_t>&& sources, std::vector<int32_t>&& destinations,
                     std::vector<int32_t>&& labels) {
  if (num_arcs() > 0) {
    add_arcs(std::span<const int32_t>(sources), std::span<const int32_t>(destinations),
             std::span<const int32_t>(labels));
    return;
  }
  check_new_arcs(sources, destinations, labels);
  sources_ = std::move(sources);
  destinations_ = std::move(destinations);
  output_labels_ = labels;
  input_labels_ = std::move(labels);
  if (energies_.defined()) {
    energies_ = Tensor();
  }
}

void Graph::make_start(int64_t state) { start_flags_[checked_state(state, "Graph::make_start")] = 1; }

void Graph::make_accept(int64_t state) {
  accept_flags_[checked_state(state, "Graph::make_accept")] = 1;
}

bool Graph::is_start(int64_t state) const {
  return start_flags_[checked_state(state, "Graph::is_start")] != 0;
}

bool Graph::is_accept(int64_t state) const {
  return accept_flags_[checked_state(state, "Graph::is_accept")] != 0;
}

std::vector<int64_t> Graph::start_states() const {
  std::vector<int64_t> states;
  for (int64_t s = 0; s < num_states(); ++s) {
    if (start_flags_[static_cast<size_t>(s)] != 0) {
      states.push_back(s);
    }
  }
  return states;
}

std::vector<int64_t> Graph::accept_states() const {
  std::vector<int64_t> states;
  for (int64_t s = 0; s < num_states(); ++s) {
    if (accept_flags_[static_cast<size_t>(s)] != 0) {
      states.push_back(s);
    }
  }
  return states;
}

float Graph::energy(int64_t arc) const { return energies().data()[checked_arc(arc)]; }

bool Graph::is_acceptor() const { return input_labels_ == output_labels_; }

const Tensor& Graph::energies() const {
  if (!energies_.defined()) {
    energies_ = zeros({num_arcs()});
    std::copy(pending_energies_.begin(), pending_energies_.end(), energies_.mutable_data());
  }
  return energies_;
}

Graph& Graph::set_requires_grad(bool requires_grad) {
  Tensor leaf = energies();
  leaf.set_requires_grad(requires_grad);
  return *this;
}

void Graph::tie_energies(const Tensor& energies) {
  if (energies.dim() != 1 || energies.numel() != num_arcs()) {
    throw std::invalid_argument(fmt::format(
        "Graph::tie_energies: energies have shape {} but the graph has {} arcs; expected [A] "
        "with A = {}",
        shape_to_string(energies.shape()), num_arcs(), num_arcs()));
  }
  energies_ = energies;
  pending_energies_.clear();
  pending_energies_.shrink_to_fit();
  tied_ = true;
}

void Graph::reserve(int64_t states, int64_t arcs) {
  start_flags_.reserve(static_cast<size_t>(states));
  accept_flags_.reserve(static_cast<size_t>(states));
  sources_.reserve(static_cast<size_t>(arcs));
  destinations_.reserve(static_cast<size_t>(arcs));
  input_labels_.reserve(static_cast<size_t>(arcs));
  output_labels_.reserve(static_cast<size_t>(arcs));
  pending_energies_.reserve(static_cast<size_t>(arcs));
}

void Graph::throw_arc_out_of_range(int64_t arc) const {
  throw std::out_of_range(
      fmt::format("Graph: arc {} is out of range; the graph has {} arcs", arc, num_arcs()));
}

void Graph::throw_invalid_arc(int64_t source, int64_t destination, int input_label,
                              int output_label) const {
  if (tied_) {
    throw std::invalid_argument(
        "Graph::add_arc: the arc energies are tied to a tensor of fixed size; add every arc "
        "before calling tie_energies");
  }
  checked_state(source, "Graph::add_arc (source)");
  checked_state(destination, "Graph::add_arc (destination)");
  throw std::invalid_argument(fmt::format(
      "Graph::add_arc: labels {}:{} are invalid; expected labels >= 0 or kEpsilon ({})",
      input_label, output_label, kEpsilon));
}

void Graph::throw_state_out_of_range(int64_t state, const char* op) const {
  throw std::out_of_range(
      fmt::format("{}: state {} is out of range; the graph has {} states", op, state, num_states()));
}

namespace {

// Counting sort of arc indices by key (source or destination state).
ArcIndex index_arcs_by(const std::vector<int32_t>& keys, int64_t num_states) {
  ArcIndex index;
  index.offsets.assign(static_cast<size_t>(num_states + 1), 0);
  index.arcs.resize(keys.size());

  // Keys already in order (the sources of most built graphs) need neither
  // counts nor a scatter: the arcs of key s end where its last arc does,
  // and a key with no arcs ends where the previous one did.
  if (std::is_sorted(keys.begin(), keys.end())) {
    for (size_t a = 0; a < keys.size(); ++a) {
      index.offsets[static_cast<size_t>(keys[a]) + 1] = static_cast<int32_t>(a + 1);
    }
    for (size_t s = 0; s < static_cast<size_t>(num_states); ++s) {
      index.offsets[s + 1] = std::max(index.offsets[s + 1], index.offsets[s]);
    }
    std::iota(index.arcs.begin(), index.arcs.end(), 0);
    return index;
  }

  for (int32_t key : keys) {
    ++index.offsets[static_cast<size_t>(key) + 1];
  }
  for (size_t s = 0; s < static_cast<size_t>(num_states); ++s) {
    index.offsets[s + 1] += index.offsets[s];
  }
  std::vector<int32_t> next(index.offsets.begin(), index.offsets.end() - 1);
  for (size_t a = 0; a < keys.size(); ++a) {
    index.arcs[static_cast<size_t>(next[static_cast<size_t>(keys[a])]++)] = static_cast<int32_t>(a);
  }
  return index;
}

}  // namespace

ArcIndex out_arcs(const Graph& graph) { return index_arcs_by(graph.sources(), graph.num_states()); }

ArcIndex in_arcs(const Graph& graph) {
  return index_arcs_by(graph.destinations(), graph.num_states());
}

namespace {

// Kahn's algorithm; returns fewer than S states if the graph has a cycle.
std::vector<int32_t> kahn_order(const Graph& graph, const ArcIndex& out) {
  const auto num_states = static_cast<size_t>(graph.num_states());
  std::vector<int32_t> in_degree(num_states, 0);
  for (int32_t destination : graph.destinations()) {
    ++in_degree[static_cast<size_t>(destination)];
  }

  std::vector<int32_t> order;
  order.reserve(num_states);
  for (size_t s = 0; s < num_states; ++s) {
    if (in_degree[s] == 0) {
      order.push_back(static_cast<int32_t>(s));
    }
  }
  for (size_t next = 0; next < order.size(); ++next) {
    const auto s = static_cast<size_t>(order[next]);
    for (int32_t k = out.offsets[s]; k < out.offsets[s + 1]; ++k) {
      const auto d = static_cast<size_t>(graph.destinations()[static_cast<size_t>(out.arcs[static_cast<size_t>(k)])]);
      if (--in_degree[d] == 0) {
        order.push_back(static_cast<int32_t>(d));
      }
    }
  }
  return order;
}

}  // namespace

namespace {

// True if every arc goes to a higher-numbered state, so state order is
// already topological. Operations that build states breadth first, such as
// an intersection with an emissions graph, usually produce such graphs.
bool states_in_order(const Graph& graph) {
  const std::vector<int32_t>& sources = graph.sources();
  const std::vector<int32_t>& destinations = graph.destinations();
  for (size_t a = 0; a < sources.size(); ++a) {
    if (sources[a] >= destinations[a]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<int32_t> topological_order(const Graph& graph, const char* op) {
  if (states_in_order(graph)) {
    std::vector<int32_t> order(static_cast<size_t>(graph.num_states()));
    for (size_t s = 0; s < order.size(); ++s) {
      order[s] = static_cast<int32_t>(s);
    }
    return order;
  }
  const ArcIndex out = out_arcs(graph);
  std::vector<int32_t> order = kahn_order(graph, out);
  if (static_cast<int64_t>(order.size()) == graph.num_states()) {
    return order;
  }

  // Some state on (or behind) a cycle was never released; name one that is
  // not in the order.
  std::vector<uint8_t> placed(static_cast<size_t>(graph.num_states()), 0);
  for (int32_t s : order) {
    placed[static_cast<size_t>(s)] = 1;
  }
  int64_t stuck = 0;
  while (placed[static_cast<size_t>(stuck)] != 0) {
    ++stuck;
  }
  throw std::invalid_argument(fmt::format(
      "{}: the graph is cyclic (state {} is on or after a cycle), but this operation needs "
      "an acyclic graph",
      op, stuck));
}

bool is_acyclic(const Graph& graph) {
  if (states_in_order(graph)) {
    return true;
  }
  return static_cast<int64_t>(kahn_order(graph, out_arcs(graph)).size()) == graph.num_states();
}

}  // namespace ember::graph
