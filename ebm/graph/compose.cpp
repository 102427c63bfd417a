// Composition of transducers and intersection of acceptors.
//
// Output states are triples (state of first, state of second, filter),
// built breadth first from the pairs of start states, so only reachable
// triples exist. The filter orders epsilon moves between two matched arcs:
//   filter 0: anything may follow;
//   filter 1: second has moved alone, so first may not move alone until
//             the next matched arc.
// Without it, a path of first with an output epsilon and a path of second
// with an input epsilon would pair up once for every interleaving.
//
// An intersection whose first graph is a chain of windows (an emissions
// graph) and whose second has no epsilon arcs takes a faster route,
// ChainIntersector, when its flat tables stay small. Its product states
// are (window, state of second), built window by window with flat tables,
// and states that cannot reach an accept state are never built.
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "ebm/graph/arc_origins.h"
#include "ebm/graph/functions.h"
#include "ebm/graph/passes.h"

namespace ember::graph {

namespace {

// Arcs leaving each state sorted by one of their labels, epsilon first, so
// matching arcs can be found by binary search.
struct SortedArcs {
  std::vector<int32_t> offsets;  // [S + 1]
  std::vector<int32_t> arcs;     // [A]
  std::vector<int32_t> labels;   // [A], labels[k] is the sort key of arcs[k]
};

SortedArcs sort_out_arcs(const Graph& graph, const std::vector<int32_t>& key_labels) {
  ArcIndex index = out_arcs(graph);
  SortedArcs sorted;
  sorted.offsets = std::move(index.offsets);
  sorted.arcs = std::move(index.arcs);
  for (size_t s = 0; s + 1 < sorted.offsets.size(); ++s) {
    auto first = sorted.arcs.begin() + sorted.offsets[s];
    auto last = sorted.arcs.begin() + sorted.offsets[s + 1];
    const auto by_label = [&key_labels](int32_t x, int32_t y) {
      return key_labels[static_cast<size_t>(x)] < key_labels[static_cast<size_t>(y)];
    };
    if (!std::is_sorted(first, last, by_label)) {
      std::stable_sort(first, last, by_label);
    }
  }
  sorted.labels.resize(sorted.arcs.size());
  for (size_t k = 0; k < sorted.arcs.size(); ++k) {
    sorted.labels[k] = key_labels[static_cast<size_t>(sorted.arcs[k])];
  }
  return sorted;
}

// Maps (state of first, state of second, filter) to an output state: a flat
// table when the product is small, a hash map otherwise.
class TripleMap {
 public:
  TripleMap(int64_t first_states, int64_t second_states) : second_states_(second_states) {
    const int64_t size = first_states * second_states * 2;
    dense_ = size <= kDenseLimit;
    if (dense_) {
      table_.assign(static_cast<size_t>(size), -1);
    }
  }

  // The output state of a triple, or -1 if it has none yet.
  int32_t find(int64_t key) const {
    if (dense_) {
      return table_[static_cast<size_t>(key)];
    }
    const auto it = map_.find(key);
    return it == map_.end() ? -1 : it->second;
  }
  void insert(int64_t key, int32_t state) {
    if (dense_) {
      table_[static_cast<size_t>(key)] = state;
    } else {
      map_.emplace(key, state);
    }
  }
  int64_t key(int64_t a, int64_t b, int filter) const {
    return (a * second_states_ + b) * 2 + filter;
  }

 private:
  // 2^20 int32 entries (4 MiB): larger products are usually sparse.
  static constexpr int64_t kDenseLimit = int64_t{1} << 20;
  int64_t second_states_;
  bool dense_ = true;
  std::vector<int32_t> table_;
  std::unordered_map<int64_t, int32_t> map_;
};

class Composer {
 public:
  Composer(const Graph& first, const Graph& second)
      : first_(first),
        second_(second),
        first_arcs_(sort_out_arcs(first, first.output_labels())),
        second_arcs_(sort_out_arcs(second, second.input_labels())),
        states_(first.num_states(), second.num_states()) {
    // A guess that fits an emissions graph against a target graph, where
    // most state pairs are reachable; the vectors grow if it is short.
    const int64_t states = std::min(first.num_states() * second.num_states(), int64_t{1} << 16);
    result_.reserve(states, 3 * states);
    pending_.reserve(static_cast<size_t>(states));
  }

