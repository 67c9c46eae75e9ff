// lossfn::pair_loss: checks a call (the inputs the loss takes, the options, the outputs), works out
// the upstream scale, runs the pair kernel over items of rows and reduces the items' sums in
// order. lossfn::center_loss and lossfn::center_update: check a call, copy and check the labels
// (they address the centers), group the samples by class (a stable counting sort), then the rows
// pass and the classes pass. Baseline code.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "dispatch/dispatch.hpp"
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
  const std::size_t rows = pair_rows_per_item(D), items = (N + rows - 1) / rows;
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
  g.labels.assign(c.labels, c.labels + N);  // read once: they address the centers
  g.class_start.assign(C + 1, 0);
  for (std::size_t s = 0; s < N; ++s) {
    const std::int64_t y = g.labels[s];
    if (y < 0 || std::uint64_t(y) >= C) {
      std::ostringstream msg;
      msg << name << ": labels: " << y << " at sample " << s << " is outside [0, " << C << ") (the classes of centers)";
      fail(msg.str());
    }
    ++g.class_start[std::size_t(y) + 1];
  }
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
  const std::size_t per = center_classes_per_item(job.features), items = (job.classes + per - 1) / per;
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
    const std::size_t rows = pair_rows_per_item(D), items = (N + rows - 1) / rows;
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

void pair_loss(PairLoss loss, const PairCall<float>& call, const PairOptions& options) { run_pair(loss, call, options); }
void pair_loss(PairLoss loss, const PairCall<double>& call, const PairOptions& options) { run_pair(loss, call, options); }

}  // namespace lossfn
