// Text formats and pictures of graphs; see io.h for the conventions.
#include "ebm/graph/io.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace ember::graph {

namespace {

constexpr const char* kEpsilonName = "<eps>";

std::string att_label(int label, const SymbolTable& symbols) {
  if (symbols.empty()) {
    return std::to_string(label == kEpsilon ? 0 : label + 1);
  }
  if (label == kEpsilon) {
    return kEpsilonName;
  }
  if (label >= static_cast<int>(symbols.size())) {
    throw std::invalid_argument(fmt::format(
        "write_att: label {} has no name in a symbol table of {} names", label, symbols.size()));
  }
  return symbols[static_cast<size_t>(label)];
}

int parse_att_label(const std::string& field, const SymbolTable& symbols, size_t line) {
  if (!symbols.empty()) {
    if (field == kEpsilonName) {
      return kEpsilon;
    }
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (symbols[i] == field) {
        return static_cast<int>(i);
      }
    }
    throw std::invalid_argument(
        fmt::format("read_att: line {}: symbol '{}' is not in the symbol table", line, field));
  }
  char* end = nullptr;
  const long value = std::strtol(field.c_str(), &end, 10);
  if (*end != '\0' || value < 0 || value > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument(fmt::format(
        "read_att: line {}: label '{}' is invalid; expected an integer >= 0 (0 is epsilon)", line,
        field));
  }
  return value == 0 ? kEpsilon : static_cast<int>(value - 1);
}

int64_t parse_integer(const std::string& field, const char* op, size_t line, const char* what) {
  char* end = nullptr;
  const long long value = std::strtoll(field.c_str(), &end, 10);
  if (field.empty() || *end != '\0' || value < 0) {
    throw std::invalid_argument(fmt::format("{}: line {}: {} '{}' is invalid; expected an integer >= 0",
                                            op, line, what, field));
  }
  return value;
}

float parse_float(const std::string& field, const char* op, size_t line) {
  if (field == "Infinity" || field == "inf") {
    return std::numeric_limits<float>::infinity();
  }
  char* end = nullptr;
  const float value = std::strtof(field.c_str(), &end);
  if (field.empty() || *end != '\0') {
    throw std::invalid_argument(
        fmt::format("{}: line {}: weight '{}' is not a number", op, line, field));
  }
  return value;
}

std::vector<std::string> split_fields(const std::string& line) {
  std::istringstream stream(line);
  std::vector<std::string> fields;
  std::string field;
  while (stream >> field) {
    fields.push_back(field);
  }
  return fields;
}

// Adds states until `state` exists.
void ensure_state(Graph& graph, int64_t state) {
  while (graph.num_states() <= state) {
    graph.add_state();
  }
}

void write_arc_line(std::string& text, int64_t source, int64_t destination, int input, int output,
                    float energy, const SymbolTable& input_symbols, const SymbolTable& output_symbols) {
  text += fmt::format("{}\t{}\t{}\t{}", source, destination, att_label(input, input_symbols),
                      att_label(output, output_symbols));
  if (energy != 0.0f) {
    text += fmt::format("\t{:.9g}", energy);
  }
  text += '\n';
}

}  // namespace

std::string write_att(const Graph& graph, const SymbolTable& input_symbols,
                      const SymbolTable& output_symbols) {
  const std::vector<int64_t> starts = graph.start_states();
  if (starts.empty()) {
    return "";  // no start state: the empty language, like an empty FST
  }

  // One start state: it must be the source of the first line. Several: a new
  // state S starts, with epsilon arcs to each of them.
  std::string text;
  const int64_t start = starts.size() == 1 ? starts[0] : graph.num_states();
  if (starts.size() > 1) {
    for (int64_t s : starts) {
      write_arc_line(text, start, s, kEpsilon, kEpsilon, 0.0f, input_symbols, output_symbols);
    }
  } else if (graph.is_accept(start)) {
    text += fmt::format("{}\n", start);
  }
  const ArcIndex out = out_arcs(graph);
  const auto write_arcs_of = [&](int64_t s) {
    for (int32_t k = out.offsets[static_cast<size_t>(s)]; k < out.offsets[static_cast<size_t>(s) + 1]; ++k) {
      const int32_t a = out.arcs[static_cast<size_t>(k)];
      write_arc_line(text, s, graph.destination(a), graph.input_label(a), graph.output_label(a),
                     graph.energy(a), input_symbols, output_symbols);
    }
  };
  if (starts.size() == 1) {
    write_arcs_of(start);
  }
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    if (starts.size() > 1 || s != start) {
      write_arcs_of(s);
    }
  }
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    if (graph.is_accept(s) && !(starts.size() == 1 && s == start)) {
      text += fmt::format("{}\n", s);
    }
  }
  return text;
}

