// C++ API: known values, the typed front-end against the generic entry point, and errors
// coming back as lossfn::Error with a message naming the argument.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <lossfn/lossfn.hpp>

static int failures = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

static bool close(double a, double b, double tol = 1e-12) { return std::fabs(a - b) <= tol * (1 + std::fabs(b)); }

template <class F>
static void expect_error(F&& f, const char* needle) {
  try {
    f();
    std::fprintf(stderr, "expected an error mentioning '%s'\n", needle);
    ++failures;
  } catch (const lossfn::Error& e) {
    if (std::strstr(e.what(), needle) == nullptr) {
      std::fprintf(stderr, "error '%s' does not mention '%s'\n", e.what(), needle);
      ++failures;
    }
  }
}

static void row_losses();
static void ctc();
static void overlap();
static void lovasz();
static void images();
static void perceptual();
static void pairs();
static void pairwise();

int main() {
  CHECK(std::string(lossfn::version()) == LOSSFN_VERSION_STRING);
  {
    const int before = lossfn::get_num_threads();
    bool threw = false;
    try {
      lossfn::set_num_threads(lossfn::kMaxThreads + 1);
    } catch (const lossfn::Error& e) {
      threw = e.kind() == lossfn::ErrorKind::value;
    }
    CHECK(threw && lossfn::get_num_threads() == before);
    lossfn::set_thread_limit(1);
    CHECK(lossfn::get_num_threads() == 1);
    lossfn::set_thread_limit(0);
    CHECK(lossfn::get_num_threads() == before);
  }
  CHECK(lossfn::num_losses() == int(lossfn::Loss::count_));
  CHECK(std::string(lossfn::loss_info(lossfn::Loss::huber).param_names[0]) == "delta");
  CHECK(lossfn::loss_from_name("soft_margin") == lossfn::Loss::soft_margin);

  const std::vector<double> pred = {1.0, 2.0, 3.0}, target = {1.0, 1.0, 1.0};
  const lossfn::Inputs<double> in(pred.data(), target.data(), 3);

  // mse = (0 + 1 + 4)/3, gradient 2d/n
  std::vector<double> grad(3);
  CHECK(close(lossfn::value_and_grad(grad.data(), in, lossfn::Mse{}), 5.0 / 3));
  CHECK(close(grad[1], 2.0 / 3) && close(grad[2], 4.0 / 3) && grad[0] == 0.0);
  CHECK(close(lossfn::value(in, lossfn::Mse{}, lossfn::Reduction::sum), 5.0));

  // huber(delta = 1): [0, 0.5, 1.5]; delta = 2: [0, 0.5, 2]
  lossfn::Huber huber;
  CHECK(close(lossfn::value(in, huber), 2.0 / 3));
  huber.delta = 2.0;
  CHECK(close(lossfn::value(in, huber, lossfn::Reduction::sum), 2.5));
  std::vector<double> h(3);
  lossfn::hess(h.data(), in, huber, lossfn::Reduction::sum);
  CHECK(h[0] == 1.0 && h[1] == 1.0 && h[2] == 1.0);

  // float: bce_with_logits at x = 0 is log 2 whatever the label
  const std::vector<float> x = {0.0f, 0.0f}, y = {0.0f, 1.0f};
  CHECK(close(lossfn::value(lossfn::Inputs<float>(x.data(), y.data(), 2), lossfn::BceWithLogits{}),
              std::log(2.0), 1e-6));

  // per-element losses and upstream gradient array
  std::vector<double> per(3), go = {1.0, 10.0, 100.0};
  lossfn::value_none(per.data(), in, lossfn::Mae{});
  CHECK(per[0] == 0.0 && per[1] == 1.0 && per[2] == 2.0);
  lossfn::grad(grad.data(), in, lossfn::Mae{}, lossfn::Reduction::none, 1.0, go.data());
  CHECK(grad[0] == 0.0 && grad[1] == 10.0 && grad[2] == 100.0);

  // gaussian_nll: two gradients
  const std::vector<double> var = {1.0, 2.0, 4.0};
  std::vector<double> gvar(3);
  lossfn::value_and_grad({grad.data(), gvar.data()}, lossfn::Inputs<double>(pred.data(), target.data(), 3, var.data()),
                         lossfn::GaussianNll{}, lossfn::Reduction::sum);
  CHECK(close(grad[1], 0.5) && close(gvar[1], 0.5 * (0.5 - 0.25)));

  // the generic entry point gives the same numbers
  lossfn::ElementwiseCall<double> call;
  call.n = 3;
  call.pred = pred.data();
  call.target = target.data();
  double v = 0;
  call.value = &v;
  lossfn::run(lossfn::Loss::mse, call);
  CHECK(close(v, 5.0 / 3));

  // strided inputs: a transposed pred and a per-column weight (stride 0 down the rows) read in
  // place give the bits of their contiguous copies
  {
    const std::size_t rows = 300, cols = 130, n = rows * cols;  // several blocks, threaded
    std::vector<double> p(n), pt(n), y(n), w_col(cols), w_full(n), g1(n), g2(n);
    for (std::size_t i = 0; i < n; ++i) {
      p[i] = std::sin(0.37 * double(i));
      y[i] = std::cos(0.11 * double(i));
    }
    for (std::size_t c = 0; c < cols; ++c) w_col[c] = 0.5 + double(c) / cols;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        pt[c * rows + r] = p[r * cols + c];  // stored column-major
        w_full[r * cols + c] = w_col[c];
      }
    const std::size_t shape[2] = {rows, cols};
    const std::ptrdiff_t column_major[2] = {1, std::ptrdiff_t(rows)}, per_column[2] = {0, 1};
    double v1 = 0, v2 = 0;
    lossfn::ElementwiseCall<double> a;
    a.n = n;
    a.pred = p.data();
    a.target = y.data();
    a.weight = w_full.data();
    a.value = &v1;
    a.grad = g1.data();
    lossfn::run(lossfn::Loss::huber, a);
    lossfn::ElementwiseCall<double> b = a;
    b.pred = pt.data();
    b.weight = w_col.data();
    b.ndim = 2;
    b.shape = shape;
    b.pred_strides = column_major;
    b.weight_strides = per_column;
    b.value = &v2;
    b.grad = g2.data();
    lossfn::run(lossfn::Loss::huber, b);
    CHECK(v1 == v2 && g1 == g2);
    const std::size_t wrong[2] = {rows, cols + 1};
    b.shape = wrong;
    expect_error([&] { lossfn::run(lossfn::Loss::huber, b); }, "shape");
    b.shape = nullptr;
    expect_error([&] { lossfn::run(lossfn::Loss::huber, b); }, "shape");
  }

  // errors
  lossfn::Huber bad;
  bad.delta = -1.0;
  expect_error([&] { lossfn::value(in, bad); }, "delta");
  expect_error([&] { lossfn::value(lossfn::Inputs<double>(nullptr, target.data(), 3), lossfn::Mse{}); }, "pred");
  expect_error([&] { lossfn::value(lossfn::Inputs<double>(pred.data(), target.data(), 3), lossfn::GaussianNll{}); }, "var");
  expect_error([&] { lossfn::value(lossfn::Inputs<double>(pred.data(), pred.data(), 3), lossfn::Hinge{}); }, "target");
  expect_error([&] { lossfn::set_num_threads(0); }, "threads");
  expect_error([&] { lossfn::loss_from_name("nope"); }, "nope");
  lossfn::ElementwiseCall<double> nothing;
  nothing.n = 3;
  nothing.pred = pred.data();
  nothing.target = target.data();
  expect_error([&] { lossfn::run(lossfn::Loss::mse, nothing); }, "no output");

  row_losses();
  ctc();
  overlap();
  lovasz();
  images();
  perceptual();
  pairs();
  pairwise();

  if (failures) std::fprintf(stderr, "%d failure(s)\n", failures);
  else std::printf("C++ API: all checks passed (isa %s)\n", lossfn::isa_name(lossfn::active_isa()));
  return failures ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Row losses and softmax utilities (row_losses.hpp)
