// lossfn::pair_loss: checks a call (the inputs the loss takes, the options, the outputs), works out
// the upstream scale, runs the pair kernel over items of rows and reduces the items' sums in
// order. lossfn::center_loss and lossfn::center_update: check a call, copy and check the labels
// (they address the centers), group the samples by class (a stable counting sort), then the rows
// pass and the classes pass. lossfn::margin_loss and lossfn::info_nce (the pairwise shape): check
// a call, copy and check the labels, unit rows, the statistics pass, each row's log-sum-exp and
// loss in double, then the gradient pass and the adjoint of the normalisation; lossfn::batch_triplet:
// centred (or unit) rows, the distances pass, mining per anchor, the reduction, the gradient pass.
// Baseline code.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dispatch/dispatch.hpp"
#include "kernels/margin_map.hpp"
#include "lossfn/metric.hpp"

namespace lossfn {
namespace {

using namespace detail;

struct PairInputs {
  bool b, c, labels;
  bool one_value;  // one value per sample (the elementwise losses)
};

PairInputs inputs_of(PairLoss loss) {
  switch (loss) {
    case PairLoss::contrastive: return {true, false, true, false};
    case PairLoss::triplet: return {true, true, false, false};
    case PairLoss::cosine_embedding: return {true, false, true, false};
    case PairLoss::margin_ranking: return {true, false, true, true};
    case PairLoss::hinge_embedding: return {false, false, true, true};
    default: fail("loss: not a pair loss (" + std::to_string(int(loss)) + ")");
  }
}

void check_options(PairLoss loss, const PairOptions& o) {
  const std::string name = pair_loss_name(loss);
  auto bad = [&](const char* option, double v, const char* rule) {
    std::ostringstream msg;
    msg << name << ": " << option << ": must be " << rule << ", got " << v;
    fail(msg.str());
  };
  if (!std::isfinite(o.margin)) bad("margin", o.margin, "finite");
  if ((loss == PairLoss::contrastive || loss == PairLoss::triplet) && o.margin < 0.0)
    bad("margin", o.margin, "a finite number >= 0");
  if (loss == PairLoss::triplet) {
    if (!(o.p >= 1.0) || !std::isfinite(o.p)) bad("p", o.p, "a finite number >= 1");
    if (!std::isfinite(o.eps)) bad("eps", o.eps, "finite");
  }
}

template <class T>
void run_pair(PairLoss loss, const PairCall<T>& c, const PairOptions& o) {
  const PairInputs in = inputs_of(loss);
  check_options(loss, o);
  const std::string name = pair_loss_name(loss);
  const std::size_t N = c.samples, D = c.features;
  if (in.one_value && D != 1) fail(name + ": features: one value per sample, got " + std::to_string(D));
  if (N > 0 && D == 0) fail(name + ": the samples have no features");
  if (D != 0 && N > std::size_t(PTRDIFF_MAX) / sizeof(T) / D) fail(name + ": the shape is too large");
  const std::size_t n = N * D;
  const Requested requested = check_outputs(c.reduction, c.value, c.loss,
                                            c.grad_a || c.grad_b || c.grad_c ? &c : nullptr, c.grad_output_array);
  auto needs = [&](const T* p, bool used, std::size_t count, const char* what) {
    if (used) require(p, count, what);
    else if (p) fail(name + ": " + what + ": this loss takes no such input");
  };
  needs(c.a, true, n, "a");
  needs(c.b, in.b, n, "b");
  needs(c.c, in.c, n, "c");
  needs(c.labels, in.labels, N, "labels");
  if (c.grad_b && !in.b) fail(name + ": grad_b: this loss has no input b");
  if (c.grad_c && !in.c) fail(name + ": grad_c: this loss has no input c");
  if (requested.grad && (!c.grad_a || (in.b && !c.grad_b) || (in.c && !c.grad_c)))
    fail(name + ": grad: a gradient call writes the gradient of every input the loss takes (grad_a" +
         (in.b ? std::string(", grad_b") : std::string()) + (in.c ? ", grad_c" : "") + ")");
  check_optional(c.grad_a, n, "grad_a");
  check_optional(c.grad_b, n, "grad_b");
  check_optional(c.grad_c, n, "grad_c");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  if (N == 0) {
    if (c.value) *c.value = c.reduction == Reduction::mean ? std::nan("") : 0.0;
    return;
  }
  PairJob<T> job{};
  job.samples = N, job.features = D;
  job.a = c.a, job.b = in.b ? c.b : nullptr, job.c = in.c ? c.c : nullptr, job.labels = in.labels ? c.labels : nullptr;
  job.loss = int(loss);
  job.margin = o.margin, job.p = o.p, job.eps = o.eps, job.swap = o.swap;
  job.loss_out = c.loss;
  if (requested.grad) {
    job.grad_a = c.grad_a, job.grad_b = c.grad_b, job.grad_c = c.grad_c;
    job.grad_output_array = c.grad_output_array;
    job.scale = (c.grad_output_array ? 1.0 : c.grad_output) / (c.reduction == Reduction::mean ? double(N) : 1.0);
  }
  const std::size_t rows = rows_per_item(D), items = (N + rows - 1) / rows;
  std::vector<double> item_value(items, 0.0);
  job.item_value = item_value.data();
  int threads = get_num_threads();
  if (double(n) * (in.c ? 3.0 : in.b ? 2.0 : 1.0) < double(kParallelMin)) threads = 1;
  job.threads = int(std::min<std::size_t>(std::size_t(threads), items));
  const KernelTable& table = active_table();
  for_type<T>(table.pair_f32, table.pair_f64)(job);
  if (c.value) {
    double total = 0.0;
    for (double v : item_value) total += v;
    *c.value = c.reduction == Reduction::mean ? total / double(N) : total;
  }
}

// Integer labels copied (read once: they address rows of the class matrix) and checked against
// [0, classes).
std::vector<std::int64_t> checked_labels(const char* name, const std::int64_t* labels, std::size_t N, std::size_t C,
                                         const char* classes_of) {
  std::vector<std::int64_t> copy(labels, labels + N);
  for (std::size_t s = 0; s < N; ++s) {
    const std::int64_t y = copy[s];
    if (y < 0 || std::uint64_t(y) >= C) {
      std::ostringstream msg;
      msg << name << ": labels: " << y << " at sample " << s << " is outside [0, " << C << ") (" << classes_of << ")";
      fail(msg.str());
    }
  }
  return copy;
}

// A center-loss call checked: its labels copied (each in [0, classes)), the samples grouped by
// class in sample order.
struct CenterGroups {
  std::vector<std::int64_t> labels;
  std::vector<std::size_t> by_class, class_start;
};

template <class T>
CenterGroups check_center(const char* name, const CenterCall<T>& c) {
  const std::size_t N = c.samples, D = c.features, C = c.classes;
  if (N > 0 && D == 0) fail(std::string(name) + ": features: the samples have no features");
  if (N > 0 && C == 0) fail(std::string(name) + ": centers: no classes");
  if (D != 0 && (N > std::size_t(PTRDIFF_MAX) / sizeof(T) / D || C > std::size_t(PTRDIFF_MAX) / sizeof(T) / D))
    fail(std::string(name) + ": the shape is too large");
  require(c.x, N * D, "features");
  require(c.labels, N, "labels");
  require(c.centers, C * D, "centers");
  CenterGroups g;
  g.labels = checked_labels(name, c.labels, N, C, "the classes of centers");
  g.class_start.assign(C + 1, 0);
  for (std::size_t s = 0; s < N; ++s) ++g.class_start[std::size_t(g.labels[s]) + 1];
  for (std::size_t j = 0; j < C; ++j) g.class_start[j + 1] += g.class_start[j];
  g.by_class.resize(N);
  std::vector<std::size_t> next(g.class_start.begin(), g.class_start.end() - 1);
  for (std::size_t s = 0; s < N; ++s) g.by_class[next[std::size_t(g.labels[s])]++] = s;
  return g;
}

template <class T>
CenterJob<T> center_job(const CenterCall<T>& c, const CenterGroups& g) {
  CenterJob<T> job{};
  job.samples = c.samples, job.features = c.features, job.classes = c.classes;
  job.x = c.x, job.labels = g.labels.data(), job.centers = c.centers;
  job.by_class = g.by_class.data(), job.class_start = g.class_start.data();
  return job;
}

// The classes pass: its items, and a row of doubles per worker.
template <class T>
void run_classes(CenterJob<T> job) {
  const std::size_t per = rows_per_item(job.features), items = (job.classes + per - 1) / per;
  int threads = get_num_threads();
  if (double(job.classes + job.samples) * double(job.features) < double(kParallelMin)) threads = 1;
  const std::size_t workers = std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(threads), items));
  std::unique_ptr<double[]> scratch(new double[workers * job.features + 1]);
  job.rows = false;
  job.scratch = scratch.get();
  job.threads = int(workers);
  const KernelTable& table = active_table();
  for_type<T>(table.center_f32, table.center_f64)(job);
}

