// ember landscape: what a loss does to an energy surface, on 2-D toy data.
//
// Trains a small energy network F(x, y) = MLP([x, y]) (2 -> H -> H -> 1,
// tanh hidden units) on points of a parabola, a circle or a spiral, with one
// of the losses of ebm/losses.h, and writes a PNG heatmap of the learned
// F over (x, y) with the training points drawn on. Negatives come from a
// fixed grid of G values of y. Each training point (x_i, y_i) is compared
// with F(x_i, y_c) for every grid value y_c farther than an exclusion radius
// from y_i, so the loss sees energies [B, 1 + G] with label 0.
//
// The energy loss only pushes down on the training points, so a flexible
// network lowers the whole surface (collapse); the contrastive losses keep
// the data below its surroundings. A one-line measure reports it: the
// "contrast", the mean over training points of (mean over the y grid of
// F(x_i, y)) - F(x_i, y_i), divided by the spread of F over the picture, is
// near 0 for a collapsed surface and clearly positive otherwise.
//
// Left out on purpose: sampling negatives by MCMC or Langevin dynamics (the
// grid is exact for one-dimensional y), and saving the trained network.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/data/canvas.h"
#include "apps/data/image.h"
#include "apps/data/image_io.h"
#include "autodiff/autodiff.h"
#include "ebm/losses.h"

namespace {

using ember::Generator;
using ember::Tensor;

struct Point {
  float x = 0.0f;
  float y = 0.0f;
};

// The rectangle of (x, y) plane that the grid, the picture and the data use.
struct Region {
  float x_low, x_high, y_low, y_high;
};

Region region_for(const std::string& data) {
  if (data == "parabola") {
    return {-1.25f, 1.25f, -0.5f, 1.5f};
  }
  return {-1.25f, 1.25f, -1.25f, 1.25f};
}

// Samples `count` noisy points of the named curve.
std::vector<Point> make_data(const std::string& data, int count, Generator& generator) {
  constexpr float kNoise = 0.02f;
  constexpr float kPi = std::numbers::pi_v<float>;
  std::vector<Point> points;
  for (int i = 0; i < count; ++i) {
    Point p;
    if (data == "parabola") {
      // y = x^2: one y per x.
      p.x = generator.uniform(-1.0f, 1.0f);
      p.y = p.x * p.x;
    } else if (data == "circle") {
      // x^2 + y^2 = 0.8^2: two y per x, the one-to-many case.
      const float angle = generator.uniform(0.0f, 2.0f * kPi);
      p.x = 0.8f * std::cos(angle);
      p.y = 0.8f * std::sin(angle);
    } else {
      // A spiral of 1.5 turns with radius growing from 0.2 to 1: up to
      // three y per x.
      const float t = generator.uniform(0.0f, 1.0f);
      const float radius = 0.2f + 0.8f * t;
      p.x = radius * std::cos(3.0f * kPi * t);
      p.y = radius * std::sin(3.0f * kPi * t);
    }
    p.x += generator.normal(0.0f, kNoise);
    p.y += generator.normal(0.0f, kNoise);
    points.push_back(p);
  }
  return points;
}

// F(x, y) = w3 . tanh(W2 tanh(W1 [x, y] + b1) + b2) + b3.
struct EnergyNet {
  Tensor w1, b1, w2, b2, w3, b3;

  EnergyNet(int64_t hidden, Generator& generator) {
    // Normal weights scaled by 1/sqrt(fan-in), so tanh units start unsaturated.
    const auto scale = [](int64_t fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); };
    w1 = ember::normal({2, hidden}, 0.0f, 2.0f, generator).set_requires_grad(true);
    b1 = ember::normal({hidden}, 0.0f, 1.0f, generator).set_requires_grad(true);
    w2 = ember::normal({hidden, hidden}, 0.0f, scale(hidden), generator).set_requires_grad(true);
    b2 = ember::zeros({hidden}).set_requires_grad(true);
    w3 = ember::normal({hidden, 1}, 0.0f, scale(hidden), generator).set_requires_grad(true);
    b3 = ember::zeros({1}).set_requires_grad(true);
  }