  Product run() {
    for (int64_t a : first_.start_states()) {
      for (int64_t b : second_.start_states()) {
        result_.make_start(state_of(a, b, 0));
      }
    }
    for (size_t next = 0; next < pending_.size(); ++next) {
      expand(static_cast<int32_t>(next));
    }
    return {std::move(result_), std::move(origins_)};
  }

 private:
  struct Triple {
    int32_t a;
    int32_t b;
    int32_t filter;
  };

  int32_t state_of(int64_t a, int64_t b, int filter) {
    const int64_t key = states_.key(a, b, filter);
    int32_t state = states_.find(key);
    if (state < 0) {
      state = static_cast<int32_t>(result_.add_state(false, first_.is_accept(a) && second_.is_accept(b)));
      states_.insert(key, state);
      pending_.push_back({static_cast<int32_t>(a), static_cast<int32_t>(b), filter});
    }
    return state;
  }

  void add_arc(int32_t source, int32_t destination, int input_label, int output_label,
               int64_t first_arc, int64_t second_arc) {
    result_.add_arc(source, destination, input_label, output_label, 0.0f);
    origins_.add(first_arc, second_arc);
  }

  void expand(int32_t state) {
    const Triple t = pending_[static_cast<size_t>(state)];

    // Arc ranges [begin, end) of the two states; epsilons sort first, so the
    // labelled arcs start at the first label >= 0.
    const int32_t* a_labels = first_arcs_.labels.data();
    const int32_t* b_labels = second_arcs_.labels.data();
    const int32_t a_begin = first_arcs_.offsets[static_cast<size_t>(t.a)];
    const int32_t a_end = first_arcs_.offsets[static_cast<size_t>(t.a) + 1];
    const int32_t b_begin = second_arcs_.offsets[static_cast<size_t>(t.b)];
    const int32_t b_end = second_arcs_.offsets[static_cast<size_t>(t.b) + 1];
    const int32_t a_labelled = static_cast<int32_t>(std::lower_bound(a_labels + a_begin, a_labels + a_end, 0) - a_labels);
    const int32_t b_labelled = static_cast<int32_t>(std::lower_bound(b_labels + b_begin, b_labels + b_end, 0) - b_labels);

    match_labelled(state, a_labelled, a_end, b_labelled, b_end);

    // first moves alone on an output epsilon (only under filter 0)
    if (t.filter == 0) {
      for (int32_t k = a_begin; k < a_labelled; ++k) {
        const int32_t arc = first_arcs_.arcs[static_cast<size_t>(k)];
        const int32_t next = state_of(first_.destinations()[static_cast<size_t>(arc)], t.b, 0);
        add_arc(state, next, first_.input_labels()[static_cast<size_t>(arc)], kEpsilon, arc, -1);
      }
    }

    // second moves alone on an input epsilon
    for (int32_t k = b_begin; k < b_labelled; ++k) {
      const int32_t arc = second_arcs_.arcs[static_cast<size_t>(k)];
      const int32_t next = state_of(t.a, second_.destinations()[static_cast<size_t>(arc)], 1);
      add_arc(state, next, kEpsilon, second_.output_labels()[static_cast<size_t>(arc)], -1, arc);
    }
  }

  // Pairs every labelled arc of first with the arcs of second whose input
  // label equals its output label, walking the shorter list and searching
  // the longer one.
  void match_labelled(int32_t state, int32_t a_from, int32_t a_to, int32_t b_from, int32_t b_to) {
    const bool walk_first = (a_to - a_from) <= (b_to - b_from);
    const SortedArcs& walked = walk_first ? first_arcs_ : second_arcs_;
    const SortedArcs& searched = walk_first ? second_arcs_ : first_arcs_;
    const int32_t walk_from = walk_first ? a_from : b_from;
    const int32_t walk_to = walk_first ? a_to : b_to;
    const int32_t search_from = walk_first ? b_from : a_from;
    const int32_t search_to = walk_first ? b_to : a_to;
    const int32_t* search_labels = searched.labels.data();

    for (int32_t k = walk_from; k < walk_to; ++k) {
      const int32_t label = walked.labels[static_cast<size_t>(k)];
      const auto range = std::equal_range(search_labels + search_from, search_labels + search_to, label);
      for (const int32_t* m = range.first; m != range.second; ++m) {
        const int32_t walked_arc = walked.arcs[static_cast<size_t>(k)];
        const int32_t searched_arc = searched.arcs[static_cast<size_t>(m - search_labels)];
        const int32_t a_arc = walk_first ? walked_arc : searched_arc;
        const int32_t b_arc = walk_first ? searched_arc : walked_arc;
        const int32_t next = state_of(first_.destinations()[static_cast<size_t>(a_arc)],
                                      second_.destinations()[static_cast<size_t>(b_arc)], 0);
        add_arc(state, next, first_.input_labels()[static_cast<size_t>(a_arc)],
                second_.output_labels()[static_cast<size_t>(b_arc)], a_arc, b_arc);
      }
    }
  }

