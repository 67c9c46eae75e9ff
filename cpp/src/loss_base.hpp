// Shared pieces of the per-family kernel files (compiled once per ISA).
#ifndef LOSSFN_ISA
#error "loss_base.hpp is included by per-ISA kernel files only"
#endif

#include "elementwise_loop.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

// Defaults for a loss without an aux input; an Op derives from OpBase<T>.
struct NoAux {
  static constexpr AuxKind aux = AuxKind::none;
};
template <class T>
struct OpBase {
  static constexpr bool aux_differentiable = false;
  T aux_default = T(0);
};

}  // namespace LOSSFN_ISA
}  // namespace lossfn
