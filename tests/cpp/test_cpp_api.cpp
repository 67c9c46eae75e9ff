// C++ API: known values, the typed front-end against the generic entry point, and errors
// coming back as lossfn::Error with a message naming the argument.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
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

int main() {
  CHECK(std::string(lossfn::version()) == LOSSFN_VERSION_STRING);
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

  if (failures) std::fprintf(stderr, "%d failure(s)\n", failures);
  else std::printf("C++ API: all checks passed (isa %s)\n", lossfn::isa_name(lossfn::active_isa()));
  return failures ? 1 : 0;
}