template <class T>
void run_center(const CenterCall<T>& c) {
  const Requested requested = check_outputs(c.reduction, c.value, c.loss, c.grad_x || c.grad_centers ? &c : nullptr,
                                            c.grad_output_array);
  const std::size_t N = c.samples, D = c.features;
  const CenterGroups g = check_center("center_loss", c);
  check_optional(c.grad_x, N * D, "grad_x");
  check_optional(c.grad_centers, c.classes * D, "grad_centers");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  if (N == 0) {
    if (c.value) *c.value = c.reduction == Reduction::mean ? std::nan("") : 0.0;
    if (c.grad_centers) std::fill(c.grad_centers, c.grad_centers + c.classes * D, T(0));
    return;
  }
  CenterJob<T> job = center_job(c, g);
  job.loss_out = c.loss;
  if (requested.grad) {
    job.grad_output_array = c.grad_output_array;
    job.scale = (c.grad_output_array ? 1.0 : c.grad_output) / (c.reduction == Reduction::mean ? double(N) : 1.0);
  }
  const KernelTable& table = active_table();
  if (requested.value || c.grad_x) {
    const std::size_t rows = rows_per_item(D), items = (N + rows - 1) / rows;
    std::vector<double> item_value(items, 0.0);
    CenterJob<T> rows_job = job;
    rows_job.rows = true;
    rows_job.grad_x = requested.grad ? c.grad_x : nullptr;
    rows_job.item_value = item_value.data();
    int threads = get_num_threads();
    if (double(N) * double(D) * 2.0 < double(kParallelMin)) threads = 1;
    rows_job.threads = int(std::min<std::size_t>(std::size_t(threads), items));
    for_type<T>(table.center_f32, table.center_f64)(rows_job);
    if (c.value) {
      double total = 0.0;
      for (double v : item_value) total += v;
      *c.value = c.reduction == Reduction::mean ? total / double(N) : total;
    }
  }
  if (requested.grad && c.grad_centers) {
    job.grad_centers = c.grad_centers;
    run_classes(job);
  }
}

