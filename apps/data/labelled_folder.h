// Labelled image folders: a folder of images plus `labels.tsv`, one line per
// image, `file<TAB>text`. Reading validates the whole list before it loads
// any image; writing produces the same layout from rendered samples.
//
// labels.tsv rules: UTF-8, one sample per line, the file name relative to
// the folder (no absolute path, no '..' that leaves the folder), one TAB,
// then the text (which may contain spaces but no TAB).
// Blank lines and lines starting with '#' are ignored. Subfolders,
// per-sample metadata and other list formats are left out.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/data/image.h"
#include "apps/data/image_io.h"

namespace ember::data {

struct FolderReadOptions {
  // Symbols a label may use (UTF-8); empty accepts any text.
  std::string alphabet;
  LoadOptions load;
  // > 0: resize every image to this height keeping its aspect ratio.
  int height = 32;
};

struct LabelledFolder {
  std::vector<LabelledImage> samples;
  std::vector<std::string> files;    // file name of each sample, as in labels.tsv
  std::vector<std::string> skipped;  // one line per damaged image: file and reason
};

// Reads `folder`/labels.tsv and its images. A malformed line, an empty label,
// a symbol outside the alphabet, an image path outside the folder, a
// duplicate or a missing image file throws naming labels.tsv, the line
// number and the value. An image that exists but
// cannot be decoded (corrupt, truncated, zero-size or too large) is skipped
// and reported in `skipped`. A folder left with no sample throws.
LabelledFolder read_labelled_folder(const std::filesystem::path& folder,
                                    const FolderReadOptions& options = {});

// Writes each sample as `<prefix><index, 6 digits>.png` and then labels.tsv
// (atomically), creating the folder when needed. A text containing a TAB or
// a line break, or an empty text, throws before anything is written.
void write_labelled_folder(const std::filesystem::path& folder,
                           std::span<const LabelledImage> samples,
                           std::string_view prefix = "");

}  // namespace ember::data