  std::vector<Tensor> parameters() const { return {w1, b1, w2, b2, w3, b3}; }

  // points [N, 2] -> energies [N].
  Tensor energies(const Tensor& points) const {
    const Tensor h1 = ember::tanh(ember::matmul(points, w1) + b1);
    const Tensor h2 = ember::tanh(ember::matmul(h1, w2) + b2);
    const Tensor out = ember::matmul(h2, w3) + b3;
    return ember::reshape(out, {points.size(0)});
  }
};

// Adam with the usual defaults (beta1 0.9, beta2 0.999, eps 1e-8).
// NOTE: duplicates ember::nn::Adam (nn/optim.h), which arrived later; the
// pictures in docs/landscape.md were made with this one.
class Adam {
 public:
  Adam(std::vector<Tensor> parameters, float learning_rate)
      : parameters_(std::move(parameters)), learning_rate_(learning_rate) {
    for (const Tensor& p : parameters_) {
      first_.emplace_back(static_cast<size_t>(p.numel()), 0.0f);
      second_.emplace_back(static_cast<size_t>(p.numel()), 0.0f);
    }
  }

  void zero_grad() {
    for (Tensor& p : parameters_) {
      p.zero_grad();
    }
  }

  void step() {
    ++steps_;
    const float correction1 = 1.0f - std::pow(0.9f, static_cast<float>(steps_));
    const float correction2 = 1.0f - std::pow(0.999f, static_cast<float>(steps_));
    for (size_t j = 0; j < parameters_.size(); ++j) {
      Tensor& p = parameters_[j];
      if (!p.grad().defined()) {
        continue;
      }
      float* values = p.mutable_data();
      const float* grad = p.grad().data();
      for (size_t e = 0; e < first_[j].size(); ++e) {
        first_[j][e] = 0.9f * first_[j][e] + 0.1f * grad[e];
        second_[j][e] = 0.999f * second_[j][e] + 0.001f * grad[e] * grad[e];
        const float m = first_[j][e] / correction1;
        const float v = second_[j][e] / correction2;
        values[e] -= learning_rate_ * m / (std::sqrt(v) + 1e-8f);
      }
    }
  }

 private:
  std::vector<Tensor> parameters_;
  float learning_rate_;
  std::vector<std::vector<float>> first_, second_;
  int steps_ = 0;
};

struct Options {
  std::string data = "parabola";
  std::string loss = "hinge";
  int samples = 128;
  int steps = 2000;
  int batch = 32;
  int hidden = 64;
  int grid = 48;  // G: y values used as negatives
  float exclusion = 0.1f;
  float learning_rate = 0.003f;
  float margin = 1.0f;
  float beta = 1.0f;
  std::string output;
  ember::apps::CommonOptions common;
};

// The y grid of the negatives: G evenly spaced values covering the region.
std::vector<float> y_grid(const Region& region, int count) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int c = 0; c < count; ++c) {
    values[static_cast<size_t>(c)] =
        region.y_low + (region.y_high - region.y_low) * (static_cast<float>(c) + 0.5f) / count;
  }
  return values;
}

// The energies of one batch, [B, 1 + G]: column 0 is F(x_i, y_i) and column
// 1 + c is F(x_i, y_c). Columns with |y_c - y_i| < exclusion are set to +inf,
// so grid values next to the data never count as incorrect.
Tensor batch_energies(const EnergyNet& net, const std::vector<Point>& batch,
                      const std::vector<float>& grid, float exclusion) {
  const auto rows = static_cast<int64_t>(batch.size());
  const auto columns = static_cast<int64_t>(grid.size()) + 1;
  Tensor inputs = ember::zeros({rows * columns, 2});
  Tensor excluded = ember::zeros({rows, columns});
  float* in = inputs.mutable_data();
  float* mask = excluded.mutable_data();
  for (int64_t i = 0; i < rows; ++i) {
    const Point& p = batch[static_cast<size_t>(i)];
    for (int64_t c = 0; c < columns; ++c) {
      const float y = c == 0 ? p.y : grid[static_cast<size_t>(c - 1)];
      in[(i * columns + c) * 2] = p.x;
      in[(i * columns + c) * 2 + 1] = y;
      mask[i * columns + c] = c > 0 && std::abs(y - p.y) < exclusion ? 1.0f : 0.0f;
    }
  }
  const Tensor energies = ember::reshape(net.energies(inputs), {rows, columns});
  return ember::where(excluded, ember::full({1}, INFINITY), energies);
}