template <class T>
void run_center_update(T* centers, const CenterCall<T>& c, double alpha) {
  if (!(alpha >= 0.0) || !std::isfinite(alpha)) {
    std::ostringstream msg;
    msg << "center_loss.update: alpha: must be a finite number >= 0, got " << alpha;
    fail(msg.str());
  }
  if (centers != c.centers) fail("center_loss.update: centers: must be the array the call's centers point at");
  const CenterGroups g = check_center("center_loss.update", c);
  if (c.samples == 0) return;
  CenterJob<T> job = center_job(c, g);
  job.update = centers;
  job.alpha = alpha;
  run_classes(job);
}

// ---------------------------------------------------------------------------------------------
// The pairwise shape (margin losses, info_nce): unit rows, the stats pass, the finish per row in
// double, then the gradient pass and the normalisations' adjoint.
// ---------------------------------------------------------------------------------------------

// A pairwise call's threads: one below about 4M multiply-adds.
int pairwise_threads(double multiply_adds, std::size_t items) {
  int threads = get_num_threads();
  if (multiply_adds < double(1 << 22)) threads = 1;
  return int(std::max<std::size_t>(1, std::min<std::size_t>(std::size_t(threads), items)));
}

template <class T>
void unit_rows(const T* x, std::size_t rows, std::size_t D, T* unit, double* inv_norm) {
  UnitRowsJob<T> job{};
  job.rows = rows, job.features = D, job.x = x, job.unit = unit, job.inv_norm = inv_norm;
  job.threads = pairwise_threads(double(rows) * double(D) * 4.0, rows);
  const KernelTable& table = active_table();
  for_type<T>(table.unit_rows_f32, table.unit_rows_f64)(job);
}