// ---------------------------------------------------------------------------------------------

// Compile-time: each function takes only its own kind of struct and inputs.
namespace overloads {
template <class In, class L, class = void>
struct has_value : std::false_type {};
template <class In, class L>
struct has_value<In, L, decltype(void(lossfn::value(std::declval<const In&>(), L{})))> : std::true_type {};
template <class In, class F, class = void>
struct has_apply : std::false_type {};
template <class In, class F>
struct has_apply<In, F, decltype(void(lossfn::apply(static_cast<double*>(nullptr), std::declval<const In&>(), F{})))>
    : std::true_type {};
template <class In, class L, class = void>
struct has_grad : std::false_type {};
template <class In, class L>
struct has_grad<In, L, decltype(void(lossfn::grad(static_cast<double*>(nullptr), std::declval<const In&>(), L{})))>
    : std::true_type {};

using lossfn::Inputs;
using lossfn::RowInputs;
static_assert(has_value<RowInputs<double>, lossfn::SoftmaxCrossEntropy>::value, "row loss on RowInputs");
static_assert(has_value<RowInputs<float>, lossfn::MultiMargin>::value, "row loss on RowInputs");
static_assert(has_value<Inputs<double>, lossfn::Huber>::value, "elementwise loss on Inputs");
static_assert(!has_value<RowInputs<double>, lossfn::Huber>::value, "elementwise loss on RowInputs");
static_assert(!has_value<Inputs<double>, lossfn::SoftmaxCrossEntropy>::value, "row loss on Inputs");
static_assert(!has_value<RowInputs<double>, lossfn::Softmax>::value, "utility through value()");
static_assert(!has_value<RowInputs<double>, int>::value, "not a loss struct");
static_assert(has_grad<RowInputs<double>, lossfn::Nll>::value, "row gradient");
static_assert(has_grad<Inputs<double>, lossfn::Mse>::value, "elementwise gradient");
static_assert(!has_grad<RowInputs<double>, lossfn::Mse>::value, "elementwise gradient on RowInputs");
static_assert(!has_grad<RowInputs<double>, lossfn::LogSoftmax>::value, "utility through grad()");
static_assert(has_apply<RowInputs<double>, lossfn::Softmax>::value, "utility through apply()");
static_assert(!has_apply<RowInputs<double>, lossfn::SoftmaxCrossEntropy>::value, "row loss through apply()");
static_assert(!has_apply<RowInputs<float>, lossfn::Softmax>::value, "float inputs, double output");
}  // namespace overloads