Tensor compute_loss(const Options& options, const Tensor& energies) {
  const std::vector<int64_t> labels(static_cast<size_t>(energies.size(0)), 0);
  if (options.loss == "energy") {
    return ember::ebm::energy_loss(energies, labels);
  }
  if (options.loss == "hinge") {
    return ember::ebm::hinge_loss(energies, labels, options.margin);
  }
  if (options.loss == "square-square") {
    return ember::ebm::square_square_loss(energies, labels, options.margin);
  }
  return ember::ebm::nll_loss(energies, labels, options.beta);
}

// F over a size x size picture of the region: [size, size], row 0 at the top
// (largest y), column 0 at the left (smallest x).
std::vector<float> evaluate_surface(const EnergyNet& net, const Region& region, int size) {
  ember::NoGrad no_grad;
  Tensor inputs = ember::zeros({static_cast<int64_t>(size) * size, 2});
  float* in = inputs.mutable_data();
  for (int row = 0; row < size; ++row) {
    for (int col = 0; col < size; ++col) {
      const float x = region.x_low + (region.x_high - region.x_low) * (col + 0.5f) / size;
      const float y = region.y_high - (region.y_high - region.y_low) * (row + 0.5f) / size;
      in[(row * size + col) * 2] = x;
      in[(row * size + col) * 2 + 1] = y;
    }
  }
  return net.energies(inputs).to_vector();
}

struct SurfaceSummary {
  float low = 0.0f;
  float high = 0.0f;
  float data_mean = 0.0f;
  float contrast = 0.0f;  // mean (column mean - F at the point) / (high - low)
};

SurfaceSummary summarize(const EnergyNet& net, const std::vector<Point>& data,
                         const std::vector<float>& surface, const Region& region) {
  SurfaceSummary summary;
  summary.low = *std::min_element(surface.begin(), surface.end());
  summary.high = *std::max_element(surface.begin(), surface.end());

  // Each data point against the mean of F over a fine y grid at its own x.
  const std::vector<float> fine = y_grid(region, 200);
  ember::NoGrad no_grad;
  double data_total = 0.0;
  double gap_total = 0.0;
  for (const Point& p : data) {
    Tensor inputs = ember::zeros({static_cast<int64_t>(fine.size()) + 1, 2});
    float* in = inputs.mutable_data();
    in[0] = p.x;
    in[1] = p.y;
    for (size_t c = 0; c < fine.size(); ++c) {
      in[(c + 1) * 2] = p.x;
      in[(c + 1) * 2 + 1] = fine[c];
    }
    const std::vector<float> f = net.energies(inputs).to_vector();
    double column_mean = 0.0;
    for (size_t c = 1; c < f.size(); ++c) {
      column_mean += f[c];
    }
    column_mean /= static_cast<double>(fine.size());
    data_total += f[0];
    gap_total += column_mean - f[0];
  }
  const double count = static_cast<double>(data.size());
  const double spread = std::max(static_cast<double>(summary.high - summary.low), 1e-12);
  summary.data_mean = static_cast<float>(data_total / count);
  summary.contrast = static_cast<float>(gap_total / count / spread);
  return summary;
}