// grad = the adjoint of x -> x / max(|x|, eps) applied to the sum of `parts` gradients w.r.t.
// the unit rows (part k at grad_unit + k part_stride).
template <class T>
void unit_rows_backward(const T* x, std::size_t rows, std::size_t D, const double* inv_norm, const T* grad_unit,
                        std::size_t parts, std::size_t part_stride, T* grad) {
  UnitRowsJob<T> job{};
  job.rows = rows, job.features = D, job.x = x, job.inv_norm = const_cast<double*>(inv_norm);
  job.backward = true, job.grad_unit = grad_unit, job.parts = parts, job.part_stride = part_stride, job.grad = grad;
  job.threads = pairwise_threads(double(rows) * double(D) * double(parts + 3), rows);
  const KernelTable& table = active_table();
  for_type<T>(table.unit_rows_f32, table.unit_rows_f64)(job);
}

// The log-sum-exp of running statistics (max, sum) merged in order.
struct SoftmaxStats {
  double m = -HUGE_VAL, s = 0.0;
  void merge(double tm, double ts) {
    if (tm == -HUGE_VAL) return;
    if (tm > m) {
      s = s * std::exp(m - tm) + ts;
      m = tm;
    } else {
      s += ts * std::exp(tm - m);
    }
  }
  double lse() const { return m + std::log(s); }
};

// d reduced / d loss_s: the upstream scale, times grad_output_array[s] when given.
template <class Call>
std::vector<double> upstream(const Call& c, std::size_t N) {
  const double scale = (c.grad_output_array ? 1.0 : c.grad_output) / (c.reduction == Reduction::mean ? double(N) : 1.0);
  std::vector<double> r(N, scale);
  if (c.grad_output_array)
    for (std::size_t s = 0; s < N; ++s) r[s] = scale * double(c.grad_output_array[s]);
  return r;
}

// The per-sample losses into the call's outputs: loss[s] (none) or the reduced value.
template <class T, class Call>
void write_losses(const Call& c, const std::vector<double>& losses) {
  double total = 0.0;
  for (std::size_t s = 0; s < losses.size(); ++s) {
    total += losses[s];
    if (c.loss) c.loss[s] = T(losses[s]);
  }
  if (c.value) *c.value = c.reduction == Reduction::mean ? total / double(losses.size()) : total;
}

void check_positive(const std::string& name, const char* option, double v) {
  if (!(v > 0.0) || !std::isfinite(v)) {
    std::ostringstream msg;
    msg << name << ": " << option << ": must be a finite number > 0, got " << v;
    fail(msg.str());
  }
}

// Class groups of the margin losses: at most 16, and no more than 64 MiB of partial gradients
// w.r.t. the unit embeddings (one samples x features partial per group); from the shape only.
struct ClassGroups {
  std::size_t tiles, groups, group_tiles;
};

ClassGroups class_groups(std::size_t N, std::size_t D, std::size_t C, std::size_t element) {
  const std::size_t tiles = (C + kPairTile - 1) / kPairTile;
  const double partial = double(N) * double(D) * double(element);
  const std::size_t fit = partial > 0.0 ? std::size_t(double(std::size_t(64) << 20) / partial) : tiles;
  const std::size_t wanted = std::max<std::size_t>(1, std::min<std::size_t>({tiles, 16, fit}));
  const std::size_t group_tiles = (tiles + wanted - 1) / wanted;
  return {tiles, (tiles + group_tiles - 1) / group_tiles, group_tiles};
}

