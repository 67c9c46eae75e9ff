// lossfn::pair_loss: checks a call (the inputs the loss takes, the options, the outputs), works out
// the upstream scale, runs the pair kernel over items of rows and reduces the items' sums in
// order. Baseline code.
#include <cmath>
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

}  // namespace

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