static bool all_close(const std::vector<double>& a, const std::vector<double>& b, double tol = 1e-12) {
  bool ok = a.size() == b.size();
  for (std::size_t i = 0; ok && i < a.size(); ++i) ok = close(a[i], b[i], tol);
  return ok;
}

// Softmax of each row of a (rows, classes) array, computed here.
static std::vector<double> softmax_rows(const std::vector<double>& x, std::size_t classes) {
  std::vector<double> p(x.size());
  for (std::size_t r = 0; r < x.size() / classes; ++r) {
    double m = x[r * classes], s = 0;
    for (std::size_t c = 0; c < classes; ++c) m = std::fmax(m, x[r * classes + c]);
    for (std::size_t c = 0; c < classes; ++c) s += std::exp(x[r * classes + c] - m);
    for (std::size_t c = 0; c < classes; ++c) p[r * classes + c] = std::exp(x[r * classes + c] - m) / s;
  }
  return p;
}

static void row_losses() {
  using lossfn::Reduction;
  using lossfn::RowInputs;
  CHECK(lossfn::num_row_losses() == int(lossfn::RowLoss::count_) && lossfn::num_row_losses() == 11);
  CHECK(lossfn::row_loss_from_name("multi_margin") == lossfn::MultiMargin::id);
  CHECK(std::string(lossfn::row_loss_info(lossfn::CategoricalCrossentropy::id).param_names[1]) == "label_smoothing");
  // The structs' defaults are the catalogue's.
  double p[lossfn::kMaxParams];
  lossfn::MultiMargin{}.to_params(p);
  CHECK(p[0] == lossfn::row_loss_info(lossfn::RowLoss::multi_margin).param_defaults[0] &&
        p[1] == lossfn::row_loss_info(lossfn::RowLoss::multi_margin).param_defaults[1]);
  lossfn::CategoricalCrossentropy{}.to_params(p);
  CHECK(p[0] == 1e-7 && p[1] == 0.0);
  CHECK(lossfn::SoftmaxFocal{}.gamma == 2.0 && lossfn::SparseCategoricalCrossentropy{}.eps == 1e-7);

  // logits [[1, 2, 3], [1, 0, -1]], labels [2, 0]: each row's loss is lse(x) - x_y = L0.
  const std::vector<double> x = {1, 2, 3, 1, 0, -1};
  const std::vector<std::int64_t> y = {2, 0};
  const double L0 = std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  const RowInputs<double> in(x.data(), 2, 3, y.data());
  CHECK(in.rows() == 2 && in.size() == 6);
  const std::vector<double> prob = softmax_rows(x, 3);
  const lossfn::SoftmaxCrossEntropy sce;
  CHECK(close(lossfn::value(in, sce), L0));
  CHECK(close(lossfn::value(in, sce, Reduction::sum), 2 * L0));
  std::vector<double> g(6), per(2);
  lossfn::value_none(per.data(), in, sce);
  CHECK(close(per[0], L0) && close(per[1], L0));
  // gradient of the mean: (softmax - onehot) / rows
  std::vector<double> want(6);
  for (int i = 0; i < 6; ++i) want[i] = (prob[i] - (i == 2 || i == 3 ? 1.0 : 0.0)) / 2;
  CHECK(close(lossfn::value_and_grad(g.data(), in, sce), L0) && all_close(g, want));
  lossfn::grad(g.data(), in, sce, Reduction::sum, 0.5);
  CHECK(all_close(g, want));  // sum times 0.5 is the mean's gradient here
  const std::vector<double> go = {10, -1};
  lossfn::grad(g.data(), in, sce, Reduction::none, 1.0, go.data());
  for (int i = 0; i < 6; ++i) want[i] = 2 * want[i] * go[std::size_t(i / 3)];
  CHECK(all_close(g, want));
  // the generic entry point gives the same number
  lossfn::RowCall<double> call;
  call.outer = 2;
  call.classes = 3;
  call.logits = x.data();
  call.labels = y.data();
  double v = 0;
  call.value = &v;
  lossfn::run(lossfn::RowLoss::softmax_cross_entropy, call);
  CHECK(close(v, L0));

  // label smoothing 0.1 adds 0.1 * (mean of lse - x_c) - 0.1 * L0 = 0.1 here
  CHECK(close(lossfn::value(in, lossfn::SoftmaxCrossEntropy{0.1}), L0 + 0.1));
  // a one-hot dense target is the same as the labels
  const std::vector<double> onehot = {0, 0, 1, 1, 0, 0};
  CHECK(close(lossfn::value(RowInputs<double>(x.data(), 2, 3, onehot.data()), sce), L0));

  // labels [2, 1]: losses L0 and L0 + 1
  const std::vector<std::int64_t> y21 = {2, 1};
  const std::vector<double> cw = {1, 2, 3}, sw = {1, 3};
  RowInputs<double> weighted(x.data(), 2, 3, y21.data());
  weighted.with_class_weight(cw.data());  // weighted mean: (3 L0 + 2 (L0 + 1)) / (3 + 2)
  CHECK(close(lossfn::value(weighted, sce), L0 + 0.4));
  CHECK(close(lossfn::value(weighted, sce, Reduction::sum), 5 * L0 + 2));
  weighted.with_class_weight(nullptr).with_weight(sw.data());  // (L0 + 3 (L0 + 1)) / 4
  CHECK(close(lossfn::value(weighted, sce), L0 + 0.75));

  // ignore_index: the second row counts for nothing, in the value and the gradient
  const std::vector<std::int64_t> y_ign = {2, -100};
  RowInputs<double> ign(x.data(), 2, 3, y_ign.data());
  ign.with_ignore_index();
  CHECK(close(lossfn::value_and_grad(g.data(), ign, sce), L0));
  CHECK(close(g[0], prob[0]) && close(g[2], prob[2] - 1) && g[3] == 0 && g[4] == 0 && g[5] == 0);
  const std::vector<std::int64_t> y_none = {7, 7};
  CHECK(std::isnan(lossfn::value(RowInputs<double>(x.data(), 2, 3, y_none.data()).with_ignore_index(7), lossfn::Nll{})));

  // axis = 1: (2, 3, 2) logits, outer = 2, inner = 2, read in place; the same as the
  // transposed (4, 3) rows.
  std::vector<double> x3(12), xt(12);
  for (int i = 0; i < 12; ++i) x3[std::size_t(i)] = 0.5 * i - 1;
  const std::vector<std::int64_t> y3 = {0, 2, 1, 1};
  for (std::size_t o = 0; o < 2; ++o)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < 2; ++i) xt[(o * 2 + i) * 3 + c] = x3[(o * 3 + c) * 2 + i];
  const RowInputs<double> nchw(x3.data(), lossfn::RowShape{2, 3, 2}, y3.data());
  std::vector<double> g3(12), gt(12);
  const double v3 = lossfn::value_and_grad(g3.data(), nchw, sce);
  CHECK(close(v3, 1.4076059644443806));  // lossfn.softmax_cross_entropy(x3, y3, axis=1)
  CHECK(close(lossfn::value_and_grad(gt.data(), RowInputs<double>(xt.data(), 4, 3, y3.data()), sce), v3));
  bool same = true;
  for (std::size_t o = 0; o < 2; ++o)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < 2; ++i) same = same && close(g3[(o * 3 + c) * 2 + i], gt[(o * 2 + i) * 3 + c]);
  CHECK(same && close(g3[0], -0.2274923567074049));

  // the other losses, against lossfn's Python package on the same inputs
  const std::vector<double> q = {0.2, 0.3, 0.5, 0.6, 0.3, 0.1}, yq = {0, 0, 1, 1, 0, 0};
  CHECK(close(lossfn::value(in, lossfn::Nll{}), -2.0));
  CHECK(close(lossfn::value(RowInputs<double>(in).with_class_weight(cw.data()), lossfn::Nll{}), -2.5));
  CHECK(close(lossfn::value(RowInputs<double>(q.data(), 2, 3, yq.data()), lossfn::CategoricalCrossentropy{}),
              0.601986402162968));
  CHECK(close(lossfn::value(RowInputs<double>(q.data(), 2, 3, y.data()), lossfn::SparseCategoricalCrossentropy{}),
              0.601986402162968));
  CHECK(close(lossfn::value(in, lossfn::SoftmaxFocal{}), 0.04567779896788493));
  CHECK(close(lossfn::value(in, lossfn::SoftmaxFocal{0.0}), L0));
  const std::vector<double> alpha = {0.25, 0.5, 0.75};
  CHECK(close(lossfn::value(RowInputs<double>(in).with_class_weight(alpha.data()), lossfn::SoftmaxFocal{}),
              0.022838899483942465));
  const std::vector<double> hinge_t = {0, 0, 1, 0, 1, 0}, multi_t = {0, 1, 1, 1, 0, 0};
  CHECK(close(lossfn::value(RowInputs<double>(x.data(), 2, 3, hinge_t.data()), lossfn::CategoricalHinge{}), 1.0));
  CHECK(lossfn::value(in, lossfn::MultiMargin{}) == 0.0);
  CHECK(close(lossfn::value(in, lossfn::MultiMargin{2.0, 2.0}), 1.0 / 3));
  CHECK(close(lossfn::value(RowInputs<double>(x.data(), 2, 3, multi_t.data()), lossfn::MultilabelSoftMargin{}),
              0.46807460095522135));

  // float
  const std::vector<float> xf(x.begin(), x.end());
  std::vector<float> gf(6);
  CHECK(close(lossfn::value_and_grad(gf.data(), RowInputs<float>(xf.data(), 2, 3, y.data()), sce), L0, 1e-6));
  CHECK(close(gf[2], (prob[2] - 1) / 2, 1e-6));

  // utilities: softmax, log_softmax, logsumexp and their vector-Jacobian products
  const RowInputs<double> xs(x.data(), 2, 3);
  std::vector<double> out(6), lse(2), vj(6);
  lossfn::apply(out.data(), xs, lossfn::Softmax{});
  CHECK(all_close(out, prob));
  lossfn::apply(lse.data(), xs, lossfn::Logsumexp{});
  CHECK(close(lse[0], 3 + L0) && close(lse[1], 1 + L0));
  lossfn::apply(out.data(), xs, lossfn::LogSoftmax{});
  CHECK(close(out[2], -L0) && close(out[4], -1 - L0));
  lossfn::vjp(vj.data(), xs, lossfn::Logsumexp{});  // d lse / dx = softmax
  CHECK(all_close(vj, prob));
  const std::vector<double> up = {1, 0, 0, 0, 1, 0};
  lossfn::apply_and_vjp(out.data(), vj.data(), xs, lossfn::Softmax{}, up.data());
  for (std::size_t i = 0; i < 6; ++i) {  // softmax: p (u - <p, u>)
    const std::size_t r = i / 3;
    const double dot = prob[3 * r] * up[3 * r] + prob[3 * r + 1] * up[3 * r + 1] + prob[3 * r + 2] * up[3 * r + 2];
    want[i] = prob[i] * (up[i] - dot);
  }
  CHECK(all_close(out, prob) && all_close(vj, want));
  lossfn::vjp(vj.data(), xs, lossfn::LogSoftmax{});  // log_softmax with ones: 1 - C p
  for (std::size_t i = 0; i < 6; ++i) want[i] = 1 - 3 * prob[i];
  CHECK(all_close(vj, want));

  // many rows: the threaded path agrees with a serial one and with the formula
  {
    const std::size_t rows = 4096, C = 17;
    std::vector<double> big(rows * C), gb1(rows * C), gb2(rows * C);
    std::vector<std::int64_t> lb(rows);
    double sum = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      lb[r] = std::int64_t((r * 7) % C);
      double m = -1e300, s = 0;
      for (std::size_t c = 0; c < C; ++c) m = std::fmax(m, big[r * C + c] = std::sin(0.01 * double(r * C + c)) * 5);
      for (std::size_t c = 0; c < C; ++c) s += std::exp(big[r * C + c] - m);
      sum += m + std::log(s) - big[r * C + std::size_t(lb[r])];
    }
    const RowInputs<double> bin(big.data(), rows, C, lb.data());
    const int threads = lossfn::get_num_threads();
    lossfn::set_num_threads(1);
    const double serial = lossfn::value_and_grad(gb1.data(), bin, sce, Reduction::sum);
    lossfn::set_num_threads(4);
    const double parallel = lossfn::value_and_grad(gb2.data(), bin, sce, Reduction::sum);
    lossfn::set_num_threads(threads);
    CHECK(close(serial, sum, 1e-12) && serial == parallel && gb1 == gb2);
  }

  // errors: lossfn::Error naming the argument, nothing crashes
  const std::vector<std::int64_t> y_bad = {3, 0};
  expect_error([&] { lossfn::value(RowInputs<double>(x.data(), 2, 3, y_bad.data()), sce); }, "label 3");
  expect_error([&] { lossfn::value(RowInputs<double>(nullptr, 2, 3, y.data()), sce); }, "logits");
  expect_error([&] { lossfn::value(RowInputs<double>(x.data(), 2, 3), sce); }, "target");
  expect_error([&] { lossfn::value(in, lossfn::SoftmaxCrossEntropy{1.5}); }, "label_smoothing");
  expect_error([&] { lossfn::value(in, lossfn::MultiMargin{3.0}); }, "p");
  expect_error([&] { lossfn::value(in, lossfn::SoftmaxFocal{-1.0}); }, "gamma");
  const std::vector<double> cw_bad = {1, -1, 1};
  expect_error([&] { lossfn::value(RowInputs<double>(in).with_class_weight(cw_bad.data()), sce); }, "class_weight");
  expect_error([&] { lossfn::value(RowInputs<double>(in).with_class_weight(cw_bad.data()), lossfn::SoftmaxFocal{}); },
               "alpha");
  expect_error([&] { lossfn::value(RowInputs<double>(in).with_ignore_index(), lossfn::SoftmaxFocal{}); },
               "ignore_index");
  expect_error([&] { lossfn::value(in, lossfn::CategoricalHinge{}); }, "target");
  expect_error([&] { lossfn::value(in, sce, Reduction::none); }, "value");
  expect_error([&] { lossfn::value(in, sce, Reduction(5)); }, "reduction");
  expect_error([&] { lossfn::grad(g.data(), in, sce, Reduction::mean, 1.0, go.data()); }, "grad_output");
  expect_error([&] { lossfn::apply(out.data(), RowInputs<double>(xs).with_weight(sw.data()), lossfn::Softmax{}); },
               "weight");
  // empty spatial axes (inner = 0): no rows, the mean of nothing
  CHECK(std::isnan(lossfn::value(RowInputs<double>(x.data(), lossfn::RowShape{2, 3, 0}, y.data()), sce)));
}

