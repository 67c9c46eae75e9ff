// Shared pieces of the per-family kernel files (compiled once per ISA).
#ifndef LOSSFN_ISA
#error "loss_base.hpp is included by per-ISA kernel files only"
#endif

#include "kernels/elementwise_loop.hpp"

namespace lossfn {
namespace LOSSFN_ISA {

// Defaults for a loss without an aux input; an Op derives from OpBase<T>.
struct NoAux {
  static constexpr AuxKind aux = AuxKind::none;
};
template <class T>
struct OpBase {
  static constexpr bool aux_differentiable = false;
  static constexpr bool sign_labels = false;  // the pass also reports which labels it met
  static constexpr bool unit_targets = false;  // the pass also reports targets outside [0, 1]
  T aux_default = T(0);
};
// An Op of a margin loss: targets are sign labels, {-1, +1} or {0, 1}.
template <class T>
struct SignLabelOp : OpBase<T> {
  static constexpr bool sign_labels = true;
};
// An Op whose targets are probabilities in [0, 1] (bce, binary_focal); nan passes.
template <class T>
struct UnitTargetOp : OpBase<T> {
  static constexpr bool unit_targets = true;
};

}  // namespace LOSSFN_ISA
}  // namespace lossfn
