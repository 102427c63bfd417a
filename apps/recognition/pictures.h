// The pictures the handwriting commands write: an image's energy matrix
// with the decoded or target alignment drawn on, the path matrix with the
// Viterbi path, the dynamic program's table, and loss/error curves.
#pragma once

#include <string>
#include <vector>

#include "apps/data/image.h"
#include "apps/recognition/recognizer.h"

namespace ember::recognition {

// Writes energies of one image as a heatmap (symbols by windows). With a
// non-empty target, the best alignment of that target is drawn on;
// otherwise each window's lowest-energy symbol is.
void plot_energies(Recognizer& recognizer, const data::LabelledImage& sample,
                   const std::string& target, const std::string& path);

// Writes the path matrix pm[i, j] = E[i, y[j]] of the separated target
// (windows by target positions) with the Viterbi path, and next to it
// (path_dp) the dynamic program's table of best partial-path energies.
void plot_path_matrix(Recognizer& recognizer, const data::LabelledImage& sample,
                      const std::string& target, const std::string& path,
                      const std::string& path_dp);

// Writes training loss and validation CER per epoch from a metrics.jsonl file.
void plot_metrics(const std::string& metrics_path, const std::string& path);

}  // namespace ember::recognition