// CTC through lossfn::ctc: (T, N, C) data and the same numbers stored (N, T, C), read in place
// through strides; from_logits; errors naming the sample.
static void ctc() {
  const std::size_t T = 4, N = 2, C = 3;
  double tnc[T * N * C], ntc[N * T * C], g1[T * N * C], g2[N * T * C];
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t b = 0; b < N; ++b)
      for (std::size_t c = 0; c < C; ++c) {
        const double v = std::sin(double(1 + t * 7 + b * 3 + c));
        tnc[(t * N + b) * C + c] = v;
        ntc[(b * T + t) * C + c] = v;
      }
  const std::int64_t targets[] = {1, 2, 2, 0}, il[] = {4, 3}, tl[] = {2, 1};
  lossfn::CtcCall<double> call;
  call.max_time = T, call.batch = N, call.classes = C;
  call.log_probs = tnc;
  call.targets = targets, call.targets_size = 4, call.targets_width = 2;
  call.input_lengths = il, call.target_lengths = tl;
  double v1 = 0, v2 = 0;
  call.value = &v1, call.grad = g1;
  lossfn::Ctc logits;
  logits.from_logits = true;
  lossfn::ctc(call, logits);
  const std::ptrdiff_t strides[3] = {std::ptrdiff_t(C), std::ptrdiff_t(T * C), 1};
  call.log_probs = ntc, call.strides = strides, call.grad = g2, call.grad_strides = strides, call.value = &v2;
  lossfn::ctc(call, logits);
  CHECK(v1 == v2 && v1 > 0 && std::isfinite(v1));
  bool same = true;
  double frame_sum = 0;
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t b = 0; b < N; ++b)
      for (std::size_t c = 0; c < C; ++c) {
        same &= g1[(t * N + b) * C + c] == g2[(b * T + t) * C + c];
        if (t == 0 && b == 0) frame_sum += g1[c];
      }
  CHECK(same);
  CHECK(close(frame_sum, 0.0, 1e-14) || std::fabs(frame_sum) < 1e-15);  // softmax - posterior sums to 0
  CHECK(g1[(3 * N + 1) * C + 0] == 0.0);  // frame 3 is past sample 1's input length
  const std::int64_t bad[] = {1, 2, 3, 0};
  call.targets = bad;
  expect_error([&] { lossfn::ctc(call, logits); }, "label 3 of sample 1");
  call.targets = targets;
  lossfn::Ctc blank_two;
  blank_two.blank = 2;
  expect_error([&] { lossfn::ctc(call, blank_two); }, "is the blank");
}

