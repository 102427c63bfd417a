// parallel_for over samples, on top of the kernels' thread pool.
#include "ebm/alignment/parallel.h"

#include "autodiff/kernels/threads.h"

namespace ember::alignment {

void parallel_for(int64_t count, int64_t min_chunk,
                  const std::function<void(int64_t begin, int64_t end)>& body) {
  if (count < 2 * min_chunk || kernels::num_threads() == 1) {
    body(0, count);
    return;
  }
  kernels::parallel_for(count, body);
}

}  // namespace ember::alignment