template <class T>
void run_margin(MarginLoss loss, const MarginCall<T>& c, const MarginOptions& o) {
  const char* loss_name = margin_loss_name(loss);
  if (loss_name == nullptr) fail("loss: not a margin loss (" + std::to_string(int(loss)) + ")");
  const std::string name = loss_name;
  check_positive(name, "s", o.s);
  if (!(o.m >= 0.0) || !std::isfinite(o.m) || (loss == MarginLoss::arcface && !(o.m < 3.14159265358979323846))) {
    std::ostringstream msg;
    msg << name << ": m: must be a finite number >= 0" << (loss == MarginLoss::arcface ? " and < pi" : "") << ", got "
        << o.m;
    fail(msg.str());
  }
  const std::size_t N = c.samples, D = c.features, C = c.classes;
  if (N > 0 && D == 0) fail(name + ": x: the samples have no features");
  if (N > 0 && C == 0) fail(name + ": weights: no classes");
  if (D != 0 && (N > std::size_t(PTRDIFF_MAX) / sizeof(T) / D || C > std::size_t(PTRDIFF_MAX) / sizeof(T) / D))
    fail(name + ": the shape is too large");
  const Requested requested = check_outputs(c.reduction, c.value, c.loss, c.grad_x || c.grad_weights ? &c : nullptr,
                                            c.grad_output_array);
  require(c.x, N * D, "x");
  require(c.labels, N, "labels");
  require(c.weights, C * D, "weights");
  check_optional(c.grad_x, N * D, "grad_x");
  check_optional(c.grad_weights, C * D, "grad_weights");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  const std::vector<std::int64_t> labels = checked_labels(name.c_str(), c.labels, N, C, "the classes of weights");
  if (N == 0) {
    if (c.value) *c.value = c.reduction == Reduction::mean ? std::nan("") : 0.0;
    if (c.grad_weights) std::fill(c.grad_weights, c.grad_weights + C * D, T(0));
    return;
  }
  std::vector<T> unit(N * D);
  std::vector<double> inv_norm(N);
  unit_rows(c.x, N, D, unit.data(), inv_norm.data());

  const ClassGroups cg = class_groups(N, D, C, sizeof(T));
  const int threads = pairwise_threads(double(N) * double(C) * double(D), cg.groups);
  std::vector<T> scratch(std::size_t(threads) * margin_scratch());
  std::vector<double> stats(cg.groups * N * 2), target_cos(N), lse(N);
  MarginJob<T> job{};
  job.samples = N, job.features = D, job.classes = C;
  job.x_unit = unit.data(), job.weights = c.weights, job.labels = labels.data();
  job.loss = int(loss), job.s = o.s, job.m = o.m, job.easy_margin = o.easy_margin;
  job.groups = cg.groups, job.group_tiles = cg.group_tiles;
  job.stats = stats.data(), job.target_cos = target_cos.data();
  job.scratch = scratch.data(), job.threads = threads;
  const KernelTable& table = active_table();
  const auto kernel = for_type<T>(table.margin_f32, table.margin_f64);
  kernel(job);

  const MarginMap f = MarginMap::of(loss == MarginLoss::arcface, o.easy_margin, o.m,
                                    double(std::numeric_limits<T>::epsilon()));
  std::vector<double> losses(N);
  for (std::size_t i = 0; i < N; ++i) {
    SoftmaxStats st;
    for (std::size_t g = 0; g < cg.groups; ++g) st.merge(stats[(g * N + i) * 2], stats[(g * N + i) * 2 + 1]);
    lse[i] = st.lse();
    losses[i] = lse[i] - o.s * f.phi(target_cos[i]);
  }
  if (requested.value) write_losses<T>(c, losses);
  if (!requested.grad) return;

  const std::vector<double> r = upstream(c, N);
  std::vector<T> partials(c.grad_x ? cg.groups * N * D : 0);
  job.grad_pass = true;
  job.lse = lse.data(), job.row_coef = r.data();
  job.grad_weights = c.grad_weights;
  job.grad_unit = c.grad_x ? partials.data() : nullptr;
  kernel(job);
  if (c.grad_x) unit_rows_backward(c.x, N, D, inv_norm.data(), partials.data(), cg.groups, N * D, c.grad_x);
}

