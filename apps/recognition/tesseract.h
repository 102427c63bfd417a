// Running Tesseract (Debian's tesseract-ocr) on the images Ember reads, as
// the general-purpose OCR engine to compare against.
//
// Each image is turned into what Tesseract reads best: noisy images (many
// isolated ink pixels, as salt noise gives) are median-filtered, then the
// image is cropped to its ink, inverted to dark ink on white and given a
// white border. All images go through one tesseract process over a file
// list with `--psm 8` (a single word), OMP_THREAD_LIMIT=1 and a whitelist
// of the alphabet. Tesseract's other page modes, languages and its API
// (libtesseract) are left out.
#pragma once

#include <string>
#include <vector>

#include "apps/data/image.h"

namespace ember::recognition {

// The path of the tesseract executable found on PATH, or "" when there is none.
std::string find_tesseract();

// Reports whether image looks like it carries salt noise: more than 0.5% of
// its pixels are ink (>= 0.5) with no ink among their 8 neighbours.
bool looks_noisy(const data::GrayImage& image);

// The median of each pixel's 3 x 3 neighbourhood (edges replicated).
data::GrayImage median_filter(const data::GrayImage& image);

// The image as Tesseract gets it: median-filtered when noisy, cropped to
// the ink, inverted (ink = 0 on paper = 1) and padded with 8 px of paper.
data::GrayImage prepare_for_tesseract(const data::GrayImage& image);

struct TesseractOptions {
  std::string executable;  // from find_tesseract()
  std::string whitelist;   // characters Tesseract may output
};

// Transcribes every image with one tesseract run and returns one text per
// image, lowercased and stripped of white space. Throws std::runtime_error
// with Tesseract's first error line when the run fails.
std::vector<std::string> run_tesseract(const std::vector<data::GrayImage>& images,
                                       const TesseractOptions& options);

}  // namespace ember::recognition
