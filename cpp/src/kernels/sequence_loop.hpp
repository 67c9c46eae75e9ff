// The loop driver of the sequence shape (a dynamic programme per sample: CTC): how samples and
// their frames are spread over threads. Included by per-ISA kernel files inside their own
// namespace.
//
// A sample is one work item: its recursion runs on one thread and writes only its own outputs
// (its loss slot, its gradient rows), so the result never depends on which thread took it nor
// on the thread count. A batch smaller than the thread count runs its samples one after
// another instead, each spreading its frame-wise passes (the C-wide rows: the log-partition
// and the gradient) over every thread; those passes compute each frame exactly as a single
// thread does.
#pragma once

#ifndef LOSSFN_ISA
#error "sequence_loop.hpp is included by per-ISA kernel files only"
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cstddef>

namespace lossfn {
namespace LOSSFN_ISA {

// sample(b, worker, frame_threads) for every b < batch: in parallel over samples (frame_threads
// = 1, worker = the OpenMP thread number), or in order with frame_threads = threads (worker 0).
template <class Sample>
void for_each_sample(std::size_t batch, int threads, bool split_frames, Sample&& sample) {
  if (threads <= 1 || split_frames || batch <= 1) {
    for (std::size_t b = 0; b < batch; ++b) sample(b, 0, split_frames ? threads : 1);
    return;
  }
  const int workers = batch < std::size_t(threads) ? int(batch) : threads;
  (void)workers;
#pragma omp parallel for num_threads(workers) schedule(dynamic, 1)
  for (std::size_t b = 0; b < batch; ++b) {
#ifdef _OPENMP
    sample(b, omp_get_thread_num(), 1);
#else
    sample(b, 0, 1);
#endif
  }
}

// frame(t) for every t < frames, over `threads` threads when there are more than one.
template <class Frame>
void for_each_frame(std::size_t frames, int threads, Frame&& frame) {
  if (threads <= 1 || frames <= 1) {
    for (std::size_t t = 0; t < frames; ++t) frame(t);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::size_t t = 0; t < frames; ++t) frame(t);
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
