// Seeded augmentations of gray images (ink = 1 on 0): horizontal jitter,
// salt noise, small affine warps, elastic distortion and stroke thickness.
//
// Every random draw goes through random.h on an engine the caller passes in,
// so one seed gives the same images on every standard library. Each function
// returns a new image of the input's size; background enters wherever the
// warp looks outside the input. Color, blur and perspective are left out.
#pragma once

#include "apps/data/image.h"
#include "apps/data/random.h"

namespace ember::data {

// Moves the content `shift` columns to the right (left when negative),
// keeping the width: columns pushed past the edge are lost and background
// enters from the other side.
GrayImage shift_horizontal(const GrayImage& image, int shift);

// Shifts right by a uniform integer in [0, max_shift], as the homework did
// (text drawn at x = 0..7 in a fixed-width image). Returns the shift used
// through `used_shift` when it is not null.
GrayImage jitter_horizontal(const GrayImage& image, int max_shift, Rng& rng,
                            int* used_shift = nullptr);

// Sets each pixel to full ink (1) independently with probability `fraction`
// (the homework used 0.1).
GrayImage salt_noise(const GrayImage& image, double fraction, Rng& rng);

// A warp about the image center: output point p samples the input at
// A^-1 (p - center) + center, where A = scale * rotation * slant and slant
// maps (x, y) to (x + slant * y, y) with y pointing up, so a positive slant
// leans letters to the right like italics. Rotation is in radians,
// counterclockwise.
struct Affine {
  double slant = 0.0;
  double scale = 1.0;
  double rotation = 0.0;
};
GrayImage affine_warp(const GrayImage& image, const Affine& affine);

// Ranges for random affine warps: slant uniform in [-max_slant, max_slant],
// scale in [min_scale, max_scale], rotation in [-max_rotation, max_rotation].
struct AffineRange {
  double max_slant = 0.3;
  double min_scale = 0.9;
  double max_scale = 1.1;
  double max_rotation = 0.05;  // radians, about 3 degrees
};
Affine random_affine(const AffineRange& range, Rng& rng);

// Elastic distortion (Simard, Steinkraus and Platt, ICDAR 2003): two fields
// of uniform [-1, 1] displacements are smoothed by a Gaussian of deviation
// `sigma` pixels, scaled by `alpha` pixels, and the image is resampled
// bilinearly at the displaced points.
struct Elastic {
  double alpha = 6.0;
  double sigma = 4.0;
};
GrayImage elastic_distortion(const GrayImage& image, const Elastic& elastic, Rng& rng);

// Gray morphology with a (2 * radius + 1)-pixel square: dilate takes the
// maximum over the square (thicker strokes), erode the minimum (thinner).
GrayImage dilate(const GrayImage& image, int radius);
GrayImage erode(const GrayImage& image, int radius);

// The augmentations that `augment` applies; all are off by default.
struct AugmentOptions {
  int max_jitter = 0;            // > 0: jitter_horizontal with this maximum
  double salt_fraction = 0.0;    // > 0: salt_noise with this fraction
  bool affine = false;
  AffineRange affine_range;
  bool elastic = false;
  Elastic elastic_params;
  // Probability of a stroke change; when one happens, dilate or erode (equal
  // odds) with radius 1. An erosion that would remove more than half of the
  // ink is not applied, so thin strokes survive.
  double stroke_probability = 0.0;
};

// Applies the enabled augmentations in a fixed order: stroke, affine,
// elastic, jitter, salt. Disabled steps draw nothing from the engine.
GrayImage augment(const GrayImage& image, const AugmentOptions& options, Rng& rng);

}  // namespace ember::data
