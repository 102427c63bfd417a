// The augmentations declared in augment.h. Warps map each output pixel back
// to a point of the input and sample it bilinearly, treating points outside
// the input as background (0).
#include "apps/data/augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace ember::data {

namespace {

// Samples the input at a fractional point; outside the image is 0.
float sample_bilinear(const GrayImage& image, double row, double col) {
  const int row0 = static_cast<int>(std::floor(row));
  const int col0 = static_cast<int>(std::floor(col));
  const float dy = static_cast<float>(row - row0);
  const float dx = static_cast<float>(col - col0);

  auto pixel = [&](int r, int c) {
    const bool inside = r >= 0 && r < image.height && c >= 0 && c < image.width;
    return inside ? image.at(r, c) : 0.0f;
  };
  const float top = (1 - dx) * pixel(row0, col0) + dx * pixel(row0, col0 + 1);
  const float bottom = (1 - dx) * pixel(row0 + 1, col0) + dx * pixel(row0 + 1, col0 + 1);
  return (1 - dy) * top + dy * bottom;
}

// Blurs a [height, width] field in place with a separable Gaussian whose
// kernel is cut at 3 sigma and renormalized at the borders.
void gaussian_blur(std::vector<double>& field, int height, int width, double sigma) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3.0 * sigma)));
  std::vector<double> kernel(2 * radius + 1);
  for (int k = -radius; k <= radius; ++k) kernel[k + radius] = std::exp(-0.5 * k * k / (sigma * sigma));

  std::vector<double> temp(field.size());
  auto blur_pass = [&](const std::vector<double>& in, std::vector<double>& out, bool along_rows) {
    for (int row = 0; row < height; ++row) {
      for (int col = 0; col < width; ++col) {
        double sum = 0.0;
        double weight = 0.0;
        for (int k = -radius; k <= radius; ++k) {
          const int r = along_rows ? row : row + k;
          const int c = along_rows ? col + k : col;
          if (r < 0 || r >= height || c < 0 || c >= width) continue;
          sum += kernel[k + radius] * in[static_cast<std::size_t>(r) * width + c];
          weight += kernel[k + radius];
        }
        out[static_cast<std::size_t>(row) * width + col] = sum / weight;
      }
    }
  };
  blur_pass(field, temp, /*along_rows=*/true);
  blur_pass(temp, field, /*along_rows=*/false);
}

double ink_total(const GrayImage& image) {
  double sum = 0.0;
  for (float pixel : image.pixels) sum += pixel;
  return sum;
}

GrayImage morphology(const GrayImage& image, int radius, bool take_max, const char* name) {
  if (radius < 0) {
    throw std::invalid_argument(fmt::format("{}: radius {} is negative; expected >= 0", name, radius));
  }
  GrayImage out(image.height, image.width);
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      // Pixels outside the image count as background for both operations.
      float value = take_max ? 0.0f : 1.0f;
      for (int r = row - radius; r <= row + radius; ++r) {
        for (int c = col - radius; c <= col + radius; ++c) {
          const bool inside = r >= 0 && r < image.height && c >= 0 && c < image.width;
          const float pixel = inside ? image.at(r, c) : 0.0f;
          value = take_max ? std::max(value, pixel) : std::min(value, pixel);
        }
      }
      out.at(row, col) = value;
    }
  }
  return out;
}

}  // namespace

GrayImage shift_horizontal(const GrayImage& image, int shift) {
  GrayImage out(image.height, image.width);
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      const int source = col - shift;
      if (source >= 0 && source < image.width) out.at(row, col) = image.at(row, source);
    }
  }
  return out;
}

GrayImage jitter_horizontal(const GrayImage& image, int max_shift, Rng& rng, int* used_shift) {
  if (max_shift < 0) {
    throw std::invalid_argument(
        fmt::format("jitter_horizontal: max shift {} is negative; expected >= 0", max_shift));
  }
  const int shift = static_cast<int>(uniform_int(rng, 0, max_shift));
  if (used_shift != nullptr) *used_shift = shift;
  return shift_horizontal(image, shift);
}