  const Graph& first_;
  const Graph& second_;
  SortedArcs first_arcs_;
  SortedArcs second_arcs_;
  TripleMap states_;
  std::vector<Triple> pending_;
  Graph result_;
  PairOrigins origins_;
};

// ------------------------------------------------------------ chain route

// True if graph is a chain of windows like an emissions graph: states
// 0 .. L, state 0 the only start and state L the only accept state, every
// arc going from some state i to i + 1 with arcs in order of i, and no
// epsilon arcs.
bool is_chain(const Graph& graph) {
  const int64_t num_states = graph.num_states();
  if (num_states == 0) {
    return false;
  }
  for (int64_t s = 0; s < num_states; ++s) {
    const auto su = static_cast<size_t>(s);
    if ((graph.start_flags()[su] != 0) != (s == 0) ||
        (graph.accept_flags()[su] != 0) != (s == num_states - 1)) {
      return false;
    }
  }
  int32_t previous = 0;
  for (size_t a = 0; a < graph.sources().size(); ++a) {
    const int32_t source = graph.sources()[a];
    if (source < previous || graph.destinations()[a] != source + 1 ||
        graph.input_labels()[a] == kEpsilon) {
      previous = -1;
      break;
    }
    previous = source;
  }
  return previous >= 0;
}

bool has_epsilon_arc(const Graph& graph) {
  const std::vector<int32_t>& labels = graph.input_labels();
  return std::find(labels.begin(), labels.end(), kEpsilon) != labels.end();
}

// True if the chain route's flat tables, (L + 1) x S live flags and
// L x (largest label + 1) buckets, stay small. Beyond 2^26 cells (64 MiB
// of flags, 256 MiB of buckets) a large second graph is usually sparse in
// the product, and the general product builds only what it reaches.
bool chain_tables_fit(const Graph& chain, const Graph& second) {
  constexpr int64_t kMaxCells = int64_t{1} << 26;
  const std::vector<int32_t>& labels = second.input_labels();
  const int64_t label_range = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  return chain.num_states() * second.num_states() <= kMaxCells &&
         chain.num_states() * label_range <= kMaxCells;
}

// The intersection of a chain of L windows with an epsilon-free acceptor.
// Product state (i, b) pairs chain state i with second's state b. A
// backward sweep marks the live states, from which an accepting path
// continues. The forward sweep then builds, window by window, the live
// states reached from a start. So the result has no dead ends (about half
// the states of a CTC band), its states are numbered in topological order,
// and its arcs are sorted by source. Matching is a table lookup: the
// chain's arcs are bucketed by (window, label of second) once, so neither
// sweep searches.
class ChainIntersector {
 public:
  ChainIntersector(const Graph& chain, const Graph& second)
      : chain_(chain),
        second_(second),
        windows_(chain.num_states() - 1),
        second_states_(static_cast<int32_t>(second.num_states())) {
    index_second();
    bucket_chain_arcs();
  }

  Product run() {
    mark_live();
    reserve_output();
    build();
    return {std::move(result_), std::move(origins_)};
  }

 private:
  // One arc of second, as the sweeps read it.
  struct SecondArc {
    int32_t arc;          // index in second
    int32_t destination;  // state of second
    int32_t label;        // number of its label, 0 .. K-1
  };

