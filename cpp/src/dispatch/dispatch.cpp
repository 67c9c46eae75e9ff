// Run-time CPU dispatch, threads and build facts. Baseline code: nothing here may use an
// instruction the oldest x86-64 lacks. It picks one kernel table per process (LOSSFN_ISA
// or the best level this CPU supports) and fills only the tables this CPU can run.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <pthread.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dispatch/dispatch.hpp"

namespace lossfn {
namespace {

bool cpu_supports(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::baseline: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::baseline;
#endif
}

bool compiled_in(Isa isa) {
  switch (isa) {
    case Isa::baseline: return true;
#ifdef LOSSFN_HAVE_AVX2
    case Isa::avx2: return true;
#endif
#ifdef LOSSFN_HAVE_AVX512
    case Isa::avx512: return true;
#endif
    default: return false;
  }
}

detail::KernelTable tables[3];
std::atomic<int> active{-1};
std::once_flag init_once;

// Threads: the count set by set_num_threads (0: none set, follow OpenMP's default, which
// OMP_NUM_THREADS, omp_set_num_threads and threadpoolctl's OpenMP limit change), a limit
// set by an outside controller (threadpoolctl through the Python package; 0: none), and
// whether this process is a child created by fork() after the parent's OpenMP pool existed.
// Each call reads them afresh: nothing is latched at first use.
std::atomic<int> requested_threads{0};
std::atomic<int> thread_limit{0};
std::atomic<bool> forked_child{false};

// libgomp's thread pool does not survive fork(): a child that enters a parallel region the
// parent had used waits forever for threads that were not copied. A child therefore runs
// single-threaded (as PyTorch's intra-op pool does after fork).
void on_fork_child() { forked_child.store(true); }

int clamp_threads(long n) {
  return n < 1 ? 1 : n > kMaxThreads ? kMaxThreads : int(n);
}

void fill(Isa isa) {
  detail::KernelTable& t = tables[int(isa)];
  switch (isa) {
    case Isa::baseline:
      baseline::fill_regression(t), baseline::fill_binary(t), baseline::fill_common(t);
      baseline::fill_multiclass(t), baseline::fill_sequence(t), baseline::fill_segmentation(t);
      baseline::fill_image(t), baseline::fill_la(t), baseline::fill_metric(t);
      break;
#ifdef LOSSFN_HAVE_AVX2
    case Isa::avx2:
      avx2::fill_regression(t), avx2::fill_binary(t), avx2::fill_common(t), avx2::fill_multiclass(t);
      avx2::fill_sequence(t), avx2::fill_segmentation(t);
      avx2::fill_image(t), avx2::fill_la(t), avx2::fill_metric(t);
      break;
#endif
#ifdef LOSSFN_HAVE_AVX512
    case Isa::avx512:
      avx512::fill_regression(t), avx512::fill_binary(t), avx512::fill_common(t);
      avx512::fill_multiclass(t), avx512::fill_sequence(t), avx512::fill_segmentation(t);
      avx512::fill_image(t), avx512::fill_la(t), avx512::fill_metric(t);
      break;
#endif
    default: break;
  }
}

void init() {
  std::call_once(init_once, [] {
    int best = 0;
    for (int i = 0; i < 3; ++i)
      if (isa_available(Isa(i))) {
        fill(Isa(i));
        best = i;
      }
    // LOSSFN_ISA forces a level; an unavailable one falls back to the best level below it.
    if (const char* env = std::getenv("LOSSFN_ISA")) {
      for (int i = 0; i < 3; ++i)
        if (std::strcmp(env, isa_name(Isa(i))) == 0) {
          int want = i;
          while (want > 0 && !isa_available(Isa(want))) --want;
          best = want;
        }
    }
    active.store(best);
    pthread_atfork(nullptr, nullptr, on_fork_child);
  });
}

}  // namespace

const char* version() noexcept { return LOSSFN_VERSION_STRING; }

const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::baseline: return "baseline";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

bool isa_available(Isa isa) noexcept { return compiled_in(isa) && cpu_supports(isa); }

Isa active_isa() noexcept {
  init();
  return Isa(active.load());
}

void set_isa(Isa isa) {
  init();
  const int i = int(isa);
  if (i < 0 || i > 2 || !isa_available(isa))
    throw Error(ErrorKind::value, std::string("isa: '") + isa_name(isa) +
                                      "' is not available on this CPU or in this build");
  active.store(i);
}

void set_num_threads(int n) {
  init();
  if (n < 1 || n > kMaxThreads)
    throw Error(ErrorKind::value, "n: the number of threads must be in [1, " + std::to_string(kMaxThreads) +
                                      "], got " + std::to_string(n));
  requested_threads.store(n);
  thread_limit.store(0);  // an explicit request replaces any outside limit
}

int get_num_threads() noexcept {
  init();
  if (forked_child.load(std::memory_order_relaxed)) return 1;
  long n = requested_threads.load(std::memory_order_relaxed);
#ifdef _OPENMP
  if (n == 0) n = omp_get_max_threads();
#else
  n = 1;
#endif
  const int limit = thread_limit.load(std::memory_order_relaxed);
  if (limit > 0 && n > limit) n = limit;
  return clamp_threads(n);
}

void set_thread_limit(int n) {
  init();
  if (n < 0) throw Error(ErrorKind::value, "n: a thread limit must be >= 0 (0: no limit)");
  thread_limit.store(n > kMaxThreads ? kMaxThreads : n);
}

int get_thread_limit() noexcept { return thread_limit.load(); }

bool has_openmp() noexcept {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

const char* compiler() noexcept {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

namespace detail {
const KernelTable& active_table() {
  init();
  return tables[active.load()];
}
}  // namespace detail

}  // namespace lossfn
