// paths_to_tensor. path_matrix and path_energy have a file each
// (path_matrix.cpp, path_energy.cpp) so exercise mode can replace them.
#include "ebm/alignment/path.h"

#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"

namespace ember::alignment {

Tensor paths_to_tensor(const std::vector<std::vector<int64_t>>& paths, int64_t windows) {
  const auto batch = static_cast<int64_t>(paths.size());
  std::vector<float> values(batch * windows, -1.0f);
  for (int64_t b = 0; b < batch; ++b) {
    if (static_cast<int64_t>(paths[b].size()) > windows) {
      throw std::invalid_argument(fmt::format(
          "paths_to_tensor: path {} has {} windows, more than L = {}", b, paths[b].size(),
          windows));
    }
    for (size_t i = 0; i < paths[b].size(); ++i) {
      values[b * windows + static_cast<int64_t>(i)] = static_cast<float>(paths[b][i]);
    }
  }
  return from_vector(values, {batch, windows});
}

}  // namespace ember::alignment