// The same logits read as NCHW (outer 1, inner H*W) and NHWC (outer H*W, inner 1) give the same
// loss and the same gradient, transposed; bad options throw naming the argument.
static void overlap() {
  const std::size_t N = 2, C = 3, P = 5;
  double nchw[N * C * P], nhwc[N * P * C], g1[N * C * P], g2[N * P * C];
  std::int64_t labels[N * P];
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t i = 0; i < P; ++i) {
      labels[n * P + i] = std::int64_t((n + 2 * i) % C);
      for (std::size_t c = 0; c < C; ++c) {
        const double v = std::sin(double(1 + n * 11 + c * 5 + i));
        nchw[(n * C + c) * P + i] = v;
        nhwc[(n * P + i) * C + c] = v;
      }
    }
  lossfn::OverlapOptions o;
  o.activation = lossfn::Activation::softmax;
  o.per_sample = true;
  double v1 = 0, v2 = 0;
  lossfn::SegmentCall<double> a;
  a.batch = N, a.outer = 1, a.classes = C, a.inner = P, a.pred = nchw, a.labels = labels;
  a.value = &v1, a.grad = g1;
  lossfn::overlap(lossfn::Overlap::tversky, a, o);
  lossfn::SegmentCall<double> b = a;
  b.outer = P, b.inner = 1, b.pred = nhwc, b.value = &v2, b.grad = g2;
  lossfn::overlap(lossfn::Overlap::tversky, b, o);
  CHECK(close(v1, v2) && v1 > 0 && v1 < 1);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t i = 0; i < P; ++i)
      for (std::size_t c = 0; c < C; ++c) CHECK(close(g1[(n * C + c) * P + i], g2[(n * P + i) * C + c], 1e-12));
  CHECK(std::string(lossfn::overlap_name(lossfn::Overlap::focal_tversky)) == "focal_tversky");
  o.smooth = -1;
  expect_error([&] { lossfn::overlap(lossfn::Overlap::dice, a, o); }, "smooth");
  o.smooth = 1, o.alpha = 0, o.beta = 0;
  expect_error([&] { lossfn::overlap(lossfn::Overlap::tversky, a, o); }, "alpha");
  a.reduction = lossfn::Reduction::none;
  expect_error([&] { lossfn::overlap(lossfn::Overlap::dice, a, lossfn::OverlapOptions{}); }, "value");
}