template <class T>
void run_info_nce(const PairCall<T>& c, const InfoNceOptions& o) {
  const std::string name = "info_nce";
  check_positive(name, "temperature", o.temperature);
  const std::size_t N = c.samples, D = c.features;
  if (N > 0 && D == 0) fail(name + ": the samples have no features");
  if (D != 0 && N > std::size_t(PTRDIFF_MAX) / sizeof(T) / D / 2) fail(name + ": the shape is too large");
  const Requested requested = check_outputs(c.reduction, c.value, c.loss, c.grad_a || c.grad_b ? &c : nullptr,
                                            c.grad_output_array);
  require(c.a, N * D, "a");
  require(c.b, N * D, "b");
  if (c.c || c.labels) fail(name + ": " + (c.c ? "c" : "labels") + ": this loss takes no such input");
  if (c.grad_c) fail(name + ": grad_c: this loss has no input c");
  if (requested.grad && (!c.grad_a || !c.grad_b))
    fail(name + ": grad: a gradient call writes the gradient of both views (grad_a, grad_b)");
  check_optional(c.grad_a, N * D, "grad_a");
  check_optional(c.grad_b, N * D, "grad_b");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  if (N == 0) {
    if (c.value) *c.value = c.reduction == Reduction::mean ? std::nan("") : 0.0;
    return;
  }
  const bool simclr = o.simclr, columns = !simclr && o.symmetric;
  const std::size_t R = simclr ? 2 * N : N;
  // Unit rows: simclr stacks the two views (a then b) in one matrix.
  std::vector<T> unit_a(R * D), unit_b(simclr ? 0 : N * D);
  std::vector<double> inv_a(R), inv_b(simclr ? 0 : N);
  unit_rows(c.a, N, D, unit_a.data(), inv_a.data());
  if (simclr) unit_rows(c.b, N, D, unit_a.data() + N * D, inv_a.data() + N);
  else unit_rows(c.b, N, D, unit_b.data(), inv_b.data());

  const std::size_t blocks = (R + kPairTile - 1) / kPairTile;
  const int threads = pairwise_threads(double(R) * double(R) * double(D), blocks);
  std::vector<T> scratch(std::size_t(threads) * info_nce_scratch());
  std::vector<double> row_stats(2 * R), col_stats(columns ? 2 * N : 0), positive(R), row_lse(R), col_lse(N);
  for (std::size_t i = 0; i < R; ++i) row_stats[2 * i] = -HUGE_VAL;
  for (std::size_t j = 0; j < col_stats.size() / 2; ++j) col_stats[2 * j] = -HUGE_VAL;
  InfoNceJob<T> job{};
  job.rows = R, job.features = D;
  job.a = unit_a.data(), job.b = simclr ? nullptr : unit_b.data();
  job.inv_temperature = 1.0 / o.temperature;
  job.simclr = simclr, job.columns = columns;
  job.row_stats = row_stats.data(), job.col_stats = columns ? col_stats.data() : nullptr;
  job.positive = positive.data();
  job.scratch = scratch.data(), job.threads = threads;
  const KernelTable& table = active_table();
  const auto kernel = for_type<T>(table.info_nce_f32, table.info_nce_f64);
  kernel(job);

  auto lse_of = [](const double* st) {
    SoftmaxStats s;
    s.merge(st[0], st[1]);
    return s.lse();
  };
  for (std::size_t i = 0; i < R; ++i) row_lse[i] = lse_of(&row_stats[2 * i]);
  if (columns)
    for (std::size_t j = 0; j < N; ++j) col_lse[j] = lse_of(&col_stats[2 * j]);
  std::vector<double> losses(N);
  for (std::size_t i = 0; i < N; ++i) {
    if (simclr) losses[i] = 0.5 * ((row_lse[i] - positive[i]) + (row_lse[i + N] - positive[i + N]));
    else if (columns) losses[i] = 0.5 * ((row_lse[i] - positive[i]) + (col_lse[i] - positive[i]));
    else losses[i] = row_lse[i] - positive[i];
  }
  if (requested.value) write_losses<T>(c, losses);
  if (!requested.grad) return;

  const std::vector<double> r = upstream(c, N);
  const double half = simclr || columns ? 0.5 : 1.0;
  std::vector<double> row_coef(R), col_coef(columns ? N : 0);
  for (std::size_t i = 0; i < R; ++i) row_coef[i] = half * r[i % N];
  for (std::size_t j = 0; j < col_coef.size(); ++j) col_coef[j] = half * r[j];
  // The gradients w.r.t. the unit rows: into the outputs for clip (then the adjoint in place),
  // into one stacked scratch for simclr.
  std::vector<T> grad_stacked(simclr ? R * D : 0);
  job.grad_pass = true;
  job.row_lse = row_lse.data(), job.col_lse = columns ? col_lse.data() : nullptr;
  job.row_coef = row_coef.data(), job.col_coef = columns ? col_coef.data() : nullptr;
  job.grad_a = simclr ? grad_stacked.data() : c.grad_a;
  job.grad_b = simclr ? nullptr : c.grad_b;
  kernel(job);
  const T* grad_unit_a = simclr ? grad_stacked.data() : c.grad_a;
  const T* grad_unit_b = simclr ? grad_stacked.data() + N * D : c.grad_b;
  unit_rows_backward(c.a, N, D, inv_a.data(), grad_unit_a, 1, 0, c.grad_a);
  unit_rows_backward(c.b, N, D, simclr ? inv_a.data() + N : inv_b.data(), grad_unit_b, 1, 0, c.grad_b);
}


