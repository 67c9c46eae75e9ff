// Fits y = 3 x - 2 (with heavy-tailed noise) by gradient descent on the Huber loss, through
// lossfn's C++ API: one fused value_and_grad per step. Prints the loss as it falls, then the
// values that examples/check_same_numbers.py compares with the Python package (a softmax
// cross-entropy among them).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <lossfn/lossfn.hpp>

int main() {
  const std::size_t n = 1000;
  std::vector<double> x(n), y(n), pred(n), grad(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = std::sin(0.37 * double(i));
    const double noise = 0.1 * std::tan(1.3 * std::cos(1.7 * double(i)));  // outliers
    y[i] = 3.0 * x[i] - 2.0 + noise;
  }
  lossfn::Huber huber;
  huber.delta = 0.5;
  double w = 0.0, b = 0.0;
  const double lr = 0.5;
  for (int step = 0; step <= 200; ++step) {
    for (std::size_t i = 0; i < n; ++i) pred[i] = w * x[i] + b;
    const double loss = lossfn::value_and_grad(grad.data(), lossfn::Inputs<double>(pred.data(), y.data(), n), huber);
    double gw = 0.0, gb = 0.0;  // chain rule through pred = w x + b
    for (std::size_t i = 0; i < n; ++i) gw += grad[i] * x[i], gb += grad[i];
    w -= lr * gw;
    b -= lr * gb;
    if (step % 40 == 0) std::printf("step %3d  huber %.6f  w %.4f  b %.4f\n", step, loss, w, b);
  }
  // Fixed inputs for the cross-check with Python.
  std::vector<float> p(n), t(n), g(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = float(std::sin(0.1 * double(i))), t[i] = float(i % 2);
  const lossfn::Inputs<float> in(p.data(), t.data(), n);
  std::printf("check huber %.9g\n", lossfn::value(in, lossfn::Huber{}));
  std::printf("check bce_with_logits %.9g\n", lossfn::value_and_grad(g.data(), in, lossfn::BceWithLogits{}));
  std::printf("check bce_with_logits_grad3 %.9g\n", double(g[3]));
  std::printf("check log_cosh_sum %.9g\n", lossfn::value(in, lossfn::LogCosh{}, lossfn::Reduction::sum));
  // The same numbers as (250, 4) rows of class scores with labels row % 4 (a row loss).
  const std::size_t rows = n / 4, classes = 4;
  std::vector<std::int64_t> labels(rows);
  for (std::size_t r = 0; r < rows; ++r) labels[r] = std::int64_t(r % classes);
  const lossfn::RowInputs<float> scores(p.data(), rows, classes, labels.data());
  std::printf("check softmax_cross_entropy %.9g\n",
              lossfn::value_and_grad(g.data(), scores, lossfn::SoftmaxCrossEntropy{}));
  std::printf("check softmax_cross_entropy_grad5 %.9g\n", double(g[5]));
  return std::fabs(w - 3.0) < 0.1 && std::fabs(b + 2.0) < 0.1 ? 0 : 1;
}
