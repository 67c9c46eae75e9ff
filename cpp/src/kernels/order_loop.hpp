// The loop driver of the order shape (a stable sort of keys, then scans: the Lovász hinge, and
// later wasserstein_1d): sort items, float keys that sort as unsigned integers, and the stable
// LSD radix sort, on one thread or over several. Included by per-ISA kernel files inside their
// own namespace. Segments are spread over threads by for_each_sample (sequence_loop.hpp): a
// segment per work item, or, with fewer segments than threads, one after another, each sorted
// over every thread.
//
// A stable sort has one result, so the sorted order (and everything scanned from it) never
// depends on the thread count; the scans add their sums in fixed blocks of kOrderBlock items.
#pragma once

#ifndef LOSSFN_ISA
#error "order_loop.hpp is included by per-ISA kernel files only"
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "dispatch/kernel_abi.hpp"
#include "kernels/sequence_loop.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

// An item to sort: an unsigned key and a 32-bit payload (8 bytes for a 32-bit key, the key in
// the high half, so that a pass moves one word; 16 for a 64-bit key).
template <class Key>
struct SortItem;
template <>
struct SortItem<std::uint32_t> {
  std::uint64_t bits;
  static SortItem make(std::uint32_t key, std::uint32_t payload) {
    return SortItem{std::uint64_t(key) << 32 | payload};
  }
  std::uint32_t key() const { return std::uint32_t(bits >> 32); }
  std::uint32_t payload() const { return std::uint32_t(bits); }
};
template <>
struct SortItem<std::uint64_t> {
  std::uint64_t key_bits;
  std::uint64_t payload_bits;
  static SortItem make(std::uint64_t key, std::uint32_t payload) { return SortItem{key, payload}; }
  std::uint64_t key() const { return key_bits; }
  std::uint32_t payload() const { return std::uint32_t(payload_bits); }
};
static_assert(sizeof(SortItem<std::uint32_t>) == detail::order_item_bytes(4), "scratch sizes");
static_assert(sizeof(SortItem<std::uint64_t>) == detail::order_item_bytes(8), "scratch sizes");

// The unsigned key of a float: its bits with the sign bit set for a positive value and all bits
// flipped for a negative one, so that unsigned order is numeric order (-0 counted as +0; NaNs at
// the ends: positive ones after +inf, negative ones before -inf). order_value is its inverse.
template <class T>
struct FloatKey {
  using Key = typename std::conditional<sizeof(T) == 4, std::uint32_t, std::uint64_t>::type;
  static constexpr Key sign = Key(1) << (8 * sizeof(T) - 1);
  static Key of(T v) {
    v = v + T(0);  // -0 + 0 = +0: both zeros get one key
    Key u;
    std::memcpy(&u, &v, sizeof u);
    // Without a branch (the signs of the data are random): all bits flipped when the sign is
    // set, else the sign bit alone.
    const Key negative = Key(0) - (u >> (8 * sizeof(T) - 1));
    return u ^ (negative | sign);
  }
  // The key of v, or of -v when `keep` is false (the sign bit flipped, without a branch).
  static Key of(bool keep, T v) {
    Key u;
    std::memcpy(&u, &v, sizeof u);
    u ^= Key(!keep) << (8 * sizeof(T) - 1);
    std::memcpy(&v, &u, sizeof u);
    return of(v);
  }
  static T value(Key k) {
    const Key u = (k & sign) ? Key(k ^ sign) : Key(~k);
    T v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }
};

template <class Key>
constexpr std::size_t radix_passes() {
  return (8 * sizeof(Key) + detail::kRadixBits - 1) / detail::kRadixBits;
}
template <class Key>
inline std::size_t digit(Key key, std::size_t pass) {
  return std::size_t(key >> (pass * detail::kRadixBits)) & (detail::kRadixBuckets - 1);
}

// Adds the digits of `key` in every pass to counts[pass * kRadixBuckets + digit].
template <class Key>
inline void count_digits(Key key, std::size_t* counts) {
  for (std::size_t p = 0; p < radix_passes<Key>(); ++p) ++counts[p * detail::kRadixBuckets + digit(key, p)];
}

// Sorts items[0, n) by key, stably, with `other` (n items) as the second buffer; returns the
// buffer that holds the sorted items. `totals`: every pass's digit counts over the n items
// (count_digits of each key); a pass whose digit is the same for every item is skipped.
// `chunk_counts`: threads * kRadixBuckets counts of scratch. Over `threads` threads the items go
// in contiguous chunks, each chunk's items scattered after those of the chunks before it with
// the same digit: the stable order, the same as on one thread.
template <class Key>
SortItem<Key>* radix_sort(SortItem<Key>* items, SortItem<Key>* other, std::size_t n, const std::size_t* totals,
                          std::size_t* chunk_counts, int threads) {
  using detail::kRadixBuckets;
  constexpr std::size_t passes = radix_passes<Key>();
  bool active[passes];
  std::size_t moves = 0;
  for (std::size_t p = 0; p < passes; ++p) {
    active[p] = n > 1;
    for (std::size_t d = 0; d < kRadixBuckets && active[p]; ++d) active[p] = totals[p * kRadixBuckets + d] != n;
    moves += active[p];
  }
  if (threads <= 1 || n < detail::kBlock) {
    std::size_t* offset = chunk_counts;
    for (std::size_t p = 0; p < passes; ++p) {
      if (!active[p]) continue;
      std::size_t start = 0;
      for (std::size_t d = 0; d < kRadixBuckets; ++d) offset[d] = start, start += totals[p * kRadixBuckets + d];
      for (std::size_t i = 0; i < n; ++i) other[offset[digit(items[i].key(), p)]++] = items[i];
      SortItem<Key>* t = items;
      items = other, other = t;
    }
    return items;
  }
  SortItem<Key>* const sorted = moves % 2 ? other : items;
#pragma omp parallel num_threads(threads)
  {
#ifdef _OPENMP
    const std::size_t t = std::size_t(omp_get_thread_num()), T = std::size_t(omp_get_num_threads());
#else
    const std::size_t t = 0, T = 1;
#endif
    const std::size_t lo = n * t / T, hi = n * (t + 1) / T;
    SortItem<Key>* src = items;
    SortItem<Key>* dst = other;
    std::size_t* mine = chunk_counts + t * kRadixBuckets;
    for (std::size_t p = 0; p < passes; ++p) {
      if (!active[p]) continue;
      for (std::size_t d = 0; d < kRadixBuckets; ++d) mine[d] = 0;
      for (std::size_t i = lo; i < hi; ++i) ++mine[digit(src[i].key(), p)];
#pragma omp barrier
#pragma omp single
      {
        std::size_t start = 0;
        for (std::size_t d = 0; d < kRadixBuckets; ++d)
          for (std::size_t c = 0; c < T; ++c) {
            const std::size_t count = chunk_counts[c * kRadixBuckets + d];
            chunk_counts[c * kRadixBuckets + d] = start;
            start += count;
          }
      }
      for (std::size_t i = lo; i < hi; ++i) dst[mine[digit(src[i].key(), p)]++] = src[i];
#pragma omp barrier
      SortItem<Key>* s = src;
      src = dst, dst = s;
    }
  }
  return sorted;
}

}  // namespace LOSSFN_ISA
}  // namespace lossfn