GrayImage salt_noise(const GrayImage& image, double fraction, Rng& rng) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    throw std::invalid_argument(
        fmt::format("salt_noise: fraction {} is outside [0, 1]", fraction));
  }
  GrayImage out = image;
  for (float& pixel : out.pixels) {
    if (bernoulli(rng, fraction)) pixel = 1.0f;
  }
  return out;
}

GrayImage affine_warp(const GrayImage& image, const Affine& affine) {
  if (!(affine.scale > 0.0)) {
    throw std::invalid_argument(
        fmt::format("affine_warp: scale {} is invalid; expected > 0", affine.scale));
  }

  // Forward map in (x right, y up) coordinates about the center:
  // A = scale * R(rotation) * [[1, slant], [0, 1]].
  const double cos_r = std::cos(affine.rotation);
  const double sin_r = std::sin(affine.rotation);
  const double a = affine.scale * cos_r;
  const double b = affine.scale * (affine.slant * cos_r - sin_r);
  const double c = affine.scale * sin_r;
  const double d = affine.scale * (affine.slant * sin_r + cos_r);
  const double det = a * d - b * c;  // = scale^2, never 0

  const double center_x = 0.5 * (image.width - 1);
  const double center_y = 0.5 * (image.height - 1);
  GrayImage out(image.height, image.width);
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      const double x = col - center_x;
      const double y = center_y - row;  // y points up
      // Inverse of [[a, b], [c, d]] applied to (x, y).
      const double source_x = (d * x - b * y) / det;
      const double source_y = (-c * x + a * y) / det;
      out.at(row, col) = sample_bilinear(image, center_y - source_y, source_x + center_x);
    }
  }
  return out;
}

Affine random_affine(const AffineRange& range, Rng& rng) {
  Affine affine;
  affine.slant = uniform(rng, -range.max_slant, range.max_slant);
  affine.scale = uniform(rng, range.min_scale, range.max_scale);
  affine.rotation = uniform(rng, -range.max_rotation, range.max_rotation);
  return affine;
}

GrayImage elastic_distortion(const GrayImage& image, const Elastic& elastic, Rng& rng) {
  if (!(elastic.sigma > 0.0) || !(elastic.alpha >= 0.0)) {
    throw std::invalid_argument(fmt::format(
        "elastic_distortion: alpha {} and sigma {} are invalid; expected alpha >= 0, sigma > 0",
        elastic.alpha, elastic.sigma));
  }

  const std::size_t size = image.pixels.size();
  std::vector<double> dx(size);
  std::vector<double> dy(size);
  for (double& value : dx) value = uniform(rng, -1.0, 1.0);
  for (double& value : dy) value = uniform(rng, -1.0, 1.0);
  gaussian_blur(dx, image.height, image.width, elastic.sigma);
  gaussian_blur(dy, image.height, image.width, elastic.sigma);

  GrayImage out(image.height, image.width);
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      const std::size_t i = static_cast<std::size_t>(row) * image.width + col;
      out.at(row, col) =
          sample_bilinear(image, row + elastic.alpha * dy[i], col + elastic.alpha * dx[i]);
    }
  }
  return out;
}

GrayImage dilate(const GrayImage& image, int radius) {
  return morphology(image, radius, /*take_max=*/true, "dilate");
}

GrayImage erode(const GrayImage& image, int radius) {
  return morphology(image, radius, /*take_max=*/false, "erode");
}

GrayImage augment(const GrayImage& image, const AugmentOptions& options, Rng& rng) {
  GrayImage out = image;
  if (options.stroke_probability > 0.0 && bernoulli(rng, options.stroke_probability)) {
    if (bernoulli(rng, 0.5)) {
      out = dilate(out, 1);
    } else {
      // Strokes under 3 px wide vanish under a 3 x 3 erosion, so thin
      // writing keeps its strokes rather than losing the word.
      GrayImage thinner = erode(out, 1);
      if (ink_total(thinner) >= 0.5 * ink_total(out)) out = std::move(thinner);
    }
  }
  if (options.affine) out = affine_warp(out, random_affine(options.affine_range, rng));
  if (options.elastic) out = elastic_distortion(out, options.elastic_params, rng);
  if (options.max_jitter > 0) out = jitter_horizontal(out, options.max_jitter, rng);
  if (options.salt_fraction > 0.0) out = salt_noise(out, options.salt_fraction, rng);
  return out;
}

}  // namespace ember::data