template <class T>
void run_batch_triplet(const BatchTripletCall<T>& c, const BatchTripletOptions& o) {
  const std::string name = "batch_triplet";
  if (!(o.margin >= 0.0) || !std::isfinite(o.margin)) {
    std::ostringstream msg;
    msg << name << ": margin: must be a finite number >= 0, got " << o.margin;
    fail(msg.str());
  }
  if (int(o.mining) < 0 || o.mining >= lossfn::TripletMining::count_) fail(name + ": mining: not a mining type");
  if (int(o.distance) < 0 || o.distance >= lossfn::TripletDistance::count_) fail(name + ": distance: not a distance");
  const std::size_t N = c.samples, D = c.features;
  if (N > 0 && D == 0) fail(name + ": x: the samples have no features");
  if (D != 0 && N > std::size_t(PTRDIFF_MAX) / sizeof(T) / D) fail(name + ": the shape is too large");
  if (N > (std::size_t(1) << 26)) fail(name + ": samples: at most 2^26 (the batch's distances are stored)");
  const Requested requested = check_outputs(c.reduction, c.value, c.loss, c.grad_x ? &c : nullptr, c.grad_output_array);
  require(c.x, N * D, "x");
  require(c.labels, N, "labels");
  check_optional(c.grad_x, N * D, "grad_x");
  check_optional(c.loss, N, "loss");
  check_optional(c.grad_output_array, N, "grad_output");
  if (N == 0) {
    if (c.value) *c.value = 0.0;  // no triplet: 0, as pytorch-metric-learning
    return;
  }
  const std::vector<std::int64_t> labels(c.labels, c.labels + N);  // read once
  const bool cosine = o.distance == lossfn::TripletDistance::cosine;
  // The rows the distances are formed from: unit rows (cosine), else centred on the batch mean
  // (the mean in double, in sample order).
  std::vector<T> rows(N * D);
  std::vector<double> inv_norm(cosine ? N : 0);
  if (cosine) {
    unit_rows(c.x, N, D, rows.data(), inv_norm.data());
  } else {
    std::vector<double> mean(D, 0.0);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t d = 0; d < D; ++d) mean[d] += double(c.x[i * D + d]);
    for (double& v : mean) v /= double(N);
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t d = 0; d < D; ++d) rows[i * D + d] = T(double(c.x[i * D + d]) - mean[d]);
  }
  const int threads = pairwise_threads(double(N) * double(N) * double(D + 16), N);
  std::vector<double> dist(N * N), coef(N * N), stats(3 * N), scratch(std::size_t(threads) * 4 * N);
  std::vector<T> matrix(N * N);
  TripletJob<T> job{};
  job.samples = N, job.features = D, job.x = rows.data(), job.labels = labels.data();
  job.distance = int(o.distance), job.mining = int(o.mining), job.margin = o.margin;
  job.dist = dist.data(), job.coef = coef.data(), job.stats = stats.data(), job.matrix = matrix.data();
  job.scratch = scratch.data(), job.threads = threads;
  const KernelTable& table = active_table();
  const auto kernel = for_type<T>(table.triplet_f32, table.triplet_f64);
  job.pass = kTripletDistances;
  kernel(job);
  job.pass = kTripletMine;
  kernel(job);

  double total = 0.0, kept = 0.0, positive = 0.0;
  for (std::size_t a = 0; a < N; ++a) total += stats[3 * a], kept += stats[3 * a + 1], positive += stats[3 * a + 2];
  const double count = o.nonzero ? positive : kept;
  if (c.value) *c.value = c.reduction == Reduction::sum ? total : (count > 0.0 ? total / count : 0.0);
  if (c.loss)
    for (std::size_t a = 0; a < N; ++a) c.loss[a] = T(stats[3 * a]);
  if (!requested.grad) return;

  std::vector<double> weight(N);
  for (std::size_t a = 0; a < N; ++a) {
    if (c.grad_output_array) weight[a] = double(c.grad_output_array[a]);
    else if (c.reduction == Reduction::mean) weight[a] = count > 0.0 ? c.grad_output / count : 0.0;
    else weight[a] = c.grad_output;
  }
  std::vector<T> grad_unit(cosine ? N * D : 0);
  job.pass = kTripletGrad;
  job.anchor_weight = weight.data();
  job.grad = cosine ? grad_unit.data() : c.grad_x;
  kernel(job);
  if (cosine) unit_rows_backward(c.x, N, D, inv_norm.data(), grad_unit.data(), 1, 0, c.grad_x);
}

}  // namespace