// A large segment sorted over every thread gives what one thread gives, bit for bit; ignored
// pixels get a zero gradient; float keys of both signs sort as numbers.
static void lovasz() {
  const std::size_t N = 2, P = 40000;
  std::vector<float> x(N * P), masks(N * P), g1(N * P), g4(N * P);
  for (std::size_t i = 0; i < N * P; ++i) {
    x[i] = float(std::sin(double(i) * 0.37) * 3.0);
    masks[i] = i % 7 == 0 ? 255.0f : float((i * 2654435761u >> 7) % 3 == 0);
  }
  lossfn::LovaszOptions o;
  o.per_sample = false, o.has_ignore_index = true, o.ignore_index = 255;
  lossfn::LovaszCall<float> c;
  c.batch = N, c.pixels = P, c.logits = x.data(), c.masks = masks.data();
  double v1 = 0, v4 = 0;
  const int before = lossfn::get_num_threads();
  lossfn::set_num_threads(1);
  c.value = &v1, c.grad = g1.data();
  lossfn::lovasz_hinge(c, o);
  lossfn::set_num_threads(4);
  c.value = &v4, c.grad = g4.data();
  lossfn::lovasz_hinge(c, o);
  lossfn::set_num_threads(before);
  CHECK(v1 == v4 && v1 > 0 && std::isfinite(v1));
  CHECK(std::memcmp(g1.data(), g4.data(), g1.size() * sizeof(float)) == 0);
  CHECK(g1[0] == 0.0f && g1[7] == 0.0f);
  masks[3] = 0.5f;
  expect_error([&] { lossfn::lovasz_hinge(c, o); }, "masks: value 0.5 at pixel 3");
  c.masks = nullptr;
  expect_error([&] { lossfn::lovasz_hinge(c, o); }, "masks");
}

