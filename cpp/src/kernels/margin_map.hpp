// The label's logit map of the margin-softmax losses (lossfn/metric.hpp): phi(cos) and its slope,
// shared by the per-ISA kernels (the slope, in the gradient sweep) and the baseline call driver
// (the loss from the label's cosine). Internal linkage: each translation unit, compiled for its
// own ISA, keeps its own copy (no symbol shared between ISAs).
#pragma once

#include <cmath>

namespace lossfn {
namespace {

struct MarginMap {
  bool arcface = false, easy = false;
  double m = 0.0, cos_m = 1.0, sin_m = 0.0, th = -1.0, mm = 0.0, sin_floor = 0.0;

  // unit_roundoff: the epsilon of the compute type. cos = 1 - theta^2 / 2 rounds to 1 below theta
  // ~ sqrt(epsilon), so a smaller sin(theta) is rounding noise: the floor of the slope's divisor.
  static MarginMap of(bool arcface, bool easy_margin, double m, double unit_roundoff) {
    constexpr double pi = 3.14159265358979323846;
    MarginMap f;
    f.arcface = arcface, f.easy = easy_margin, f.m = m;
    f.cos_m = std::cos(m), f.sin_m = std::sin(m);
    f.th = std::cos(pi - m), f.mm = std::sin(pi - m) * m;
    f.sin_floor = std::sqrt(unit_roundoff);
    return f;
  }
  bool angular(double c) const { return easy ? c > 0.0 : c > th; }
  static double sin_of(double c) {
    const double s2 = 1.0 - c * c;
    return s2 > 0.0 ? std::sqrt(s2) : 0.0;
  }
  // cosface: c - m; arcface: cos(theta + m) on the angular branch, else the tail.
  double phi(double c) const {
    if (!arcface) return c - m;
    if (!angular(c)) return easy ? c : c - mm;
    return c * cos_m - sin_of(c) * sin_m;
  }
  double dphi(double c) const {
    if (!arcface || !angular(c)) return 1.0;
    const double sin_t = sin_of(c);
    return cos_m + sin_m * c / (sin_t > sin_floor ? sin_t : sin_floor);
  }
};

}  // namespace
}  // namespace lossfn