void center_loss(const CenterCall<float>& call) { run_center(call); }
void center_loss(const CenterCall<double>& call) { run_center(call); }
void center_update(float* centers, const CenterCall<float>& call, double alpha) {
  run_center_update(centers, call, alpha);
}
void center_update(double* centers, const CenterCall<double>& call, double alpha) {
  run_center_update(centers, call, alpha);
}

const char* pair_loss_name(PairLoss loss) noexcept {
  switch (loss) {
    case PairLoss::contrastive: return "contrastive";
    case PairLoss::triplet: return "triplet";
    case PairLoss::cosine_embedding: return "cosine_embedding";
    case PairLoss::margin_ranking: return "margin_ranking";
    case PairLoss::hinge_embedding: return "hinge_embedding";
    default: return nullptr;
  }
}

const char* margin_loss_name(MarginLoss loss) noexcept {
  switch (loss) {
    case MarginLoss::cosface: return "cosface";
    case MarginLoss::arcface: return "arcface";
    default: return nullptr;
  }
}

void margin_loss(MarginLoss loss, const MarginCall<float>& call, const MarginOptions& options) {
  run_margin(loss, call, options);
}
void margin_loss(MarginLoss loss, const MarginCall<double>& call, const MarginOptions& options) {
  run_margin(loss, call, options);
}
void info_nce(const PairCall<float>& call, const InfoNceOptions& options) { run_info_nce(call, options); }
void info_nce(const PairCall<double>& call, const InfoNceOptions& options) { run_info_nce(call, options); }

void batch_triplet(const BatchTripletCall<float>& call, const BatchTripletOptions& options) {
  run_batch_triplet(call, options);
}
void batch_triplet(const BatchTripletCall<double>& call, const BatchTripletOptions& options) {
  run_batch_triplet(call, options);
}

void pair_loss(PairLoss loss, const PairCall<float>& call, const PairOptions& options) { run_pair(loss, call, options); }
void pair_loss(PairLoss loss, const PairCall<double>& call, const PairOptions& options) { run_pair(loss, call, options); }

}  // namespace lossfn