// SSIM of NHWC images read through strides equals that of the same images in NCHW, value and
// gradient bit for bit, on one thread and on four; an image smaller than the window is an error.
static void images() {
  const std::size_t N = 2, C = 3, H = 70, W = 33, n = N * C * H * W;
  std::vector<float> x(n), y(n), xh(n), yh(n), g(n), gh(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = float(0.5 + 0.4 * std::sin(double(i) * 0.37));
    y[i] = float(0.5 + 0.4 * std::cos(double(i) * 0.11));
  }
  for (std::size_t b = 0; b < N; ++b)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t p = 0; p < H * W; ++p) {
        xh[(b * H * W + p) * C + c] = x[(b * C + c) * H * W + p];
        yh[(b * H * W + p) * C + c] = y[(b * C + c) * H * W + p];
      }
  const std::ptrdiff_t nhwc[4] = {std::ptrdiff_t(H * W * C), 1, std::ptrdiff_t(W * C), std::ptrdiff_t(C)};
  lossfn::ImageCall<float> c;
  c.batch = N, c.channels = C, c.height = H, c.width = W, c.x = x.data(), c.y = y.data();
  double v = 0, vh = 0;
  c.value = &v, c.grad = g.data();
  lossfn::ssim(c);
  lossfn::ImageCall<float> ch = c;
  ch.x = xh.data(), ch.y = yh.data(), ch.strides = nhwc, ch.y_strides = nhwc, ch.grad_strides = nhwc;
  ch.value = &vh, ch.grad = gh.data();
  const int before = lossfn::get_num_threads();
  lossfn::set_num_threads(4);
  lossfn::ssim(ch);
  lossfn::set_num_threads(before);
  CHECK(v == vh && v > 0 && v < 1);
  bool same = true;
  for (std::size_t b = 0; b < N; ++b)
    for (std::size_t k = 0; k < C; ++k)
      for (std::size_t p = 0; p < H * W; ++p) same &= g[(b * C + k) * H * W + p] == gh[(b * H * W + p) * C + k];
  CHECK(same);
  // MS-SSIM over two levels (70 x 33, then 35 x 17), the same way.
  lossfn::MsSsimOptions ms;
  const double weights[2] = {0.4, 0.6};
  ms.weights = weights, ms.levels = 2;
  lossfn::ms_ssim(c, ms);
  lossfn::set_num_threads(4);
  lossfn::ms_ssim(ch, ms);
  lossfn::set_num_threads(before);
  CHECK(v == vh && v > 0 && v < 1);
  same = true;
  for (std::size_t b = 0; b < N; ++b)
    for (std::size_t k = 0; k < C; ++k)
      for (std::size_t p = 0; p < H * W; ++p) same &= g[(b * C + k) * H * W + p] == gh[(b * H * W + p) * C + k];
  CHECK(same);
  expect_error([&] { lossfn::ms_ssim(c); }, "ms_ssim: x: the images (70 x 33) are too small for 5 levels");
  c.width = 10;
  expect_error([&] { lossfn::ssim(c); }, "x: the images (70 x 10) are smaller than the 11 x 11 window");
}

// Pair losses in float: a triplet whose positive is 1 from the anchor and negative 3 (no eps):
// with margin 1 the hinge is inactive (1 - 3 + 1 < 0), with margin 2.5 it costs 0.5 and the
// anchor's gradient is the unit vector towards the negative minus the one towards the positive.
static void pairs() {
  const std::vector<float> a = {0, 0}, p = {1, 0}, n = {0, 3};
  std::vector<float> ga(2), gp(2), gn(2);
  lossfn::PairCall<float> c;
  c.samples = 1, c.features = 2, c.a = a.data(), c.b = p.data(), c.c = n.data();
  double v = -1;
  c.value = &v, c.grad_a = ga.data(), c.grad_b = gp.data(), c.grad_c = gn.data();
  lossfn::PairOptions o;
  o.eps = 0.0;
  lossfn::pair_loss(lossfn::PairLoss::triplet, c, o);
  CHECK(v == 0.0 && ga[0] == 0.0 && gn[1] == 0.0);
  o.margin = 2.5;
  lossfn::pair_loss(lossfn::PairLoss::triplet, c, o);
  CHECK(close(v, 0.5, 1e-7) && ga[0] == -1.0f && ga[1] == 1.0f && gp[0] == 1.0f && gn[1] == -1.0f);
  CHECK(std::string(lossfn::pair_loss_name(lossfn::PairLoss::cosine_embedding)) == "cosine_embedding");
  o.p = 0.5;
  expect_error([&] { lossfn::pair_loss(lossfn::PairLoss::triplet, c, o); }, "triplet: p: must be a finite number >= 1");
}

