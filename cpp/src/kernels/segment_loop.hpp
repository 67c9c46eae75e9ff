// The loop driver of the segment shape (sums per sample and class over the pixels, then an
// elementwise gradient): how a call's pixels are cut into work items and tiles, and how the
// items are spread over threads. Included by per-ISA kernel files inside their own namespace.
//
// A work item is a range of one sample's pixels (segment_item_pixels(classes) of them, the
// last one shorter); its bounds depend on the shape only, so the items' partial sums, added in
// item order, have the same bits for any thread count. Inside an item, pixels go in tiles along
// the contiguous `inner` axis: a tile is (outer position, first inner position, width), never
// crossing an outer position, at most segment_tile(classes) wide; with inner = 1 (NHWC), along
// `outer`.
#pragma once

#ifndef LOSSFN_ISA
#error "segment_loop.hpp is included by per-ISA kernel files only"
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cstddef>

namespace lossfn {
namespace LOSSFN_ISA {

struct PixelRange {
  std::size_t sample, first, last;  // pixels [first, last) of `sample`
};

constexpr std::size_t items_per_sample(std::size_t pixels, std::size_t item_pixels) {
  return (pixels + item_pixels - 1) / item_pixels;
}

// item(k, range, worker) for every work item k of `batch` samples of `pixels` pixels each, in
// parallel over `threads` (worker = the OpenMP thread number) or in order on this thread.
template <class Item>
void for_each_item(std::size_t batch, std::size_t pixels, std::size_t item_pixels, int threads, Item&& item) {
  const std::size_t per = items_per_sample(pixels, item_pixels), items = batch * per;
  auto range = [&](std::size_t k) {
    const std::size_t first = (k % per) * item_pixels;
    return PixelRange{k / per, first, first + item_pixels < pixels ? first + item_pixels : pixels};
  };
  if (threads <= 1 || items <= 1) {
    for (std::size_t k = 0; k < items; ++k) item(k, range(k), 0);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::ptrdiff_t k = 0; k < std::ptrdiff_t(items); ++k) {
#ifdef _OPENMP
    item(std::size_t(k), range(std::size_t(k)), omp_get_thread_num());
#else
    item(std::size_t(k), range(std::size_t(k)), 0);
#endif
  }
}

// tile(outer_index, inner_index, width) over the pixels [first, last) of a sample whose pixels
// are (outer, inner): runs along inner, each cut into tiles of at most `tile` pixels. With
// inner = 1 (NHWC: the classes of a pixel side by side) the pixels are consecutive along outer,
// and a tile is `width` of them from (outer_index, 0). ahead(...) is called with each tile just
// before the previous one is worked on (to prefetch it).
template <class Tile, class Ahead>
void for_each_tile(std::size_t inner, const PixelRange& r, std::size_t tile, Tile&& f, Ahead&& ahead) {
  bool pending = false;
  std::size_t po = 0, pi = 0, pw = 0;
  auto visit = [&](std::size_t o, std::size_t i, std::size_t w) {
    ahead(o, i, w);
    if (pending) f(po, pi, pw);
    po = o, pi = i, pw = w, pending = true;
  };
  if (inner == 1) {
    for (std::size_t s = r.first; s < r.last; s += tile) visit(s, 0, r.last - s < tile ? r.last - s : tile);
  } else {
    for (std::size_t s = r.first; s < r.last;) {
      const std::size_t o = s / inner, i = s % inner;
      const std::size_t run = inner - i < r.last - s ? inner - i : r.last - s;
      for (std::size_t done = 0; done < run; done += tile) visit(o, i + done, run - done < tile ? run - done : tile);
      s += run;
    }
  }
  if (pending) f(po, pi, pw);
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