Graph read_att(const std::string& text, bool acceptor, const SymbolTable& input_symbols,
               const SymbolTable& output_symbols) {
  Graph graph;
  std::vector<std::pair<int64_t, float>> weighted_finals;
  std::istringstream stream(text);
  std::string line;
  bool have_start = false;
  for (size_t number = 1; std::getline(stream, line); ++number) {
    const std::vector<std::string> f = split_fields(line);
    if (f.empty()) {
      continue;
    }
    const int64_t source = parse_integer(f[0], "read_att", number, "state");
    ensure_state(graph, source);
    if (!have_start) {
      graph.make_start(source);
      have_start = true;
    }

    if (f.size() <= 2) {
      const float weight = f.size() == 2 ? parse_float(f[1], "read_att", number) : 0.0f;
      if (weight == 0.0f) {
        graph.make_accept(source);
      } else if (!std::isinf(weight)) {
        weighted_finals.push_back({source, weight});
      }
      continue;
    }
    const bool three_columns = f.size() == 3 || (acceptor && f.size() == 4);
    if (f.size() > 5 || (acceptor && f.size() == 5)) {
      throw std::invalid_argument(fmt::format(
          "read_att: line {} has {} fields; expected 'state [weight]', 'source destination "
          "label [weight]' or 'source destination input output [weight]'",
          number, f.size()));
    }
    const int64_t destination = parse_integer(f[1], "read_att", number, "state");
    ensure_state(graph, destination);
    const int input = parse_att_label(f[2], input_symbols, number);
    const int output = three_columns ? input : parse_att_label(f[3], output_symbols, number);
    const size_t weight_field = three_columns ? 3 : 4;
    const float weight = f.size() > weight_field ? parse_float(f[weight_field], "read_att", number) : 0.0f;
    graph.add_arc(source, destination, input, output, weight);
  }

  // Final weights become epsilon arcs into one new accept state.
  if (!weighted_finals.empty()) {
    const int64_t final_state = graph.add_state(/*start=*/false, /*accept=*/true);
    for (const auto& [state, weight] : weighted_finals) {
      graph.add_arc(state, final_state, kEpsilon, kEpsilon, weight);
    }
  }
  return graph;
}

std::string write_ember(const Graph& graph) {
  std::string text = fmt::format("ember-graph 1\nstates {}\nstart", graph.num_states());
  for (int64_t s : graph.start_states()) {
    text += fmt::format(" {}", s);
  }
  text += "\naccept";
  for (int64_t s : graph.accept_states()) {
    text += fmt::format(" {}", s);
  }
  text += fmt::format("\narcs {}\n", graph.num_arcs());
  for (int64_t a = 0; a < graph.num_arcs(); ++a) {
    text += fmt::format("{} {} {} {} {:.9g}\n", graph.source(a), graph.destination(a),
                        graph.input_label(a), graph.output_label(a), graph.energy(a));
  }
  return text;
}