  // Numbers second's distinct labels 0 .. K-1 (label_ids_) and lists the
  // arcs leaving each state b as second_out_[second_offsets_[b] ..
  // second_offsets_[b + 1]).
  void index_second() {
    const std::vector<int32_t>& labels = second_.input_labels();
    const int32_t max_label = labels.empty() ? -1 : *std::max_element(labels.begin(), labels.end());
    label_ids_.assign(static_cast<size_t>(max_label + 1), -1);
    for (int32_t label : labels) {
      int32_t& id = label_ids_[static_cast<size_t>(label)];
      if (id < 0) {
        id = num_labels_++;
      }
    }

    ArcIndex out = out_arcs(second_);
    second_offsets_ = std::move(out.offsets);
    second_out_.reserve(out.arcs.size());
    for (int32_t arc : out.arcs) {
      const auto a = static_cast<size_t>(arc);
      second_out_.push_back({arc, second_.destinations()[a], label_ids_[static_cast<size_t>(labels[a])]});
    }
  }

  // Sorts the chain's arcs into buckets (i, k), window i and label number k,
  // by counting, keeping arc order within a bucket. Arcs whose label second
  // lacks are left out.
  void bucket_chain_arcs() {
    const std::vector<int32_t>& labels = chain_.input_labels();
    const std::vector<int32_t>& sources = chain_.sources();
    std::vector<int32_t> bucket_of_arc(labels.size(), -1);
    bucket_offsets_.assign(static_cast<size_t>(windows_ * num_labels_ + 1), 0);
    for (size_t a = 0; a < labels.size(); ++a) {
      const auto label = static_cast<size_t>(labels[a]);
      if (label < label_ids_.size() && label_ids_[label] >= 0) {
        bucket_of_arc[a] = sources[a] * num_labels_ + label_ids_[label];
        ++bucket_offsets_[static_cast<size_t>(bucket_of_arc[a]) + 1];
      }
    }
    std::partial_sum(bucket_offsets_.begin(), bucket_offsets_.end(), bucket_offsets_.begin());

    bucket_arcs_.resize(static_cast<size_t>(bucket_offsets_.back()));
    std::vector<int32_t> next(bucket_offsets_.begin(), bucket_offsets_.end() - 1);
    for (size_t a = 0; a < labels.size(); ++a) {
      if (bucket_of_arc[a] >= 0) {
        bucket_arcs_[static_cast<size_t>(next[static_cast<size_t>(bucket_of_arc[a])]++)] = static_cast<int32_t>(a);
      }
    }
  }

  // The chain arcs of window i with label number k, as [first, last)
  // positions in bucket_arcs_.
  std::pair<int32_t, int32_t> matches(int64_t i, int32_t k) const {
    const auto bucket = static_cast<size_t>(i * num_labels_ + k);
    return {bucket_offsets_[bucket], bucket_offsets_[bucket + 1]};
  }

  // Arcs of second leaving state b.
  std::pair<const SecondArc*, const SecondArc*> leaving(int32_t b) const {
    const SecondArc* arcs = second_out_.data();
    return {arcs + second_offsets_[static_cast<size_t>(b)], arcs + second_offsets_[static_cast<size_t>(b) + 1]};
  }

  uint8_t* live_row(int64_t i) { return live_.data() + i * second_states_; }

  // Marks (L, b) live if b accepts, and (i, b) live if an arc of b reaches
  // a live state of window i + 1 with a label that window i has.
  void mark_live() {
    live_.assign(static_cast<size_t>((windows_ + 1) * second_states_), 0);
    std::copy(second_.accept_flags().begin(), second_.accept_flags().end(), live_row(windows_));
    for (int64_t i = windows_ - 1; i >= 0; --i) {
      uint8_t* row = live_row(i);
      const uint8_t* next_row = live_row(i + 1);
      for (int32_t b = 0; b < second_states_; ++b) {
        const auto [begin, end] = leaving(b);
        for (const SecondArc* arc = begin; arc != end; ++arc) {
          const auto [first, last] = matches(i, arc->label);
          if (first != last && next_row[arc->destination] != 0) {
            row[b] = 1;
            break;
          }
        }
      }
    }
  }

  // Room for every live state and one arc per arc of second leaving it, the
  // exact count when each window has each label once (an emissions graph).
  void reserve_output() {
    int64_t states = 0;
    int64_t arcs = 0;
    for (int64_t i = 0; i <= windows_; ++i) {
      const uint8_t* row = live_row(i);
      for (int32_t b = 0; b < second_states_; ++b) {
        if (row[b] != 0) {
          ++states;
          arcs += second_offsets_[static_cast<size_t>(b) + 1] - second_offsets_[static_cast<size_t>(b)];
        }
      }
    }
    result_.reserve(states, arcs);
    sources_.reserve(static_cast<size_t>(arcs));
    destinations_.reserve(static_cast<size_t>(arcs));
    labels_.reserve(static_cast<size_t>(arcs));
    origins_.reserve(arcs);
  }