// Draws the surface with the colormap (low energy dark, high pale), each
// energy a scale x scale block, the data as white dots ringed in black, and a
// caption above.
ember::data::RgbImage render(const std::vector<float>& surface, int size, int scale,
                             const std::vector<Point>& data, const Region& region,
                             const SurfaceSummary& summary, const std::string& caption) {
  using namespace ember::data;
  constexpr int kTextScale = 2;
  const int top = 10 + text_height(caption, kTextScale) + 8;
  RgbImage image(top + size * scale + 10, size * scale + 20);
  draw_text(image, 10, 10, caption, kBlack, kTextScale);

  const double range = std::max(static_cast<double>(summary.high - summary.low), 1e-12);
  for (int row = 0; row < size; ++row) {
    for (int col = 0; col < size; ++col) {
      const double t = (surface[static_cast<size_t>(row * size + col)] - summary.low) / range;
      fill_rect(image, 10 + col * scale, top + row * scale, scale, scale, colormap(t));
    }
  }

  const double pixels = static_cast<double>(size * scale);
  for (const Point& p : data) {
    const double u = (p.x - region.x_low) / (region.x_high - region.x_low) * pixels;
    const double v = (region.y_high - p.y) / (region.y_high - region.y_low) * pixels;
    const int left = 10 + static_cast<int>(u);
    const int row_top = top + static_cast<int>(v);
    fill_rect(image, left - 3, row_top - 3, 7, 7, kBlack);
    fill_rect(image, left - 2, row_top - 2, 5, 5, kWhite);
  }
  return image;
}

std::string output_file(const Options& options) {
  return options.output.empty() ? fmt::format("landscape-{}-{}.png", options.data, options.loss)
                                : options.output;
}

// The largest batch x (grid + 1) x hidden, the hidden units of one step's
// network inputs. The tape keeps about 48 bytes per unit (600 MB measured at
// batch 4000, grid 48, hidden 64), so this limit keeps a step near 1.6 GB.
constexpr int64_t kMaxUnitsPerStep = int64_t{1} << 25;

// Rejects sizes whose training step would not fit in memory, naming the
// largest --batch that fits with the given --grid and --hidden.
void check_step_size(const Options& options) {
  const int64_t inputs_per_point = static_cast<int64_t>(options.grid) + 1;
  const int64_t units = static_cast<int64_t>(options.batch) * inputs_per_point * options.hidden;
  if (units > kMaxUnitsPerStep) {
    const int64_t max_batch = kMaxUnitsPerStep / (inputs_per_point * options.hidden);
    throw ember::apps::UserError(fmt::format(
        "--batch {} with --grid {} and --hidden {} needs about {:.1f} GB per step (batch x (grid + 1) "
        "x hidden = {}, above the limit of {}); use --batch from 1 to {} or lower --grid or --hidden",
        options.batch, options.grid, options.hidden, static_cast<double>(units) * 48.0 / 1e9, units,
        kMaxUnitsPerStep, max_batch));
  }
}

void print_configuration(const Options& options) {
  fmt::print(
      "ember landscape: {} data ({} points), {} loss (margin {}, beta {}), MLP 2-{}-{}-1, "
      "{} negatives on a y grid (exclusion {}), {} steps of Adam (batch {}, learning rate {})\n",
      options.data, options.samples, options.loss, options.margin, options.beta, options.hidden,
      options.hidden, options.grid, options.exclusion, options.steps, options.batch,
      options.learning_rate);
}

// Runs options.steps Adam steps on batches drawn with replacement from data,
// printing the loss ten times along the way.
void train_network(const Options& options, EnergyNet& net, const std::vector<Point>& data,
                   const std::vector<float>& grid, Generator& generator) {
  Adam optimizer(net.parameters(), options.learning_rate);
  const int report_every = std::max(1, options.steps / 10);
  std::vector<Point> batch(static_cast<size_t>(options.batch));
  for (int step = 1; step <= options.steps; ++step) {
    for (Point& p : batch) {
      p = data[static_cast<size_t>(generator.randint(options.samples))];
    }
    optimizer.zero_grad();
    const Tensor loss = compute_loss(options, batch_energies(net, batch, grid, options.exclusion));
    if (!std::isfinite(loss.item())) {
      throw ember::apps::UserError(fmt::format(
          "the loss became {} at step {}; lower --learning-rate", loss.item(), step));
    }
    loss.backward();
    optimizer.step();
    if (!options.common.quiet && (step % report_every == 0 || step == 1)) {
      fmt::print("step {:5d}  loss {:.5f}\n", step, loss.item());
    }
  }
}