// Perceptual losses in float: the features of the images above as one layer (and its channels-last
// copy, read in place); the feature loss is the images' mean squared difference, the style loss's
// gradient the same through either layout (the Gram products' summation order differs).
static void perceptual() {
  const std::size_t N = 2, C = 3, H = 70, W = 33, n = N * C * H * W;
  std::vector<float> x(n), y(n), xh(n), yh(n), g(n), gh(n);
  double mse = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = float(std::sin(double(i) * 0.37)), y[i] = float(std::cos(double(i) * 0.11));
    mse += (double(x[i]) - double(y[i])) * (double(x[i]) - double(y[i]));
  }
  mse /= double(n);
  for (std::size_t b = 0; b < N; ++b)
    for (std::size_t k = 0; k < C; ++k)
      for (std::size_t p = 0; p < H * W; ++p) {
        xh[(b * H * W + p) * C + k] = x[(b * C + k) * H * W + p];
        yh[(b * H * W + p) * C + k] = y[(b * C + k) * H * W + p];
      }
  const std::ptrdiff_t nhwc[4] = {std::ptrdiff_t(H * W * C), 1, std::ptrdiff_t(W * C), std::ptrdiff_t(C)};
  lossfn::FeatureLayer<float> layer, layer_h;
  layer.channels = C, layer.height = H, layer.width = W, layer.x = x.data(), layer.y = y.data(), layer.grad = g.data();
  layer_h = layer;
  layer_h.x = xh.data(), layer_h.y = yh.data(), layer_h.grad = gh.data();
  layer_h.x_strides = nhwc, layer_h.y_strides = nhwc, layer_h.grad_strides = nhwc;
  lossfn::PerceptualCall<float> c;
  double v = 0, vh = 0;
  c.batch = N, c.layers = &layer, c.num_layers = 1, c.value = &v;
  lossfn::perceptual(c);
  CHECK(close(v, mse, 1e-12));
  lossfn::PerceptualOptions style;
  style.gram = true;
  lossfn::perceptual(c, style);
  lossfn::PerceptualCall<float> ch = c;
  ch.layers = &layer_h, ch.value = &vh;
  lossfn::perceptual(ch, style);
  CHECK(v > 0 && close(v, vh, 1e-5));
  bool same = true;
  for (std::size_t b = 0; b < N; ++b)
    for (std::size_t k = 0; k < C; ++k)
      for (std::size_t p = 0; p < H * W; ++p) {
        const float a = g[(b * C + k) * H * W + p], e = gh[(b * H * W + p) * C + k];
        same &= std::fabs(a - e) <= 1e-5f * (1e-3f + std::fabs(e));
      }
  CHECK(same);
  const double weights[1] = {-1.0};
  c.layer_weights = weights;
  expect_error([&] { lossfn::perceptual(c); }, "layer_weights: must be finite numbers >= 0");
}

// Margin losses and info_nce in float: cosface over 1000 classes (four tiles) against the formula
// in double; info_nce's per-sample losses add up to its sum; a gradient call needs both views.
static void pairwise() {
  const std::size_t N = 3, D = 4, C = 1000;
  std::vector<float> x(N * D), w(C * D), gx(N * D), gw(C * D);
  const std::vector<std::int64_t> y{7, 999, 256};
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i) * 0.7 + 0.3));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = float(std::cos(double(i) * 0.13));
  const double s = 30.0, m = 0.35;
  double expected = 0.0;
  for (std::size_t i = 0; i < N; ++i) {
    double nx = 0.0, target = 0.0;
    for (std::size_t d = 0; d < D; ++d) nx += double(x[i * D + d]) * double(x[i * D + d]);
    std::vector<double> logits(C);
    for (std::size_t c = 0; c < C; ++c) {
      double dot = 0.0, nw = 0.0;
      for (std::size_t d = 0; d < D; ++d) {
        dot += double(x[i * D + d]) * double(w[c * D + d]);
        nw += double(w[c * D + d]) * double(w[c * D + d]);
      }
      const double cos = dot / std::sqrt(nx * nw);
      logits[c] = s * (std::int64_t(c) == y[i] ? cos - m : cos);
      if (std::int64_t(c) == y[i]) target = logits[c];
    }
    double mx = logits[0], sum = 0.0;
    for (double l : logits) mx = std::max(mx, l);
    for (double l : logits) sum += std::exp(l - mx);
    expected += (mx + std::log(sum) - target) / double(N);
  }
  lossfn::MarginCall<float> c;
  c.samples = N, c.features = D, c.classes = C, c.x = x.data(), c.labels = y.data(), c.weights = w.data();
  double v = 0.0;
  c.value = &v, c.grad_x = gx.data(), c.grad_weights = gw.data();
  lossfn::margin_loss(lossfn::MarginLoss::cosface, c);
  if (!close(v, expected, 1e-5)) {
    std::fprintf(stderr, "cosface: %.9g, expected %.9g\n", v, expected);
    ++failures;
  }
  lossfn::InfoNceOptions o;
  o.simclr = true;
  lossfn::PairCall<float> p;
  std::vector<float> per(N), ga(N * D), gb(N * D);
  p.samples = N, p.features = D, p.a = x.data(), p.b = w.data(), p.reduction = lossfn::Reduction::none;
  p.loss = per.data();
  lossfn::info_nce(p, o);
  double total = 0.0;
  p.reduction = lossfn::Reduction::sum, p.loss = nullptr, p.value = &total;
  lossfn::info_nce(p, o);
  if (!close(total, double(per[0]) + double(per[1]) + double(per[2]), 1e-6)) {
    std::fprintf(stderr, "info_nce: sum %.9g\n", total);
    ++failures;
  }
  p.value = nullptr, p.grad_a = ga.data();
  expect_error([&] { lossfn::info_nce(p, o); }, "info_nce: grad: a gradient call writes the gradient of both views");
}