Graph read_ember(const std::string& text) {
  std::istringstream stream(text);
  std::string line;
  size_t number = 0;
  const auto next_fields = [&](const char* expected) {
    if (!std::getline(stream, line)) {
      throw std::invalid_argument(
          fmt::format("read_ember: the text ends after line {}; expected {}", number, expected));
    }
    ++number;
    return split_fields(line);
  };
  const auto expect_keyword = [&](const std::vector<std::string>& f, const char* keyword) {
    if (f.empty() || f[0] != keyword) {
      throw std::invalid_argument(fmt::format("read_ember: line {} is '{}'; expected it to start with '{}'",
                                              number, line, keyword));
    }
  };

  std::vector<std::string> f = next_fields("the header 'ember-graph 1'");
  if (f.size() != 2 || f[0] != "ember-graph" || f[1] != "1") {
    throw std::invalid_argument(fmt::format(
        "read_ember: line 1 is '{}'; expected the header 'ember-graph 1'", line));
  }
  f = next_fields("'states S'");
  expect_keyword(f, "states");
  Graph graph;
  const int64_t states = f.size() == 2 ? parse_integer(f[1], "read_ember", number, "count") : -1;
  if (states < 0) {
    throw std::invalid_argument(fmt::format("read_ember: line {} is '{}'; expected 'states S'", number, line));
  }
  for (int64_t s = 0; s < states; ++s) {
    graph.add_state();
  }
  f = next_fields("'start ...'");
  expect_keyword(f, "start");
  for (size_t i = 1; i < f.size(); ++i) {
    graph.make_start(parse_integer(f[i], "read_ember", number, "state"));
  }
  f = next_fields("'accept ...'");
  expect_keyword(f, "accept");
  for (size_t i = 1; i < f.size(); ++i) {
    graph.make_accept(parse_integer(f[i], "read_ember", number, "state"));
  }
  f = next_fields("'arcs A'");
  expect_keyword(f, "arcs");
  const int64_t arcs = f.size() == 2 ? parse_integer(f[1], "read_ember", number, "count") : -1;
  for (int64_t a = 0; a < arcs; ++a) {
    f = next_fields("an arc line");
    if (f.size() != 5) {
      throw std::invalid_argument(fmt::format(
          "read_ember: line {} is '{}'; expected 'source destination input output energy'", number, line));
    }
    const auto label = [&](const std::string& field) {
      return field == "-1" ? kEpsilon : static_cast<int>(parse_integer(field, "read_ember", number, "label"));
    };
    graph.add_arc(parse_integer(f[0], "read_ember", number, "state"),
                  parse_integer(f[1], "read_ember", number, "state"), label(f[2]), label(f[3]),
                  parse_float(f[4], "read_ember", number));
  }
  return graph;
}

namespace {

std::string dot_label(int label, const SymbolTable& symbols) {
  if (label == kEpsilon) {
    return "ε";
  }
  if (label < static_cast<int>(symbols.size())) {
    // Escape the characters DOT treats specially inside a quoted string.
    std::string escaped;
    for (char c : symbols[static_cast<size_t>(label)]) {
      if (c == '"' || c == '\\') {
        escaped += '\\';
      }
      escaped += c;
    }
    return escaped;
  }
  return std::to_string(label);
}

}  // namespace

std::string to_dot(const Graph& graph, const SymbolTable& input_symbols,
                   const SymbolTable& output_symbols) {
  std::string text = "digraph G {\n  rankdir=LR;\n  node [shape=circle];\n";
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    text += fmt::format("  {} [shape={}{}];\n", s, graph.is_accept(s) ? "doublecircle" : "circle",
                        graph.is_start(s) ? ", penwidth=2.5" : "");
  }
  const bool acceptor = graph.is_acceptor();
  for (int64_t a = 0; a < graph.num_arcs(); ++a) {
    std::string label = dot_label(graph.input_label(a), input_symbols);
    if (!acceptor) {
      label += ':';
      label += dot_label(graph.output_label(a), output_symbols);
    }
    text += fmt::format("  {} -> {} [label=\"{}/{:.3g}\"];\n", graph.source(a), graph.destination(a),
                        label, graph.energy(a));
  }
  text += "}\n";
  return text;
}

bool graphviz_available() { return std::system("command -v dot > /dev/null 2>&1") == 0; }

void render_png(const Graph& graph, const std::string& path, const SymbolTable& input_symbols,
                const SymbolTable& output_symbols) {
  if (!graphviz_available()) {
    throw std::runtime_error(
        "render_png: Graphviz's 'dot' was not found on the PATH; install Graphviz (Debian package "
        "graphviz) or write to_dot() output to a file");
  }
  if (path.find('\'') != std::string::npos) {
    throw std::invalid_argument(fmt::format("render_png: path {} contains a quote", path));
  }
  const std::string command = fmt::format("dot -Tpng -o '{}'", path);
  std::FILE* pipe = popen(command.c_str(), "w");
  if (pipe == nullptr) {
    throw std::runtime_error(fmt::format("render_png: could not run '{}'", command));
  }
  const std::string dot = to_dot(graph, input_symbols, output_symbols);
  std::fwrite(dot.data(), 1, dot.size(), pipe);
  const int status = pclose(pipe);
  if (status != 0) {
    throw std::runtime_error(
        fmt::format("render_png: '{}' failed with status {} while writing {}", command, status, path));
  }
}

}  // namespace ember::graph