// Draws the trained surface to the output PNG and prints the collapse measure.
void write_surface(const Options& options, const EnergyNet& net, const std::vector<Point>& data,
                   const Region& region) {
  constexpr int kPicture = 160;
  constexpr int kScale = 3;
  const std::vector<float> surface = evaluate_surface(net, region, kPicture);
  const SurfaceSummary summary = summarize(net, data, surface, region);
  const std::string caption =
      fmt::format("{} data, {} loss\nF in [{:.4g}, {:.4g}], contrast {:.3f}", options.data,
                  options.loss, summary.low, summary.high, summary.contrast);
  const std::string file = output_file(options);
  ember::data::save_png(
      render(surface, kPicture, kScale, data, region, summary, caption), file);

  fmt::print(
      "collapse measure: contrast {:.3f} (mean F over y minus F at the data, over the spread "
      "of F; near 0 = collapsed); F in [{:.4g}, {:.4g}], data mean {:.4g}; wrote {}\n",
      summary.contrast, summary.low, summary.high, summary.data_mean, file);
}

void run(const Options& options) {
  check_step_size(options);
  ember::apps::prepare_output_file(output_file(options), "--output");
  if (!options.common.quiet) {
    print_configuration(options);
  }

  Generator generator(options.common.seed);
  const Region region = region_for(options.data);
  const std::vector<Point> data = make_data(options.data, options.samples, generator);
  const std::vector<float> grid = y_grid(region, options.grid);
  EnergyNet net(options.hidden, generator);
  train_network(options, net, data, grid, generator);
  write_surface(options, net, data, region);
}

// The toy problem: data, loss and the grid of negatives.
void add_problem_options(CLI::App& command, Options& options) {
  command.add_option("--data", options.data, "Toy data set")
      ->check(CLI::IsMember({"parabola", "circle", "spiral"}))
      ->capture_default_str();
  command.add_option("--loss", options.loss, "Loss that shapes the energy surface")
      ->check(CLI::IsMember({"energy", "hinge", "square-square", "nll"}))
      ->capture_default_str();
  command.add_option("--samples", options.samples, "Training points")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  command.add_option("--grid", options.grid, "Number of y values used as negatives")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  command.add_option("--exclusion", options.exclusion,
                     "Grid values closer than this to a point's y are not negatives")
      ->check(CLI::Range(0.0f, 10.0f))
      ->capture_default_str();
  command.add_option("--margin", options.margin, "Margin m of the hinge and square-square losses")
      ->check(CLI::Range(0.0f, 1e6f))
      ->capture_default_str();
  command.add_option("--beta", options.beta, "Inverse temperature of the NLL loss")
      ->check(CLI::Range(1e-6f, 1e6f))
      ->capture_default_str();
}

// The network and how long and how it trains.
void add_training_options(CLI::App& command, Options& options) {
  command.add_option("--hidden", options.hidden, "Units in each of the two hidden layers")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command.add_option("--steps", options.steps, "Optimizer steps")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  command.add_option("--batch", options.batch,
                     "Training points per step; batch x (grid + 1) x hidden must stay at most 33,554,432")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command.add_option("--learning-rate", options.learning_rate, "Adam step size")
      ->check(CLI::Range(1e-7f, 1.0f))
      ->capture_default_str();
}

}  // namespace

namespace ember::apps {

void add_landscape_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "landscape",
      "Train an energy network F(x, y) on 2-D toy data with one loss and draw its energy surface");
  add_problem_options(*command, *options);
  add_training_options(*command, *options);
  command->add_option("--output,-o", options->output,
                      "PNG file to write; default landscape-DATA-LOSS.png");
  add_common_options(*command, options->common);
  command->callback([options] {
    apply_common_options(options->common);
    run(*options);
  });
}

}  // namespace ember::apps
