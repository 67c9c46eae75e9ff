// The entry point of test_simd_math_<isa>, compiled as baseline code: it runs the tests
// (test_simd_math.cpp, compiled with the ISA's flags) only on a CPU that has the ISA, and
// otherwise exits 77 (CTest's skip).
#include <cstdio>
#include <string>

#define STR2(x) #x
#define STR(x) STR2(x)

int run_simd_math_tests();

static bool cpu_has_isa() {
  const std::string isa = STR(LOSSFN_ISA);
  __builtin_cpu_init();
  if (isa == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return true;
}

int main() {
  if (!cpu_has_isa()) {
    std::printf("%s: not supported by this CPU, skipped\n", STR(LOSSFN_ISA));
    return 77;
  }
  return run_simd_math_tests();
}