  // Window by window: state[b] is the output state of (i, b) or -1, and
  // built lists the b with state[b] >= 0 in output order, so arcs are
  // added in order of their source.
  void build() {
    std::vector<int32_t> state(static_cast<size_t>(second_states_), -1);
    std::vector<int32_t> next_state(static_cast<size_t>(second_states_), -1);
    std::vector<int32_t> built;
    std::vector<int32_t> next_built;
    for (int64_t b : second_.start_states()) {
      if (live_row(0)[b] != 0) {
        state[static_cast<size_t>(b)] = static_cast<int32_t>(result_.add_state(true, windows_ == 0));
        built.push_back(static_cast<int32_t>(b));
      }
    }

    const int32_t* labels = second_.input_labels().data();
    for (int64_t i = 0; i < windows_; ++i) {
      const uint8_t* next_row = live_row(i + 1);
      for (int32_t b : built) {
        const auto [begin, end] = leaving(b);
        for (const SecondArc* arc = begin; arc != end; ++arc) {
          const auto [first, last] = matches(i, arc->label);
          if (first == last || next_row[arc->destination] == 0) {
            continue;
          }
          int32_t& next = next_state[static_cast<size_t>(arc->destination)];
          if (next < 0) {
            next = static_cast<int32_t>(result_.add_state(false, i + 1 == windows_));
            next_built.push_back(arc->destination);
          }
          for (int32_t m = first; m < last; ++m) {
            sources_.push_back(state[static_cast<size_t>(b)]);
            destinations_.push_back(next);
            labels_.push_back(labels[arc->arc]);
            origins_.add(bucket_arcs_[static_cast<size_t>(m)], arc->arc);
          }
        }
      }
      for (int32_t b : built) {
        state[static_cast<size_t>(b)] = -1;
      }
      std::swap(state, next_state);
      std::swap(built, next_built);
      next_built.clear();
    }
    result_.add_arcs(std::move(sources_), std::move(destinations_), std::move(labels_));
  }

  const Graph& chain_;
  const Graph& second_;
  int64_t windows_;
  int32_t second_states_;
  std::vector<int32_t> label_ids_;       // [max label of second + 1], -1 if second lacks it
  int32_t num_labels_ = 0;               // K
  std::vector<int32_t> second_offsets_;  // [S of second + 1]
  std::vector<SecondArc> second_out_;    // [A of second], grouped by source
  std::vector<int32_t> bucket_offsets_;  // [L * K + 1]
  std::vector<int32_t> bucket_arcs_;     // chain arcs, bucket by bucket
  std::vector<uint8_t> live_;            // [(L + 1) * S of second]
  std::vector<int32_t> sources_;         // output arcs, added to result_ at once
  std::vector<int32_t> destinations_;
  std::vector<int32_t> labels_;
  Graph result_;
  PairOrigins origins_;
};

}  // namespace

Graph compose(const Graph& first, const Graph& second) {
  Product product = Composer(first, second).run();
  tie_pair_energies(product.graph, first, second, std::move(product.origins), "compose");
  return std::move(product.graph);
}

Product intersect_product(const Graph& first, const Graph& second) {
  for (const Graph* g : {&first, &second}) {
    if (!g->is_acceptor()) {
      throw std::invalid_argument(fmt::format(
          "intersect: the {} graph is a transducer (some arc has different input and output "
          "labels); intersect takes acceptors, use compose for transducers",
          g == &first ? "first" : "second"));
    }
  }
  if (is_chain(first) && !has_epsilon_arc(second) && chain_tables_fit(first, second)) {
    return ChainIntersector(first, second).run();
  }
  return Composer(first, second).run();
}

Graph intersect(const Graph& first, const Graph& second) {
  Product product = intersect_product(first, second);
  tie_pair_energies(product.graph, first, second, std::move(product.origins), "intersect");
  return std::move(product.graph);
}

}  // namespace ember::graph
