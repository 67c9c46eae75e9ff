// Python bindings: NumPy buffers in, lossfn::run out. This file checks and converts the
// arguments (dtype, shape, layout, out= buffers), releases the GIL around the kernel and
// turns lossfn::Error into ValueError / TypeError. Hyper-parameters arrive already mapped
// to the kernel's parameter vector by lossfn/_losses.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lossfn/lossfn.hpp"

namespace py = pybind11;
using lossfn::ErrorKind;
using lossfn::Loss;
using lossfn::Reduction;

namespace {

[[noreturn]] void value_error(const std::string& msg) { throw lossfn::Error(ErrorKind::value, msg); }
[[noreturn]] void type_error(const std::string& msg) { throw lossfn::Error(ErrorKind::type, msg); }

std::string shape_str(const py::array& a) { return py::str(a.attr("shape")).cast<std::string>(); }

bool same_shape(const py::array& a, const py::array& b) {
  if (a.ndim() != b.ndim()) return false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) != b.shape(i)) return false;
  return true;
}

// Numeric dtypes only: floats, integers and booleans (and bfloat16 from ml_dtypes).
void check_kind(const py::array& a, const char* name) {
  const char kind = a.dtype().kind();
  if (kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b') return;
  if (py::str(a.dtype()).cast<std::string>() == "bfloat16") return;
  type_error(std::string(name) + ": unsupported dtype " + py::str(a.dtype()).cast<std::string>() +
             " (expected a real floating or integer dtype)");
}

// numpy.ma.MaskedArray, looked up once: its mask would be silently dropped by the conversion.
bool is_masked_array(py::handle obj) {
  const auto& api = py::detail::npy_api::get();
  if (Py_TYPE(obj.ptr()) == api.PyArray_Type_) return false;
  static PyObject* masked = nullptr;
  if (masked == nullptr) masked = py::object(py::module_::import("numpy.ma").attr("MaskedArray")).release().ptr();
  return PyObject_IsInstance(obj.ptr(), masked) == 1;
}

py::array as_numeric_array(py::handle obj, const char* name) {
  const auto& api = py::detail::npy_api::get();
  if (Py_TYPE(obj.ptr()) == api.PyArray_Type_) {  // an ndarray: no conversion to make
    py::array a = py::reinterpret_borrow<py::array>(obj);
    check_kind(a, name);
    return a;
  }
  if (is_masked_array(obj))
    type_error(std::string(name) + ": masked arrays are not supported (lossfn would ignore the mask); pass "
               "np.ma.getdata(x) with weight=~np.ma.getmaskarray(x), or np.ma.filled(x, value)");
  PyObject* converted = py::detail::npy_api::get().PyArray_FromAny_(
      obj.ptr(), nullptr, 0, 0, py::detail::npy_api::NPY_ARRAY_ENSUREARRAY_, nullptr);
  if (converted == nullptr) {
    // What NumPy's conversion raised stays itself when it is not about the value's type:
    // MemoryError, KeyboardInterrupt or any exception from the object's own __array__.
    if (!PyErr_ExceptionMatches(PyExc_TypeError) && !PyErr_ExceptionMatches(PyExc_ValueError))
      throw py::error_already_set();
    PyErr_Clear();
    type_error(std::string(name) + ": expected an array-like of numbers");
  }
  py::array a = py::reinterpret_steal<py::array>(converted);
  check_kind(a, name);
  return a;
}

// float64 for float64/longdouble/integers/bool, float32 for float32/float16/bfloat16.
bool computes_in_float32(const py::array& pred) {
  const char kind = pred.dtype().kind();
  if (kind == 'f') return pred.itemsize() <= 4;
  return kind == 'V';  // bfloat16
}

template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The kernels read their inputs as aligned, C-contiguous arrays of T: an array that already is
// one is used in place; anything else (another dtype or layout, or a buffer at an odd address,
// np.frombuffer(..., offset=1), where a T load would be misaligned) is copied into one.
template <class T>
carray<T> to_compute(const py::array& a) {
  namespace npy = py::detail;
  const auto& api = npy::npy_api::get();
  const auto* proxy = npy::array_proxy(a.ptr());
  constexpr int ready = npy::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | npy::npy_api::NPY_ARRAY_ALIGNED_;
  if ((proxy->flags & ready) == ready && api.PyArray_EquivTypes_(proxy->descr, py::dtype::of<T>().ptr()))
    return py::reinterpret_borrow<carray<T>>(a);
  PyObject* c = api.PyArray_FromAny_(a.ptr(), py::dtype::of<T>().release().ptr(), 0, 0,
                                     npy::npy_api::NPY_ARRAY_ENSUREARRAY_ | npy::npy_api::NPY_ARRAY_FORCECAST_ | ready,
                                     nullptr);
  if (c == nullptr) {
    if (!PyErr_ExceptionMatches(PyExc_TypeError) && !PyErr_ExceptionMatches(PyExc_ValueError))
      throw py::error_already_set();
    PyErr_Clear();
    type_error("cannot convert an input of dtype " + py::str(a.dtype()).cast<std::string>() + " to " +
               py::str(py::dtype::of<T>()).cast<std::string>());
  }
  return py::reinterpret_steal<carray<T>>(c);
}

// An elementwise input as the kernel reads it: in place through its strides when it already
// has the compute dtype (a broadcast weight, a per-column vector, a transposed or sliced view:
// no temporary of the input's size), else converted. `keep` holds whatever array `data`
// points into for the duration of the call; `strides` (in elements) is empty for a
// C-contiguous input.
template <class T>
struct Input {
  py::object keep;
  const T* data = nullptr;
  std::vector<std::ptrdiff_t> strides;
  const std::ptrdiff_t* strides_or_null() const { return strides.empty() ? nullptr : strides.data(); }
};

template <class T>
bool has_compute_dtype(const py::array& a) {
  const auto& api = py::detail::npy_api::get();
  return api.PyArray_EquivTypes_(py::detail::array_proxy(a.ptr())->descr, py::dtype::of<T>().ptr());
}

template <class T>
Input<T> read_in_place(py::array a) {
  namespace npy = py::detail;
  Input<T> in;
  const int flags = npy::array_proxy(a.ptr())->flags;
  if (a.ndim() > 0 && !(flags & npy::npy_api::NPY_ARRAY_C_CONTIGUOUS_) && !has_compute_dtype<T>(a)) {
    // A broadcast view of another dtype: convert the values it repeats (one index along each
    // axis of stride 0), then broadcast the converted array again.
    bool broadcast = false;
    py::tuple index(a.ndim());
    for (py::ssize_t k = 0; k < a.ndim(); ++k) {
      const bool repeated = a.strides(k) == 0 && a.shape(k) > 1;
      broadcast |= repeated;
      index[k] = repeated ? py::slice(0, 1, 1) : py::slice(py::none(), py::none(), py::none());
    }
    if (broadcast) {
      carray<T> compact = to_compute<T>(a[index]);
      a = py::module_::import("numpy").attr("broadcast_to")(compact, a.attr("shape"));
    }
  }
  const bool aligned = npy::array_proxy(a.ptr())->flags & npy::npy_api::NPY_ARRAY_ALIGNED_;
  if (a.ndim() > 0 && has_compute_dtype<T>(a) && aligned &&
      !(npy::array_proxy(a.ptr())->flags & npy::npy_api::NPY_ARRAY_C_CONTIGUOUS_)) {
    bool whole = true;
    for (py::ssize_t k = 0; k < a.ndim(); ++k) whole &= a.strides(k) % py::ssize_t(sizeof(T)) == 0;
    if (whole) {
      for (py::ssize_t k = 0; k < a.ndim(); ++k) in.strides.push_back(a.strides(k) / py::ssize_t(sizeof(T)));
      in.data = static_cast<const T*>(a.data());
      in.keep = std::move(a);
      return in;
    }
  }
  carray<T> c = to_compute<T>(a);
  in.data = c.data();
  in.keep = std::move(c);
  return in;
}

template <class T>
Input<T> input_like(py::handle obj, const char* name, const py::array& pred, const char* pred_name = "pred") {
  py::array a = as_numeric_array(obj, name);
  if (!same_shape(a, pred))
    value_error(std::string(name) + ": shape " + shape_str(a) + " does not match " + pred_name + " shape " +
                shape_str(pred) + " (no broadcasting)");
  return read_in_place<T>(a);
}

// A weight broadcast to pred's shape, read in place: its strides, with 0 along each axis it
// is repeated on (NumPy's broadcasting rules, without building a view per call).
template <class T>
Input<T> weight_like(py::handle obj, const py::array& pred) {
  py::array a = as_numeric_array(obj, "weight");
  if (same_shape(a, pred)) return read_in_place<T>(a);
  const py::ssize_t nd = pred.ndim(), lead = nd - a.ndim();
  bool fits = lead >= 0;
  for (py::ssize_t k = 0; fits && k < a.ndim(); ++k) fits = a.shape(k) == 1 || a.shape(k) == pred.shape(lead + k);
  if (!fits) value_error("weight: shape " + shape_str(a) + " cannot be broadcast to " + shape_str(pred));
  if (!has_compute_dtype<T>(a) || !(py::detail::array_proxy(a.ptr())->flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    a = to_compute<T>(a);  // the small array, before it is broadcast
  Input<T> in;
  in.strides.assign(std::size_t(nd), 0);
  for (py::ssize_t k = 0; k < a.ndim(); ++k) {
    if (a.shape(k) == 1) continue;
    if (a.strides(k) % py::ssize_t(sizeof(T)) != 0) {  // a stride between whole elements: copy
      a = to_compute<T>(a);
      return weight_like<T>(a, pred);
    }
    in.strides[std::size_t(lead + k)] = a.strides(k) / py::ssize_t(sizeof(T));
  }
  in.data = static_cast<const T*>(a.data());
  in.keep = std::move(a);
  return in;
}

// The bytes a buffer of `count` elements spans, with the argument's name for messages.
struct Extent {
  std::string name;
  const char* lo;
  const char* hi;
};

template <class T>
Extent extent(std::string name, const T* data, std::size_t count) {
  const char* lo = reinterpret_cast<const char*>(data);
  return Extent{std::move(name), lo, data ? lo + count * sizeof(T) : lo};
}

// The bytes an input spans, contiguous or strided over `shape`.
template <class T>
Extent extent(std::string name, const Input<T>& in, const std::vector<py::ssize_t>& shape, std::size_t count) {
  if (in.strides.empty() || count == 0) return extent(std::move(name), in.data, count);
  std::ptrdiff_t low = 0, high = 0;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    const std::ptrdiff_t span = std::ptrdiff_t(shape[k] - 1) * in.strides[k];
    (span < 0 ? low : high) += span;
  }
  const char* at = reinterpret_cast<const char*>(in.data);
  return Extent{std::move(name), at + low * std::ptrdiff_t(sizeof(T)), at + (high + 1) * std::ptrdiff_t(sizeof(T))};
}

// out= buffers are never computed in place: the kernels read their inputs through restrict
// pointers a vector (or a tile of rows) at a time, so an output overlapping an input, or
// another output, would be read after it was written. Such calls are refused, naming both.
void refuse_overlaps(const std::vector<Extent>& outputs, const std::vector<Extent>& inputs) {
  auto overlap = [](const Extent& a, const Extent& b) { return a.lo < b.hi && b.lo < a.hi; };
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Extent& o = outputs[i];
    if (o.lo == o.hi) continue;
    for (const Extent& in : inputs)
      if (in.lo != in.hi && overlap(o, in))
        value_error(o.name + ": overlaps the input '" + in.name +
                    "' (lossfn does not compute in place: pass a separate buffer)");
    for (std::size_t k = 0; k < i; ++k)
      if (outputs[k].lo != outputs[k].hi && overlap(o, outputs[k]))
        value_error(o.name + ": overlaps " + outputs[k].name + " (each output needs its own buffer)");
  }
}

// A caller's out= buffer: exactly the right ndarray, or a clear error.
template <class T>
py::array_t<T> checked_out(py::handle obj, const std::vector<py::ssize_t>& shape, const char* name,
                           const char* what) {
  if (!py::isinstance<py::array>(obj))
    type_error(std::string(name) + ": expected a numpy.ndarray");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  // Equal by value: a dtype with metadata is still float64; a byte-swapped one is not.
  if (!a.dtype().attr("__eq__")(py::dtype::of<T>()).template cast<bool>())
    type_error(std::string(name) + ": dtype " + py::str(a.dtype()).cast<std::string>() +
               " does not match the compute dtype " + py::str(py::dtype::of<T>()).cast<std::string>());
  if (std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()) != shape)
    value_error(std::string(name) + ": shape " + shape_str(a) + " does not match " + what + " shape " +
                py::str(py::tuple(py::cast(shape))).cast<std::string>());
  if (!(a.flags() & py::array::c_style)) value_error(std::string(name) + ": must be C-contiguous");
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    value_error(std::string(name) + ": must be aligned to its dtype (a buffer at an odd address, e.g. "
                                    "np.frombuffer(..., offset=1), cannot be written in place)");
  if (!a.writeable()) value_error(std::string(name) + ": must be writable");
  return py::reinterpret_borrow<py::array_t<T>>(a);
}

template <class T>
py::array_t<T> checked_out(py::handle obj, const py::array& pred, const char* name) {
  return checked_out<T>(obj, std::vector<py::ssize_t>(pred.shape(), pred.shape() + pred.ndim()), name, "pred");
}

template <class T>
py::array_t<T> new_like(const py::array& pred) {
  std::vector<py::ssize_t> shape(pred.shape(), pred.shape() + pred.ndim());
  return py::array_t<T>(shape);
}

// The upstream gradient: a 0-d value is the scalar (returned; when `scalar_ok`), anything else
// an array of `shape` for an unreduced output (`array_ok`), left in `array` (left empty
// otherwise).
double parse_grad_output(py::handle obj, bool scalar_ok, bool array_ok, Reduction reduction,
                         const std::vector<py::ssize_t>& shape, const char* shape_name, py::object& array) {
  if (obj.is_none()) return 1.0;
  py::array g = as_numeric_array(obj, "grad_output");
  if (g.ndim() == 0 && scalar_ok) return to_compute<double>(g).data()[0];
  if (!array_ok)
    value_error("grad_output: must be a scalar for reduction '" +
                std::string(reduction == Reduction::mean ? "mean" : "sum") + "', got shape " + shape_str(g));
  if (std::vector<py::ssize_t>(g.shape(), g.shape() + g.ndim()) != shape)
    value_error("grad_output: shape " + shape_str(g) + " does not match " + shape_name + " " +
                py::str(py::tuple(py::cast(shape))).cast<std::string>());
  array = std::move(g);
  return 1.0;
}

// The kernel's parameter vector, from the list the loss object keeps (a few floats): read
// directly, without building a std::vector per call.
struct Params {
  double values[lossfn::kMaxParams] = {0, 0, 0, 0};
  int count = 0;
  std::size_t size() const { return std::size_t(count); }
  const double* data() const { return values; }
};

Params parse_params(py::handle obj) {
  if (!PyList_Check(obj.ptr())) type_error("params: expected a list of floats");
  Params p;
  const Py_ssize_t n = PyList_GET_SIZE(obj.ptr());
  if (n > lossfn::kMaxParams) value_error("params: wrong count");
  for (Py_ssize_t i = 0; i < n; ++i) {
    const double v = PyFloat_AsDouble(PyList_GET_ITEM(obj.ptr(), i));
    if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    p.values[i] = v;
  }
  p.count = int(n);
  return p;
}

enum What : int { kValue = 0, kValueAndGrad = 1, kGrad = 2, kHess = 3, kGradHess = 4 };

template <class T>
py::object elementwise_t(Loss loss, int what, const py::array& pred_in, py::handle target_obj,
                         py::handle aux_obj, py::handle weight_obj, py::handle grad_output_obj,
                         py::handle out_obj, const Params& params, Reduction reduction) {
  const lossfn::LossInfo& info = lossfn::loss_info(loss);
  const char* aux_name = info.aux_name ? info.aux_name : "aux";
  const std::vector<py::ssize_t> shape(pred_in.shape(), pred_in.shape() + pred_in.ndim());
  // The inputs stay alive in these for the duration of the call.
  const Input<T> pred = read_in_place<T>(pred_in);
  const Input<T> target = input_like<T>(target_obj, "target", pred_in);
  Input<T> aux, weight, go;
  if (!aux_obj.is_none()) aux = input_like<T>(aux_obj, aux_name, pred_in);
  if (!weight_obj.is_none()) weight = weight_like<T>(weight_obj, pred_in);
  py::object go_given;
  const double go_scalar = parse_grad_output(grad_output_obj, true, reduction == Reduction::none, reduction, shape,
                                             "pred shape", go_given);
  if (go_given) go = read_in_place<T>(py::reinterpret_borrow<py::array>(go_given));

  const bool want_value = what == kValue || what == kValueAndGrad;
  const bool want_grad = what == kValueAndGrad || what == kGrad || what == kGradHess;
  const bool want_hess = what == kHess || what == kGradHess;
  const bool two_grads = info.aux_differentiable;

  // Outputs: the caller's out= buffers or new arrays; a null pointer means "not requested".
  py::object loss_arr, grad, grad_aux, hess;
  T *loss_ptr = nullptr, *grad_ptr = nullptr, *grad_aux_ptr = nullptr, *hess_ptr = nullptr;
  auto take = [](py::array_t<T> a, py::object& keep, T*& ptr) {
    ptr = a.mutable_data();
    keep = std::move(a);
  };
  if (want_grad) {
    if (out_obj.is_none()) {
      take(new_like<T>(pred_in), grad, grad_ptr);
      if (two_grads) take(new_like<T>(pred_in), grad_aux, grad_aux_ptr);
    } else if (two_grads) {
      if (!py::isinstance<py::tuple>(out_obj) || py::len(out_obj) != 2)
        type_error(std::string("out: ") + info.name + " has two gradients; pass a tuple of two arrays");
      py::tuple t = py::reinterpret_borrow<py::tuple>(out_obj);
      take(checked_out<T>(t[0], pred_in, "out[0]"), grad, grad_ptr);
      take(checked_out<T>(t[1], pred_in, "out[1]"), grad_aux, grad_aux_ptr);
    } else {
      take(checked_out<T>(out_obj, pred_in, "out"), grad, grad_ptr);
    }
  }
  if (want_hess) {
    if (!out_obj.is_none() && what == kHess) take(checked_out<T>(out_obj, pred_in, "out"), hess, hess_ptr);
    else take(new_like<T>(pred_in), hess, hess_ptr);
  }
  if (want_value && reduction == Reduction::none) take(new_like<T>(pred_in), loss_arr, loss_ptr);

  const std::size_t n = std::size_t(pred_in.size());
  {
    const bool tuple_out = two_grads && !out_obj.is_none() && what != kHess;
    refuse_overlaps({extent(tuple_out ? "out[0]" : "out", grad_ptr, n), extent("out[1]", grad_aux_ptr, n),
                     extent("out", hess_ptr, n)},
                    {extent("pred", pred, shape, n), extent("target", target, shape, n),
                     extent(aux_name, aux, shape, n), extent("weight", weight, shape, n),
                     extent("grad_output", go, shape, n)});
  }

  lossfn::ElementwiseCall<T> call;
  call.n = n;
  call.pred = pred.data;
  call.target = target.data;
  call.aux = aux.data;
  call.weight = weight.data;
  call.params = params.data();
  call.reduction = reduction;
  call.grad_output = go_scalar;
  call.grad_output_array = go.data;
  std::vector<std::size_t> extents(shape.begin(), shape.end());
  call.ndim = int(shape.size());
  call.shape = extents.data();
  call.pred_strides = pred.strides_or_null();
  call.target_strides = target.strides_or_null();
  call.aux_strides = aux.strides_or_null();
  call.weight_strides = weight.strides_or_null();
  call.grad_output_strides = go.strides_or_null();
  double value = 0.0;
  if (want_value && reduction != Reduction::none) call.value = &value;
  call.loss = loss_ptr;
  call.grad = grad_ptr;
  call.grad_aux = grad_aux_ptr;
  call.hess = hess_ptr;
  {
    py::gil_scoped_release release;
    lossfn::run(loss, call);
  }

  py::object v = reduction == Reduction::none ? py::object(loss_arr) : py::object(py::float_(value));
  py::object g = two_grads && want_grad ? py::object(py::make_tuple(grad, grad_aux)) : grad;
  switch (what) {
    case kValue: return v;
    case kValueAndGrad: return py::make_tuple(v, g);
    case kGrad: return g;
    case kHess: return hess;
    default: return py::make_tuple(g, hess);
  }
}

py::object elementwise(int loss_id, int what, py::handle pred_obj, py::handle target,
                       py::handle aux, py::handle weight, py::handle grad_output, py::handle out,
                       py::handle params_obj, int reduction) {
  const Params params = parse_params(params_obj);
  if (loss_id < 0 || loss_id >= lossfn::num_losses()) value_error("loss: unknown id");
  const Loss loss = Loss(loss_id);
  if (int(params.size()) != lossfn::loss_info(loss).num_params) value_error("params: wrong count");
  py::array pred = as_numeric_array(pred_obj, "pred");
  if (computes_in_float32(pred))
    return elementwise_t<float>(loss, what, pred, target, aux, weight, grad_output, out, params,
                                Reduction(reduction));
  return elementwise_t<double>(loss, what, pred, target, aux, weight, grad_output, out, params,
                               Reduction(reduction));
}

// --- Row losses (multi-class) and the softmax utilities -----------------------------------------

std::vector<py::ssize_t> shape_of(const py::array& a) { return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()); }

std::string tuple_str(const std::vector<py::ssize_t>& shape) {
  return py::str(py::tuple(py::cast(shape))).cast<std::string>();
}

bool has_shape(const py::array& a, const std::vector<py::ssize_t>& shape) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()) == shape;
}

template <class T>
py::object rows_t(lossfn::RowLoss loss, int what, const py::array& logits_in, int axis, py::handle target_obj,
                  py::handle class_weight_obj, py::handle weight_obj, py::handle grad_output_obj,
                  py::handle out_obj, const Params& params, Reduction reduction,
                  py::handle ignore_index_obj) {
  const lossfn::RowLossInfo& info = lossfn::row_loss_info(loss);
  const bool utility = info.target == lossfn::RowTarget::none;
  const std::vector<py::ssize_t> shape = shape_of(logits_in);
  std::vector<py::ssize_t> batch = shape;
  batch.erase(batch.begin() + axis);
  std::size_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= std::size_t(shape[std::size_t(d)]);
  for (std::size_t d = std::size_t(axis) + 1; d < shape.size(); ++d) inner *= std::size_t(shape[d]);
  carray<T> logits = to_compute<T>(logits_in);

  lossfn::RowCall<T> call;
  call.outer = outer;
  call.classes = std::size_t(shape[std::size_t(axis)]);
  call.inner = inner;
  call.logits = logits.data();
  std::vector<std::size_t> batch_shape(batch.begin(), batch.end());
  call.batch_shape = batch_shape.data();
  call.batch_ndim = int(batch_shape.size());

  // The target: integer labels of the batch shape, or a dense array of the logits' shape.
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> labels;
  carray<T> target;
  if (!utility) {
    py::array t = as_numeric_array(target_obj, "target");
    const bool dense_ok = info.target == lossfn::RowTarget::dense || info.target == lossfn::RowTarget::labels_or_dense;
    const bool labels_ok = info.target == lossfn::RowTarget::labels || info.target == lossfn::RowTarget::labels_or_dense;
    const char kind = t.dtype().kind();
    if (dense_ok && has_shape(t, shape) && !(labels_ok && has_shape(t, batch))) {
      target = to_compute<T>(t);
      call.target = target.data();
    } else if (labels_ok && has_shape(t, batch)) {
      if (kind != 'i' && kind != 'u')
        type_error(std::string("target: integer class labels required, got dtype ") +
                   py::str(t.dtype()).cast<std::string>());
      if (kind == 'u' && t.itemsize() >= 8 && t.size() > 0) {
        // Above 2**63 - 1 a uint64 label would wrap to a negative int64 (and 2**64 - 1 to -1,
        // a common ignore_index): name the first such label instead.
        py::object big = py::module_::import("numpy").attr("flatnonzero")(
            t.attr("__gt__")(py::int_(std::numeric_limits<std::int64_t>::max())));
        if (py::len(big) > 0) {
          const std::size_t flat = big.attr("__getitem__")(0).cast<std::size_t>();
          py::tuple index = py::module_::import("numpy").attr("unravel_index")(flat, t.attr("shape"));
          std::vector<std::size_t> idx;
          for (py::handle k : index) idx.push_back(k.cast<std::size_t>());
          value_error(std::string(info.name) + ": target label " +
                      py::str(t.attr("__getitem__")(index)).cast<std::string>() + " at index " +
                      py::str(py::tuple(py::cast(idx))).cast<std::string>() + " is outside [0, " +
                      std::to_string(call.classes) + ")");
        }
      }
      labels = to_compute<std::int64_t>(t);
      call.labels = labels.data();
    } else {
      std::string expected = labels_ok && dense_ok ? "neither the label shape " + tuple_str(batch) + " nor the logits shape " + tuple_str(shape)
                             : labels_ok ? "not the label shape " + tuple_str(batch) + " (the logits shape " + tuple_str(shape) + " without axis " + std::to_string(axis) + ")"
                                         : "not the logits shape " + tuple_str(shape);
      value_error("target: shape " + shape_str(t) + " is " + expected);
    }
  }

  std::vector<double> class_weight;
  if (!class_weight_obj.is_none()) {
    const char* name = info.class_weight_name ? info.class_weight_name : "class_weight";
    py::array a = as_numeric_array(class_weight_obj, name);
    if (a.ndim() != 1 || std::size_t(a.shape(0)) != call.classes)
      value_error(std::string(name) + ": expected a 1-D array of length " + std::to_string(call.classes) +
                  " (the number of classes), got shape " + shape_str(a));
    carray<double> cw = to_compute<double>(a);
    class_weight.assign(cw.data(), cw.data() + cw.size());
    call.class_weight = class_weight.data();
  }

  carray<T> weight, go_array;
  if (!weight_obj.is_none()) {
    py::array a = as_numeric_array(weight_obj, "weight");
    if (!has_shape(a, batch)) {
      try {
        a = py::module_::import("numpy").attr("broadcast_to")(a, py::tuple(py::cast(batch)));
      } catch (py::error_already_set&) {
        std::string hint;
        if (a.ndim() == 1 && std::size_t(a.shape(0)) == call.classes && info.class_weight_name)
          hint = std::string(" (weight= is one weight per sample; a weight per class, as torch's CrossEntropyLoss(weight=) "
                             "takes it, goes in ") + info.class_weight_name + "=)";
        value_error("weight: shape " + shape_str(a) + " cannot be broadcast to the batch shape " + tuple_str(batch) + hint);
      }
    }
    weight = to_compute<T>(a);
    call.weight = weight.data();
  }
  if (!ignore_index_obj.is_none()) {
    call.has_ignore_index = true;
    call.ignore_index = ignore_index_obj.cast<std::int64_t>();
  }

  const std::vector<py::ssize_t>& out_shape = info.full_output ? shape : batch;
  py::object go;
  call.grad_output = parse_grad_output(grad_output_obj, !utility, utility || reduction == Reduction::none,
                                       reduction, out_shape, "the output shape", go);
  if (go) {
    go_array = to_compute<T>(py::reinterpret_borrow<py::array>(go));
    call.grad_output_array = go_array.data();
  }
  call.params = params.data();
  call.reduction = reduction;

  const bool want_value = what == kValue || what == kValueAndGrad;
  const bool want_grad = what == kValueAndGrad || what == kGrad;
  py::object grad, value_arr;
  if (want_grad) {
    py::array_t<T> g;
    if (out_obj.is_none()) {
      g = py::array_t<T>(shape);
    } else {
      g = checked_out<T>(out_obj, shape, "out", "logits");
    }
    call.grad = g.mutable_data();
    grad = std::move(g);
  }
  {
    const std::size_t n = std::size_t(logits.size());
    refuse_overlaps({extent("out", call.grad, n)},
                    {extent(utility ? "x" : "logits", call.logits, n), extent("target", call.target, call.target ? n : 0),
                     extent("target", call.labels, call.labels ? std::size_t(labels.size()) : 0),
                     extent("weight", call.weight, call.weight ? std::size_t(weight.size()) : 0),
                     extent("grad_output", call.grad_output_array,
                            call.grad_output_array ? std::size_t(go_array.size()) : 0)});
  }
  double value = 0.0;
  if (want_value) {
    if (utility || reduction == Reduction::none) {
      py::array_t<T> v(out_shape);
      call.loss = v.mutable_data();
      value_arr = std::move(v);
    } else {
      call.value = &value;
    }
  }
  {
    py::gil_scoped_release release;
    lossfn::run(loss, call);
  }
  py::object v = value_arr ? value_arr : py::object(py::float_(value));
  if (what == kValue) return v;
  if (what == kValueAndGrad) return py::make_tuple(v, grad);
  return grad;
}

py::object rows(int loss_id, int what, py::handle logits_obj, int axis, py::handle target, py::handle class_weight,
                py::handle weight, py::handle grad_output, py::handle out, py::handle params_obj,
                int reduction, py::handle ignore_index) {
  const Params params = parse_params(params_obj);
  if (loss_id < 0 || loss_id >= lossfn::num_row_losses()) value_error("loss: unknown id");
  const lossfn::RowLoss loss = lossfn::RowLoss(loss_id);
  const lossfn::RowLossInfo& info = lossfn::row_loss_info(loss);
  if (int(params.size()) != info.num_params) value_error("params: wrong count");
  py::array logits = as_numeric_array(logits_obj, "logits");
  if (logits.ndim() == 0) value_error(std::string(info.name) + ": logits: needs at least one dimension (the class axis)");
  if (axis < -logits.ndim() || axis >= logits.ndim())
    value_error("axis: " + std::to_string(axis) + " is out of range for logits with " + std::to_string(logits.ndim()) +
                " dimensions");
  if (axis < 0) axis += int(logits.ndim());
  if (computes_in_float32(logits))
    return rows_t<float>(loss, what, logits, axis, target, class_weight, weight, grad_output, out, params,
                         Reduction(reduction), ignore_index);
  return rows_t<double>(loss, what, logits, axis, target, class_weight, weight, grad_output, out, params,
                        Reduction(reduction), ignore_index);
}

// Integers (labels, lengths) of any integer dtype, as a C-contiguous int64 array. A uint64
// above 2**63 - 1 would wrap to a negative value: it is named instead.
py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> int64_input(py::handle obj, const char* name) {
  py::array a = as_numeric_array(obj, name);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u' && a.size() > 0)
    type_error(std::string(name) + ": integers required, got dtype " + py::str(a.dtype()).cast<std::string>());
  if (kind == 'u' && a.itemsize() >= 8 && a.size() > 0 &&
      a.attr("max")().cast<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
    value_error(std::string(name) + ": " + py::str(a.attr("max")()).cast<std::string>() + " is beyond the int64 range");
  return to_compute<std::int64_t>(a);
}

// The upstream gradient of a call with a reduction: a scalar, or (reduction none) an array of
// the losses' shape kept alive in `keep`.
template <class T, class Call>
void set_upstream(Call& call, py::handle obj, Reduction reduction, const std::vector<py::ssize_t>& losses_shape,
                  const char* shape_name, carray<T>& keep) {
  py::object go;
  call.grad_output = parse_grad_output(obj, true, reduction == Reduction::none, reduction, losses_shape, shape_name, go);
  if (go) {
    keep = to_compute<T>(py::reinterpret_borrow<py::array>(go));
    call.grad_output_array = keep.data();
  }
  call.reduction = reduction;
}

// Sets the value outputs `what` asks for on `call` (a float, or the losses for reduction none),
// runs `kernel` with the GIL released and returns what Python gets: the value, the gradient or
// both.
template <class T, class Call, class Kernel>
py::object run_reduced(Call& call, int what, Reduction reduction, const std::vector<py::ssize_t>& losses_shape,
                       const py::object& grad, Kernel&& kernel) {
  double value = 0.0;
  py::object values;
  if (what == kValue || what == kValueAndGrad) {
    if (reduction == Reduction::none) {
      py::array_t<T> v(losses_shape);
      call.loss = v.mutable_data();
      values = std::move(v);
    } else {
      call.value = &value;
    }
  }
  {
    py::gil_scoped_release release;
    kernel();
  }
  py::object v = values ? values : py::object(py::float_(value));
  if (what == kValue) return v;
  if (what == kValueAndGrad) return py::make_tuple(v, grad);
  return grad;
}

// CTC: log_probs (T, N, C), or (N, T, C) with batch_first, read in place through its strides.
template <class T>
py::object ctc_t(int what, const py::array& scores_in, py::handle targets_obj, py::handle input_lengths_obj,
                 py::handle target_lengths_obj, std::int64_t blank, bool zero_infinity, bool from_logits,
                 bool batch_first, Reduction reduction, py::handle grad_output_obj, py::handle out_obj) {
  const std::vector<py::ssize_t> shape = shape_of(scores_in);
  const int time_axis = batch_first ? 1 : 0, batch_axis = batch_first ? 0 : 1;
  const std::size_t frames = std::size_t(shape[std::size_t(time_axis)]), N = std::size_t(shape[std::size_t(batch_axis)]);
  Input<T> scores = read_in_place<T>(scores_in);
  const std::ptrdiff_t logical[3] = {std::ptrdiff_t(shape[1] * shape[2]), std::ptrdiff_t(shape[2]), 1};
  const std::ptrdiff_t* in_strides = scores.strides.empty() ? logical : scores.strides.data();
  std::ptrdiff_t strides[3] = {in_strides[time_axis], in_strides[batch_axis], in_strides[2]};
  std::ptrdiff_t grad_strides[3] = {logical[time_axis], logical[batch_axis], logical[2]};

  lossfn::CtcCall<T> call;
  call.max_time = frames;
  call.batch = N;
  call.classes = std::size_t(shape[2]);
  call.log_probs = scores.data;
  call.strides = strides;
  call.grad_strides = grad_strides;

  auto targets = int64_input(targets_obj, "targets");
  if (targets.ndim() == 2) {
    if (std::size_t(targets.shape(0)) != N)
      value_error("targets: padded targets of shape " + shape_str(targets) + " do not have one row per sample (" +
                  std::to_string(N) + ")");
    call.targets_width = std::size_t(targets.shape(1));
  } else if (targets.ndim() != 1) {
    value_error("targets: expected padded (N, S) or concatenated 1-D targets, got shape " + shape_str(targets));
  }
  call.targets = targets.data();
  call.targets_size = std::size_t(targets.size());
  auto lengths = [&](py::handle obj, const char* name) {
    auto a = int64_input(obj, name);
    if (a.ndim() != 1 || std::size_t(a.shape(0)) != N)
      value_error(std::string(name) + ": expected one length per sample (shape (" + std::to_string(N) + ",)), got shape " +
                  shape_str(a));
    return a;
  };
  auto input_lengths = lengths(input_lengths_obj, "input_lengths");
  auto target_lengths = lengths(target_lengths_obj, "target_lengths");
  call.input_lengths = input_lengths.data();
  call.target_lengths = target_lengths.data();

  const std::vector<py::ssize_t> per_sample{py::ssize_t(N)};
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, per_sample, "the per-sample losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    py::array_t<T> g = out_obj.is_none() ? py::array_t<T>(shape) : checked_out<T>(out_obj, shape, "out", "log_probs");
    call.grad = g.mutable_data();
    grad = std::move(g);
    const std::size_t n = std::size_t(scores_in.size());
    refuse_overlaps({extent("out", call.grad, n)},
                    {extent("log_probs", scores, shape, n), extent("targets", call.targets, std::size_t(targets.size())),
                     extent("input_lengths", call.input_lengths, N), extent("target_lengths", call.target_lengths, N),
                     extent("grad_output", call.grad_output_array, call.grad_output_array ? N : 0)});
  }
  lossfn::Ctc options;
  options.blank = blank;
  options.zero_infinity = zero_infinity;
  options.from_logits = from_logits;
  return run_reduced<T>(call, what, reduction, per_sample, grad, [&] { lossfn::ctc(call, options); });
}

py::object ctc(int what, py::handle scores_obj, py::handle targets, py::handle input_lengths,
               py::handle target_lengths, std::int64_t blank, bool zero_infinity, bool from_logits,
               bool batch_first, int reduction, py::handle grad_output, py::handle out) {
  py::array scores = as_numeric_array(scores_obj, "log_probs");
  if (scores.ndim() != 3)
    value_error(std::string("log_probs: expected ") + (batch_first ? "(N, T, C)" : "(T, N, C)") +
                " scores (or unbatched (T, C)), got shape " + shape_str(scores));
  if (computes_in_float32(scores))
    return ctc_t<float>(what, scores, targets, input_lengths, target_lengths, blank, zero_infinity, from_logits,
                        batch_first, Reduction(reduction), grad_output, out);
  return ctc_t<double>(what, scores, targets, input_lengths, target_lengths, blank, zero_infinity, from_logits,
                       batch_first, Reduction(reduction), grad_output, out);
}

// The fields every catalogue entry shares: id, name, family, parameter names and defaults.
// Overlap losses: pred (batch, ..., classes, ...) with the class axis `axis` (>= 1), or no class
// axis (axis < 0: one class, the pixels are everything after the batch axis); read as the
// C-contiguous (batch, outer, classes, inner) of lossfn::SegmentCall.
template <class T>
py::object overlap_t(lossfn::Overlap loss, int what, const py::array& pred_in, int axis, py::handle target_obj,
                     py::handle weight_obj, py::handle class_weight_obj, const lossfn::OverlapOptions& options_in,
                     bool from_logits, Reduction reduction, py::handle grad_output_obj, py::handle out_obj) {
  const char* name = lossfn::overlap_name(loss);
  lossfn::OverlapOptions options = options_in;
  const std::vector<py::ssize_t> shape = shape_of(pred_in);
  std::vector<py::ssize_t> pixel_shape = shape;
  lossfn::SegmentCall<T> call;
  call.batch = std::size_t(shape[0]);
  call.outer = 1;
  call.classes = 1;
  call.inner = 1;
  if (axis < 0) {
    for (std::size_t d = 1; d < shape.size(); ++d) call.inner *= std::size_t(shape[d]);
  } else {
    pixel_shape.erase(pixel_shape.begin() + axis);
    for (int d = 1; d < axis; ++d) call.outer *= std::size_t(shape[std::size_t(d)]);
    call.classes = std::size_t(shape[std::size_t(axis)]);
    for (std::size_t d = std::size_t(axis) + 1; d < shape.size(); ++d) call.inner *= std::size_t(shape[d]);
  }
  const std::size_t C = call.classes;
  if (C == 0) value_error(std::string(name) + ": pred: the class axis " + std::to_string(axis) + " has length 0");
  // Logits: a sigmoid for one class (and for bce_dice's binary cross-entropy, per class), else a
  // softmax over the classes.
  options.activation = !from_logits                               ? lossfn::Activation::none
                       : C == 1 || loss == lossfn::Overlap::bce_dice ? lossfn::Activation::sigmoid
                                                                    : lossfn::Activation::softmax;
  carray<T> pred = to_compute<T>(pred_in);
  call.pred = pred.data();

  // The target: masks of pred's shape (or, with one class, of the pixel shape), or integer labels
  // of the pixel shape.
  py::array t = as_numeric_array(target_obj, "target");
  carray<T> target;
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> labels;
  if (has_shape(t, shape) || (C == 1 && has_shape(t, pixel_shape))) {
    target = to_compute<T>(t);
    call.target = target.data();
  } else if (has_shape(t, pixel_shape)) {
    const char kind = t.dtype().kind();
    if (kind != 'i' && kind != 'u')
      type_error("target: a target of the pixel shape " + tuple_str(pixel_shape) +
                 " holds class labels and needs an integer dtype, got " + py::str(t.dtype()).cast<std::string>() +
                 " (masks have pred's shape " + tuple_str(shape) + ")");
    labels = int64_input(t, "target");
    call.labels = labels.data();
  } else {
    value_error("target: shape " + shape_str(t) + " is neither pred's shape " + tuple_str(shape) +
                " (masks) nor the pixel shape " + tuple_str(pixel_shape) + " (" +
                (C == 1 ? std::string("a one-class mask") : "integer labels") + ")");
  }

  carray<T> weight;
  if (!weight_obj.is_none()) {
    py::array a = as_numeric_array(weight_obj, "weight");
    if (!has_shape(a, pixel_shape)) {
      try {
        a = py::module_::import("numpy").attr("broadcast_to")(a, py::tuple(py::cast(pixel_shape)));
      } catch (py::error_already_set&) {
        value_error("weight: shape " + shape_str(a) + " cannot be broadcast to the pixel shape " + tuple_str(pixel_shape));
      }
    }
    weight = to_compute<T>(a);
    call.weight = weight.data();
  }
  std::vector<double> class_weight;
  if (!class_weight_obj.is_none()) {
    py::array a = as_numeric_array(class_weight_obj, "class_weight");
    if (a.ndim() != 1 || std::size_t(a.shape(0)) != C)
      value_error("class_weight: expected a 1-D array of length " + std::to_string(C) +
                  " (the number of classes), got shape " + shape_str(a));
    carray<double> cw = to_compute<double>(a);
    class_weight.assign(cw.data(), cw.data() + cw.size());
    call.class_weight = class_weight.data();
  }

  std::vector<py::ssize_t> out_shape;
  if (options.per_sample) out_shape.push_back(shape[0]);
  if (options.per_class) out_shape.push_back(py::ssize_t(C));
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, out_shape, "the losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    py::array_t<T> g = out_obj.is_none() ? py::array_t<T>(shape) : checked_out<T>(out_obj, shape, "out", "pred");
    call.grad = g.mutable_data();
    grad = std::move(g);
    const std::size_t n = std::size_t(pred.size()), pixels = n / C;
    refuse_overlaps({extent("out", call.grad, n)},
                    {extent("pred", call.pred, n), extent("target", call.target, call.target ? n : 0),
                     extent("target", call.labels, call.labels ? pixels : 0),
                     extent("weight", call.weight, call.weight ? pixels : 0),
                     extent("grad_output", call.grad_output_array, call.grad_output_array ? std::size_t(go_array.size()) : 0)});
  }
  return run_reduced<T>(call, what, reduction, out_shape, grad, [&] { lossfn::overlap(loss, call, options); });
}

py::object overlap(int loss_id, int what, py::handle pred_obj, py::handle axis_obj, py::handle target,
                   py::handle weight, py::handle class_weight, double smooth, double alpha, double beta, double gamma,
                   double w_bce, double w_dice, bool squared, bool per_sample, bool per_class, bool from_logits, py::handle ignore_index,
                   int reduction, py::handle grad_output, py::handle out) {
  if (loss_id < 0 || loss_id >= int(lossfn::Overlap::count_)) value_error("loss: unknown id");
  const lossfn::Overlap loss = lossfn::Overlap(loss_id);
  py::array pred = as_numeric_array(pred_obj, "pred");
  if (pred.ndim() == 0) value_error(std::string(lossfn::overlap_name(loss)) + ": pred: needs a batch axis");
  int axis = -1;
  if (!axis_obj.is_none()) {
    const long a = axis_obj.cast<long>();
    if (a < -pred.ndim() || a >= pred.ndim())
      value_error("axis: " + std::to_string(a) + " is out of range for pred with " + std::to_string(pred.ndim()) +
                  " dimensions");
    axis = int(a < 0 ? a + pred.ndim() : a);
    if (axis == 0) value_error("axis: the class axis cannot be axis 0, the batch axis (axis=None: no class axis)");
  }
  lossfn::OverlapOptions o;
  o.smooth = smooth, o.alpha = alpha, o.beta = beta, o.gamma = gamma, o.w_bce = w_bce, o.w_dice = w_dice;
  o.squared = squared, o.per_sample = per_sample, o.per_class = per_class;
  if (!ignore_index.is_none()) {
    o.has_ignore_index = true;
    o.ignore_index = ignore_index.cast<std::int64_t>();
  }
  if (computes_in_float32(pred))
    return overlap_t<float>(loss, what, pred, axis, target, weight, class_weight, o, from_logits, Reduction(reduction),
                            grad_output, out);
  return overlap_t<double>(loss, what, pred, axis, target, weight, class_weight, o, from_logits, Reduction(reduction),
                           grad_output, out);
}

// The Lovász hinge: logits (batch, ...) and masks of the same shape, integers (read as int64
// labels) or numbers (read as the logits' type); C-contiguous copies where needed.
template <class T>
py::object lovasz_hinge_t(int what, const py::array& logits_in, py::handle masks_obj, bool per_sample,
                          py::handle ignore_index, Reduction reduction, py::handle grad_output_obj, py::handle out_obj) {
  const std::vector<py::ssize_t> shape = shape_of(logits_in);
  lossfn::LovaszCall<T> call;
  call.batch = std::size_t(shape[0]);
  call.pixels = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) call.pixels *= std::size_t(shape[d]);
  carray<T> logits = to_compute<T>(logits_in);
  call.logits = logits.data();
  py::array m = as_numeric_array(masks_obj, "masks");
  if (!has_shape(m, shape))
    value_error("masks: shape " + shape_str(m) + " is not the logits' shape " + tuple_str(shape));
  carray<T> masks;
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> labels;
  const char kind = m.dtype().kind();
  if (kind == 'i' || kind == 'u') {
    labels = int64_input(m, "masks");
    call.labels = labels.data();
  } else {
    masks = to_compute<T>(m);
    call.masks = masks.data();
  }
  lossfn::LovaszOptions options;
  options.per_sample = per_sample;
  if (!ignore_index.is_none()) {
    options.has_ignore_index = true;
    options.ignore_index = ignore_index.cast<std::int64_t>();
  }
  std::vector<py::ssize_t> out_shape;
  if (per_sample) out_shape.push_back(shape[0]);
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, out_shape, "the losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    py::array_t<T> g = out_obj.is_none() ? py::array_t<T>(shape) : checked_out<T>(out_obj, shape, "out", "logits");
    call.grad = g.mutable_data();
    grad = std::move(g);
    const std::size_t n = std::size_t(logits.size());
    refuse_overlaps({extent("out", call.grad, n)},
                    {extent("logits", call.logits, n), extent("masks", call.masks, call.masks ? n : 0),
                     extent("masks", call.labels, call.labels ? n : 0),
                     extent("grad_output", call.grad_output_array, call.grad_output_array ? std::size_t(go_array.size()) : 0)});
  }
  return run_reduced<T>(call, what, reduction, out_shape, grad, [&] { lossfn::lovasz_hinge(call, options); });
}

py::object lovasz_hinge(int what, py::handle logits_obj, py::handle masks, bool per_sample, py::handle ignore_index,
                        int reduction, py::handle grad_output, py::handle out) {
  py::array logits = as_numeric_array(logits_obj, "logits");
  if (logits.ndim() == 0) value_error("lovasz_hinge: logits: needs a batch axis");
  if (computes_in_float32(logits))
    return lovasz_hinge_t<float>(what, logits, masks, per_sample, ignore_index, Reduction(reduction), grad_output, out);
  return lovasz_hinge_t<double>(what, logits, masks, per_sample, ignore_index, Reduction(reduction), grad_output, out);
}

// Image losses (ssim, ms_ssim, total_variation): x (and y, the SSIMs', of x's shape) 4-D with the
// channels at channel_axis (1: NCHW, 3: NHWC), read in place through their strides in
// (N, C, H, W) order; the gradients C-contiguous of x's shape (out: an array, or
// (grad_x, grad_y) with grad_y). run(call) calls the loss.
template <class T, class Run>
py::object image_t(bool is_ssim, int what, const py::array& x_in, py::handle y_obj, int channel_axis,
                   bool with_grad_y, Reduction reduction, py::handle grad_output_obj, py::handle out_obj, Run run) {
  const std::vector<py::ssize_t> shape = shape_of(x_in);
  const int order[4] = {0, channel_axis, channel_axis == 1 ? 2 : 1, channel_axis == 1 ? 3 : 2};
  const std::ptrdiff_t logical[4] = {std::ptrdiff_t(shape[1] * shape[2] * shape[3]), std::ptrdiff_t(shape[2] * shape[3]),
                                     std::ptrdiff_t(shape[3]), 1};
  auto nchw = [&](const std::ptrdiff_t* strides, std::ptrdiff_t* to) {
    for (int k = 0; k < 4; ++k) to[k] = strides[order[k]];
  };
  lossfn::ImageCall<T> call;
  call.batch = std::size_t(shape[0]);
  call.channels = std::size_t(shape[std::size_t(order[1])]);
  call.height = std::size_t(shape[std::size_t(order[2])]);
  call.width = std::size_t(shape[std::size_t(order[3])]);
  Input<T> x = read_in_place<T>(x_in);
  std::ptrdiff_t x_strides[4], y_strides[4], grad_strides[4];
  nchw(x.strides.empty() ? logical : x.strides.data(), x_strides);
  nchw(logical, grad_strides);
  call.x = x.data;
  call.strides = x_strides;
  call.grad_strides = grad_strides;
  Input<T> y;
  const std::size_t n = std::size_t(x_in.size());
  if (is_ssim) {
    y = input_like<T>(y_obj, "y", x_in, "x");
    nchw(y.strides.empty() ? logical : y.strides.data(), y_strides);
    call.y = y.data;
    call.y_strides = y_strides;
  }
  const std::vector<py::ssize_t> per_image{shape[0]};
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, per_image, "the per-image losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    const bool pair = with_grad_y;
    if (pair && !out_obj.is_none() && !(py::isinstance<py::tuple>(out_obj) && py::len(out_obj) == 2))
      type_error("out: expected a tuple of two arrays (grad_x, grad_y)");
    auto out_at = [&](int k) { return pair ? py::reinterpret_borrow<py::tuple>(out_obj)[k] : out_obj; };
    py::array_t<T> gx = out_obj.is_none() ? py::array_t<T>(shape) : checked_out<T>(out_at(0), shape, pair ? "out[0]" : "out", "x");
    call.grad = gx.mutable_data();
    std::vector<Extent> outputs{extent(pair ? "out[0]" : "out", call.grad, n)};
    if (pair) {
      py::array_t<T> gy = out_obj.is_none() ? py::array_t<T>(shape) : checked_out<T>(out_at(1), shape, "out[1]", "x");
      call.grad_y = gy.mutable_data();
      outputs.push_back(extent("out[1]", call.grad_y, n));
      grad = py::make_tuple(gx, gy);
    } else {
      grad = std::move(gx);
    }
    refuse_overlaps(outputs, {extent("x", x, shape, n), extent("y", y, shape, is_ssim ? n : 0),
                              extent("grad_output", call.grad_output_array,
                                     call.grad_output_array ? std::size_t(go_array.size()) : 0)});
  }
  return run_reduced<T>(call, what, reduction, per_image, grad, [&] { run(call); });
}

// The image's array: 4-D, channels at axis 1 or -1 (3).
py::array image_input(py::handle x_obj, int& channel_axis) {
  py::array x = as_numeric_array(x_obj, "x");
  if (x.ndim() != 4)
    value_error("x: expected images (N, C, H, W) (or (N, H, W, C) with channel_axis=-1), got shape " + shape_str(x));
  if (channel_axis < 0) channel_axis += 4;
  if (channel_axis != 1 && channel_axis != 3)
    value_error("channel_axis: must be 1 (NCHW) or -1 (NHWC), got " + std::to_string(channel_axis));
  return x;
}

py::object ssim(int what, py::handle x_obj, py::handle y_obj, int channel_axis, double data_range,
                std::int64_t win_size, double sigma, double k1, double k2, bool gaussian_weights,
                bool use_sample_covariance, std::optional<std::vector<double>> weights, bool with_grad_y,
                int reduction, py::handle grad_output, py::handle out) {
  py::array x = image_input(x_obj, channel_axis);
  lossfn::SsimOptions o;
  o.data_range = data_range, o.win_size = win_size, o.sigma = sigma, o.k1 = k1, o.k2 = k2;
  o.gaussian_weights = gaussian_weights, o.use_sample_covariance = use_sample_covariance;
  // weights given: MS-SSIM over len(weights) levels.
  lossfn::MsSsimOptions ms;
  ms.ssim = o;
  if (weights) ms.weights = weights->data(), ms.levels = weights->size();
  auto call = [&](auto t) {
    using T = decltype(t);
    return image_t<T>(true, what, x, y_obj, channel_axis, with_grad_y, Reduction(reduction), grad_output, out,
                      [&](const lossfn::ImageCall<T>& c) {
                        if (weights) lossfn::ms_ssim(c, ms);
                        else lossfn::ssim(c, o);
                      });
  };
  return computes_in_float32(x) ? call(float{}) : call(double{});
}

py::object total_variation(int what, py::handle x_obj, int channel_axis, bool isotropic, int reduction,
                           py::handle grad_output, py::handle out) {
  py::array x = image_input(x_obj, channel_axis);
  lossfn::TotalVariationOptions o;
  o.isotropic = isotropic;
  auto call = [&](auto t) {
    using T = decltype(t);
    return image_t<T>(false, what, x, py::none(), channel_axis, false, Reduction(reduction), grad_output, out,
                      [&](const lossfn::ImageCall<T>& c) { lossfn::total_variation(c, o); });
  };
  return computes_in_float32(x) ? call(float{}) : call(double{});
}

// Perceptual losses: sequences of feature maps (N, C, ...) of x and y, one per layer, each read in
// place through its strides as (N, C, 1, P) or (N, C, H, W) (more spatial axes are merged, with a
// copy where NumPy must); the gradients C-contiguous, one per layer, of x's shapes (out: a list
// or tuple of them).
py::array feature_map(py::handle obj, const std::string& name) {
  py::array a = as_numeric_array(obj, name.c_str());
  if (a.ndim() < 2) value_error(name + ": expected feature maps (N, C, ...), got shape " + shape_str(a));
  if (a.ndim() == 4) return a;
  std::vector<py::ssize_t> shape{a.shape(0), a.shape(1), 1, 1};
  for (py::ssize_t k = 2; k < a.ndim(); ++k) shape[3] *= a.shape(k);
  return a.attr("reshape")(py::tuple(py::cast(shape)));
}

std::vector<py::handle> layer_list(py::handle obj, const char* name) {
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj))
    type_error(std::string(name) + ": expected a list of arrays (one per layer), got " +
               py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  std::vector<py::handle> out;
  for (py::handle h : obj) out.push_back(h);
  return out;
}

template <class T>
py::object perceptual_t(int what, const std::vector<py::array>& xs_in, const std::vector<py::array>& ys_in,
                        const std::vector<std::vector<py::ssize_t>>& shapes,
                        const std::optional<std::vector<double>>& layer_weights, bool gram, Reduction reduction,
                        py::handle grad_output_obj, py::handle out_obj) {
  const std::size_t L = xs_in.size();
  const py::ssize_t N = xs_in[0].shape(0);
  std::vector<Input<T>> xs(L), ys(L);
  std::vector<std::array<std::ptrdiff_t, 4>> x_strides(L), y_strides(L);
  std::vector<lossfn::FeatureLayer<T>> layers(L);
  std::vector<Extent> inputs;
  for (std::size_t l = 0; l < L; ++l) {
    const std::string at = "[" + std::to_string(l) + "]";
    const py::array& x4 = xs_in[l];
    if (x4.shape(0) != N)
      value_error("features_x" + at + ": a batch of " + std::to_string(x4.shape(0)) + " images, features_x[0] has " +
                  std::to_string(N));
    const py::array& y4 = ys_in[l];
    const std::vector<py::ssize_t> shape = shape_of(x4);
    const std::ptrdiff_t logical[4] = {std::ptrdiff_t(shape[1] * shape[2] * shape[3]), std::ptrdiff_t(shape[2] * shape[3]),
                                       std::ptrdiff_t(shape[3]), 1};
    xs[l] = read_in_place<T>(x4);
    ys[l] = read_in_place<T>(y4);
    for (int k = 0; k < 4; ++k) {
      x_strides[l][k] = xs[l].strides.empty() ? logical[k] : xs[l].strides[std::size_t(k)];
      y_strides[l][k] = ys[l].strides.empty() ? logical[k] : ys[l].strides[std::size_t(k)];
    }
    lossfn::FeatureLayer<T>& layer = layers[l];
    layer.channels = std::size_t(shape[1]), layer.height = std::size_t(shape[2]), layer.width = std::size_t(shape[3]);
    layer.x = xs[l].data, layer.x_strides = x_strides[l].data();
    layer.y = ys[l].data, layer.y_strides = y_strides[l].data();
    const std::size_t n = std::size_t(x4.size());
    inputs.push_back(extent("features_x" + at, xs[l], shape, n));
    inputs.push_back(extent("features_y" + at, ys[l], shape, n));
  }
  lossfn::PerceptualCall<T> call;
  call.batch = std::size_t(N);
  call.layers = layers.data();
  call.num_layers = L;
  if (layer_weights) {
    if (layer_weights->size() != L)
      value_error("layer_weights: " + std::to_string(layer_weights->size()) + " weights for " + std::to_string(L) +
                  " layers");
    call.layer_weights = layer_weights->data();
  }
  const std::vector<py::ssize_t> per_image{N};
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, per_image, "the per-image losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    std::vector<py::handle> outs;
    if (!out_obj.is_none()) {
      outs = layer_list(out_obj, "out");
      if (outs.size() != L)
        value_error("out: " + std::to_string(outs.size()) + " arrays for " + std::to_string(L) + " layers");
    }
    py::list grads;
    std::vector<Extent> outputs;
    inputs.push_back(extent("grad_output", call.grad_output_array,
                            call.grad_output_array ? std::size_t(go_array.size()) : 0));
    for (std::size_t l = 0; l < L; ++l) {
      const std::string at = "[" + std::to_string(l) + "]";
      const std::vector<py::ssize_t>& shape = shapes[l];  // x's own, before its spatial axes were merged
      py::array_t<T> g = outs.empty() ? py::array_t<T>(shape)
                                      : checked_out<T>(outs[l], shape, ("out" + at).c_str(), ("features_x" + at).c_str());
      layers[l].grad = g.mutable_data();
      outputs.push_back(extent("out" + at, layers[l].grad, std::size_t(g.size())));
      grads.append(std::move(g));
    }
    refuse_overlaps(outputs, inputs);
    grad = std::move(grads);
  }
  lossfn::PerceptualOptions o;
  o.gram = gram;
  return run_reduced<T>(call, what, reduction, per_image, grad, [&] { lossfn::perceptual(call, o); });
}

py::object perceptual(int what, py::handle xs_obj, py::handle ys_obj, std::optional<std::vector<double>> layer_weights,
                      bool gram, int reduction, py::handle grad_output, py::handle out) {
  const std::vector<py::handle> xs_list = layer_list(xs_obj, "features_x"), ys_list = layer_list(ys_obj, "features_y");
  if (xs_list.empty()) value_error("features_x: needs at least one layer");
  if (ys_list.size() != xs_list.size())
    value_error("features_y: " + std::to_string(ys_list.size()) + " layers, features_x has " +
                std::to_string(xs_list.size()));
  std::vector<py::array> xs, ys;
  std::vector<std::vector<py::ssize_t>> shapes;
  bool float32 = true;
  for (std::size_t l = 0; l < xs_list.size(); ++l) {
    const std::string at = "[" + std::to_string(l) + "]";
    py::array x = as_numeric_array(xs_list[l], ("features_x" + at).c_str());
    py::array y = as_numeric_array(ys_list[l], ("features_y" + at).c_str());
    if (!same_shape(x, y))
      value_error("features_y" + at + ": shape " + shape_str(y) + " does not match features_x" + at + " shape " +
                  shape_str(x) + " (no broadcasting)");
    shapes.push_back(shape_of(x));
    xs.push_back(feature_map(x, "features_x" + at));
    ys.push_back(feature_map(y, "features_y" + at));
    float32 = float32 && computes_in_float32(x);
  }
  if (float32)
    return perceptual_t<float>(what, xs, ys, shapes, layer_weights, gram, Reduction(reduction), grad_output, out);
  return perceptual_t<double>(what, xs, ys, shapes, layer_weights, gram, Reduction(reduction), grad_output, out);
}

// Metric-learning losses on given pairs and triplets: `names` the loss's inputs in order (the
// last one the labels, unless the loss takes none); rows (N, D) or one row (D,), or for the
// elementwise ones (one value per sample) any shape; every input converted to a C-contiguous
// array of the compute dtype (the prediction's). The gradients w.r.t. the float inputs but the
// labels, C-contiguous of the first input's shape: a tuple (out: a tuple or list of arrays), or
// one array when the loss has one.
// info_nce goes the same way (two views, no labels), with its own kernel: `run` calls it.
template <class T, class Run>
py::object pair_t(bool one_value, int what, const py::array& a_in, const std::vector<py::handle>& others,
                  const std::vector<std::string>& names, bool has_labels, Reduction reduction, py::handle grad_output_obj,
                  py::handle out_obj, Run run) {
  const std::vector<py::ssize_t> shape = shape_of(a_in);
  std::vector<py::ssize_t> per_sample;
  std::size_t N, D;
  if (one_value) {
    per_sample = shape;
    N = std::size_t(a_in.size()), D = 1;
  } else {
    if (a_in.ndim() != 1 && a_in.ndim() != 2)
      value_error(names[0] + ": expected rows (N, D) or one row (D,), got shape " + shape_str(a_in));
    if (a_in.ndim() == 2) per_sample = {shape[0]};
    N = a_in.ndim() == 2 ? std::size_t(shape[0]) : 1;
    D = std::size_t(shape.back());
  }
  const std::size_t floats = others.size() - (has_labels ? 1 : 0);
  std::vector<carray<T>> arrays{to_compute<T>(a_in)};
  for (std::size_t k = 0; k < others.size(); ++k) {
    py::array x = as_numeric_array(others[k], names[k + 1].c_str());
    const bool labels = has_labels && k + 1 == others.size();
    const std::vector<py::ssize_t>& want = labels ? per_sample : shape;
    if (shape_of(x) != want)
      value_error(names[k + 1] + ": shape " + shape_str(x) + " does not match " +
                  (labels ? "the samples' shape " + tuple_str(want) : names[0] + " shape " + shape_str(a_in)) +
                  " (no broadcasting)");
    arrays.push_back(to_compute<T>(x));
  }
  lossfn::PairCall<T> call;
  call.samples = N, call.features = D;
  call.a = arrays[0].data();
  if (floats >= 1) call.b = arrays[1].data();
  if (floats >= 2) call.c = arrays[2].data();
  if (has_labels) call.labels = arrays.back().data();
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, per_sample, "the per-sample losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    const std::size_t grads = 1 + floats, n = std::size_t(a_in.size());
    std::vector<py::handle> outs;
    if (!out_obj.is_none()) {
      if (grads == 1) {
        outs.push_back(out_obj);
      } else {
        if (!py::isinstance<py::tuple>(out_obj) && !py::isinstance<py::list>(out_obj))
          type_error("out: expected a tuple of " + std::to_string(grads) + " arrays (the gradients w.r.t. " + names[0] +
                     ", ...)");
        for (py::handle h : out_obj) outs.push_back(h);
        if (outs.size() != grads)
          value_error("out: " + std::to_string(outs.size()) + " arrays for " + std::to_string(grads) + " gradients");
      }
    }
    std::vector<py::array_t<T>> g;
    std::vector<Extent> outputs, inputs;
    for (std::size_t k = 0; k < grads; ++k) {
      const std::string out_name = grads == 1 ? "out" : "out[" + std::to_string(k) + "]";
      g.push_back(outs.empty() ? py::array_t<T>(shape) : checked_out<T>(outs[k], shape, out_name.c_str(), names[0].c_str()));
      outputs.push_back(extent(out_name, g.back().data(), n));
    }
    for (std::size_t k = 0; k < arrays.size(); ++k)
      inputs.push_back(extent(names[k], arrays[k].data(), std::size_t(arrays[k].size())));
    inputs.push_back(extent("grad_output", call.grad_output_array, call.grad_output_array ? std::size_t(go_array.size()) : 0));
    refuse_overlaps(outputs, inputs);
    call.grad_a = g[0].mutable_data();
    if (grads > 1) call.grad_b = g[1].mutable_data();
    if (grads > 2) call.grad_c = g[2].mutable_data();
    if (grads == 1) {
      grad = g[0];
    } else {
      py::tuple t(grads);
      for (std::size_t k = 0; k < grads; ++k) t[k] = g[k];
      grad = std::move(t);
    }
  }
  return run_reduced<T>(call, what, reduction, per_sample, grad, [&] { run(call); });
}

py::object pair(int loss_id, int what, std::vector<py::handle> inputs, std::vector<std::string> names, bool has_labels,
                double margin, double p, double eps, bool swap, int reduction, py::handle grad_output, py::handle out) {
  const auto loss = lossfn::PairLoss(loss_id);
  if (lossfn::pair_loss_name(loss) == nullptr) value_error("loss: not a pair loss");
  py::array a = as_numeric_array(inputs[0], names[0].c_str());
  lossfn::PairOptions o;
  o.margin = margin, o.p = p, o.eps = eps, o.swap = swap;
  const std::vector<py::handle> others(inputs.begin() + 1, inputs.end());
  const bool one_value = loss == lossfn::PairLoss::margin_ranking || loss == lossfn::PairLoss::hinge_embedding;
  if (computes_in_float32(a))
    return pair_t<float>(one_value, what, a, others, names, has_labels, Reduction(reduction), grad_output, out,
                         [&](const lossfn::PairCall<float>& call) { lossfn::pair_loss(loss, call, o); });
  return pair_t<double>(one_value, what, a, others, names, has_labels, Reduction(reduction), grad_output, out,
                        [&](const lossfn::PairCall<double>& call) { lossfn::pair_loss(loss, call, o); });
}

// info_nce(z1, z2): two views (N, D) of the same samples.
py::object info_nce(int what, py::handle z1, py::handle z2, double temperature, bool symmetric, bool simclr,
                    int reduction, py::handle grad_output, py::handle out) {
  py::array a = as_numeric_array(z1, "z1");
  if (a.ndim() != 2) value_error("z1: expected (N, D), got shape " + shape_str(a));
  lossfn::InfoNceOptions o;
  o.temperature = temperature, o.symmetric = symmetric, o.simclr = simclr;
  const std::vector<std::string> names{"z1", "z2"};
  if (computes_in_float32(a))
    return pair_t<float>(false, what, a, {z2}, names, false, Reduction(reduction), grad_output, out,
                         [&](const lossfn::PairCall<float>& call) { lossfn::info_nce(call, o); });
  return pair_t<double>(false, what, a, {z2}, names, false, Reduction(reduction), grad_output, out,
                        [&](const lossfn::PairCall<double>& call) { lossfn::info_nce(call, o); });
}

// Features (N, D) with integer labels (N,) against a class matrix (C, D): the center loss's
// centers, the margin losses' weights (Call's members Matrix and GradMatrix). The compute dtype
// the features'; the gradients (w.r.t. the features, w.r.t. the matrix), C-contiguous (out: a
// tuple of two); `run` calls the kernel.
template <class T, class Call, const T* Call::*Matrix, T* Call::*GradMatrix, class Run>
py::object class_matrix_t(int what, const py::array& x_in, py::handle labels_obj, py::handle centers_obj,
                          const std::string& x_name, const std::string& matrix_name, Reduction reduction,
                          py::handle grad_output_obj, py::handle out_obj, Run run) {
  const std::vector<py::ssize_t> shape = shape_of(x_in);
  auto labels = int64_input(labels_obj, "labels");
  if (labels.ndim() != 1 || labels.shape(0) != shape[0])
    value_error("labels: shape " + shape_str(labels) + " does not match the samples' shape (" + std::to_string(shape[0]) +
                ",)");
  py::array centers_in = as_numeric_array(centers_obj, matrix_name.c_str());
  if (centers_in.ndim() != 2 || centers_in.shape(1) != shape[1])
    value_error(matrix_name + ": expected (classes, " + std::to_string(shape[1]) + "), got shape " + shape_str(centers_in));
  carray<T> x = to_compute<T>(x_in), centers = to_compute<T>(centers_in);
  Call call;
  call.samples = std::size_t(shape[0]), call.features = std::size_t(shape[1]);
  call.classes = std::size_t(centers.shape(0));
  call.x = x.data(), call.labels = labels.data(), call.*Matrix = centers.data();
  const std::vector<py::ssize_t> per_sample{shape[0]};
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, per_sample, "the per-sample losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    const std::vector<py::ssize_t> cshape = shape_of(centers);
    py::array_t<T> gx, gc;
    if (out_obj.is_none()) {
      gx = py::array_t<T>(shape), gc = py::array_t<T>(cshape);
    } else {
      if (!py::isinstance<py::tuple>(out_obj) && !py::isinstance<py::list>(out_obj))
        type_error("out: expected a tuple of two arrays (grad_" + x_name + ", grad_" + matrix_name + ")");
      if (py::len(out_obj) != 2) value_error("out: " + std::to_string(py::len(out_obj)) + " arrays for 2 gradients");
      gx = checked_out<T>(out_obj[py::int_(0)], shape, "out[0]", x_name.c_str());
      gc = checked_out<T>(out_obj[py::int_(1)], cshape, "out[1]", matrix_name.c_str());
    }
    refuse_overlaps({extent("out[0]", gx.data(), std::size_t(gx.size())), extent("out[1]", gc.data(), std::size_t(gc.size()))},
                    {extent(x_name, x.data(), std::size_t(x.size())), extent(matrix_name, centers.data(), std::size_t(centers.size())),
                     extent("labels", labels.data(), std::size_t(labels.size())),
                     extent("grad_output", call.grad_output_array, call.grad_output_array ? std::size_t(go_array.size()) : 0)});
    call.grad_x = gx.mutable_data(), call.*GradMatrix = gc.mutable_data();
    grad = py::make_tuple(gx, gc);
  }
  return run_reduced<T>(call, what, reduction, per_sample, grad, [&] { run(call); });
}

py::array feature_rows(py::handle obj, const std::string& name) {
  py::array x = as_numeric_array(obj, name.c_str());
  if (x.ndim() != 2) value_error(name + ": expected (N, D), got shape " + shape_str(x));
  return x;
}

template <class T>
py::object center_t(int what, const py::array& x, py::handle labels, py::handle centers, int reduction,
                    py::handle grad_output, py::handle out) {
  using Call = lossfn::CenterCall<T>;
  return class_matrix_t<T, Call, &Call::centers, &Call::grad_centers>(
      what, x, labels, centers, "features", "centers", Reduction(reduction), grad_output, out,
      [](const Call& call) { lossfn::center_loss(call); });
}

py::object center(int what, py::handle x_obj, py::handle labels, py::handle centers, int reduction,
                  py::handle grad_output, py::handle out) {
  py::array x = feature_rows(x_obj, "features");
  if (computes_in_float32(x)) return center_t<float>(what, x, labels, centers, reduction, grad_output, out);
  return center_t<double>(what, x, labels, centers, reduction, grad_output, out);
}

// cosface and arcface: embeddings (N, D), weights (C, D), labels (N,).
template <class T>
py::object margin_t(lossfn::MarginLoss loss, int what, const py::array& x, py::handle weights, py::handle labels,
                    const lossfn::MarginOptions& o, int reduction, py::handle grad_output, py::handle out) {
  using Call = lossfn::MarginCall<T>;
  return class_matrix_t<T, Call, &Call::weights, &Call::grad_weights>(
      what, x, labels, weights, "embeddings", "weights", Reduction(reduction), grad_output, out,
      [&](const Call& call) { lossfn::margin_loss(loss, call, o); });
}

py::object margin(int loss_id, int what, py::handle x_obj, py::handle weights, py::handle labels, double s, double m,
                  bool easy_margin, int reduction, py::handle grad_output, py::handle out) {
  const auto loss = lossfn::MarginLoss(loss_id);
  if (lossfn::margin_loss_name(loss) == nullptr) value_error("loss: not a margin loss");
  py::array x = feature_rows(x_obj, "embeddings");
  lossfn::MarginOptions o;
  o.s = s, o.m = m, o.easy_margin = easy_margin;
  if (computes_in_float32(x)) return margin_t<float>(loss, what, x, weights, labels, o, reduction, grad_output, out);
  return margin_t<double>(loss, what, x, weights, labels, o, reduction, grad_output, out);
}

// batch_triplet: embeddings (N, D) and int64 labels (N,); the gradient w.r.t. the embeddings, one
// C-contiguous array (out: one array).
template <class T>
py::object batch_triplet_t(int what, const py::array& x_in, py::handle labels_obj, const lossfn::BatchTripletOptions& o,
                           Reduction reduction, py::handle grad_output_obj, py::handle out_obj) {
  const std::vector<py::ssize_t> shape = shape_of(x_in);
  auto labels = int64_input(labels_obj, "labels");
  if (labels.ndim() != 1 || labels.shape(0) != shape[0])
    value_error("labels: shape " + shape_str(labels) + " does not match the samples' shape (" + std::to_string(shape[0]) +
                ",)");
  carray<T> x = to_compute<T>(x_in);
  lossfn::BatchTripletCall<T> call;
  call.samples = std::size_t(shape[0]), call.features = std::size_t(shape[1]);
  call.x = x.data(), call.labels = labels.data();
  const std::vector<py::ssize_t> per_sample{shape[0]};
  carray<T> go_array;
  set_upstream(call, grad_output_obj, reduction, per_sample, "the per-anchor losses' shape", go_array);
  py::object grad;
  if (what == kValueAndGrad || what == kGrad) {
    py::array_t<T> g = out_obj.is_none() ? py::array_t<T>(shape) : checked_out<T>(out_obj, shape, "out", "embeddings");
    refuse_overlaps({extent("out", g.data(), std::size_t(g.size()))},
                    {extent("embeddings", x.data(), std::size_t(x.size())),
                     extent("labels", labels.data(), std::size_t(labels.size())),
                     extent("grad_output", call.grad_output_array, call.grad_output_array ? std::size_t(go_array.size()) : 0)});
    call.grad_x = g.mutable_data();
    grad = g;
  }
  return run_reduced<T>(call, what, reduction, per_sample, grad, [&] { lossfn::batch_triplet(call, o); });
}

py::object batch_triplet(int what, py::handle x_obj, py::handle labels, double margin, int mining, int distance,
                         bool nonzero, int reduction, py::handle grad_output, py::handle out) {
  py::array x = feature_rows(x_obj, "embeddings");
  lossfn::BatchTripletOptions o;
  o.margin = margin, o.mining = lossfn::TripletMining(mining), o.distance = lossfn::TripletDistance(distance);
  o.nonzero = nonzero;
  if (computes_in_float32(x)) return batch_triplet_t<float>(what, x, labels, o, Reduction(reduction), grad_output, out);
  return batch_triplet_t<double>(what, x, labels, o, Reduction(reduction), grad_output, out);
}

py::list margin_names() {
  py::list names;
  for (int k = 0; k < int(lossfn::MarginLoss::count_); ++k) names.append(lossfn::margin_loss_name(lossfn::MarginLoss(k)));
  return names;
}

// center_loss.update: the centers in place (a writable, C-contiguous float32 or float64 array; the
// features converted to its dtype).
template <class T>
void center_update_t(py::array_t<T> centers, const py::array& x_in, py::handle labels_obj, double alpha) {
  auto labels = int64_input(labels_obj, "labels");
  if (labels.ndim() != 1 || labels.shape(0) != x_in.shape(0))
    value_error("labels: shape " + shape_str(labels) + " does not match the samples' shape (" +
                std::to_string(x_in.shape(0)) + ",)");
  if (centers.ndim() != 2 || centers.shape(1) != x_in.shape(1))
    value_error("centers: expected (classes, " + std::to_string(x_in.shape(1)) + "), got shape " + shape_str(centers));
  carray<T> x = to_compute<T>(x_in);
  refuse_overlaps({extent("centers", centers.data(), std::size_t(centers.size()))},
                  {extent("features", x.data(), std::size_t(x.size())), extent("labels", labels.data(), std::size_t(labels.size()))});
  lossfn::CenterCall<T> call;
  call.samples = std::size_t(x_in.shape(0)), call.features = std::size_t(x_in.shape(1));
  call.classes = std::size_t(centers.shape(0));
  call.x = x.data(), call.labels = labels.data(), call.centers = centers.data();
  T* out = centers.mutable_data();
  py::gil_scoped_release release;
  lossfn::center_update(out, call, alpha);
}

void center_update(py::handle centers_obj, py::handle x_obj, py::handle labels, double alpha) {
  if (!py::isinstance<py::array>(centers_obj)) type_error("centers: expected a numpy.ndarray (updated in place)");
  py::array centers = py::reinterpret_borrow<py::array>(centers_obj);
  const bool f32 = centers.dtype().equal(py::dtype::of<float>()), f64 = centers.dtype().equal(py::dtype::of<double>());
  if (!f32 && !f64)
    type_error("centers: dtype " + py::str(centers.dtype()).cast<std::string>() +
               " cannot be updated in place (float32 or float64)");
  if (!(centers.flags() & py::array::c_style)) value_error("centers: must be C-contiguous (updated in place)");
  if (!(centers.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) value_error("centers: must be aligned to its dtype");
  if (!centers.writeable()) value_error("centers: must be writable (updated in place)");
  py::array x = feature_rows(x_obj, "features");
  if (f32) center_update_t<float>(py::reinterpret_borrow<py::array_t<float>>(centers), x, labels, alpha);
  else center_update_t<double>(py::reinterpret_borrow<py::array_t<double>>(centers), x, labels, alpha);
}

py::list pair_names() {
  py::list names;
  for (int k = 0; k < int(lossfn::PairLoss::count_); ++k) names.append(lossfn::pair_loss_name(lossfn::PairLoss(k)));
  return names;
}

template <class Info>
py::dict catalogue_entry(int id, const Info& info) {
  py::list names, defaults;
  for (int k = 0; k < info.num_params; ++k) {
    names.append(info.param_names[k]);
    defaults.append(info.param_defaults[k]);
  }
  py::dict d;
  d["id"] = id;
  d["name"] = info.name;
  d["family"] = info.family;
  d["params"] = py::tuple(names);
  d["defaults"] = py::tuple(defaults);
  return d;
}

py::list row_loss_table() {
  py::list out;
  for (int i = 0; i < lossfn::num_row_losses(); ++i) {
    const lossfn::RowLossInfo& info = lossfn::row_loss_info(lossfn::RowLoss(i));
    static const char* targets[] = {"none", "labels", "dense", "labels_or_dense"};
    py::dict d = catalogue_entry(i, info);
    d["target"] = targets[int(info.target)];
    d["class_weight"] = info.class_weight_name ? py::object(py::str(info.class_weight_name)) : py::object(py::none());
    d["ignore_index"] = info.ignore_index;
    d["full_output"] = info.full_output;
    out.append(d);
  }
  return out;
}

py::list loss_table() {
  py::list out;
  for (int i = 0; i < lossfn::num_losses(); ++i) {
    const lossfn::LossInfo& info = lossfn::loss_info(Loss(i));
    py::dict d = catalogue_entry(i, info);
    d["aux"] = info.aux == lossfn::AuxKind::none ? py::object(py::none())
                                                 : py::object(py::str(info.aux_name));
    d["aux_required"] = info.aux == lossfn::AuxKind::required;
    d["aux_param"] = info.aux_param;
    d["aux_differentiable"] = info.aux_differentiable;
    d["sign_labels"] = info.target == lossfn::TargetKind::sign_labels;
    out.append(d);
  }
  return out;
}

}  // namespace

// The thread-count hooks of lossfn's threadpoolctl controller (lossfn/_threads.py), which
// finds them in this module by name through ctypes: exported with C linkage.
extern "C" __attribute__((visibility("default"))) int lossfn_threadpool_get_num_threads() {
  return lossfn::get_num_threads();
}
extern "C" __attribute__((visibility("default"))) int lossfn_threadpool_get_limit() {
  return lossfn::get_thread_limit();
}
extern "C" __attribute__((visibility("default"))) void lossfn_threadpool_set_limit(int n) {
  try {
    lossfn::set_thread_limit(n < 0 ? 0 : n);
  } catch (...) {
  }
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "lossfn C++ kernels (internal; use the lossfn package)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lossfn::Error& e) {
      if (e.kind() == ErrorKind::type) PyErr_SetString(PyExc_TypeError, e.what());
      else PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def("elementwise", &elementwise);
  m.def("loss_table", &loss_table);
  m.def("rows", &rows);
  m.def("row_loss_table", &row_loss_table);
  m.def("ctc", &ctc);
  m.def("overlap", &overlap);
  m.def("lovasz_hinge", &lovasz_hinge);
  m.def("ssim", &ssim);
  m.def("perceptual", &perceptual);
  m.def("pair", &pair);
  m.def("pair_names", &pair_names);
  m.def("center", &center);
  m.def("margin", &margin);
  m.def("margin_names", &margin_names);
  m.def("info_nce", &info_nce);
  m.def("batch_triplet", &batch_triplet);
  m.def("center_update", &center_update);
  m.def("total_variation", &total_variation);
  m.def("overlap_names", [] {
    py::list names;
    for (int k = 0; k < int(lossfn::Overlap::count_); ++k) names.append(lossfn::overlap_name(lossfn::Overlap(k)));
    return names;
  });
  m.def("version", [] { return std::string(lossfn::version()); });
  m.def("compiler", [] { return std::string(lossfn::compiler()); });
  m.def("has_openmp", &lossfn::has_openmp);
  m.def("set_num_threads", &lossfn::set_num_threads);
  m.def("get_num_threads", &lossfn::get_num_threads);
  m.def("set_thread_limit", &lossfn::set_thread_limit);
  m.def("get_thread_limit", &lossfn::get_thread_limit);
  m.attr("MAX_THREADS") = lossfn::kMaxThreads;
  m.def("active_isa", [] { return std::string(lossfn::isa_name(lossfn::active_isa())); });
  m.def("available_isas", [] {
    py::list l;
    for (int i = 0; i < 3; ++i)
      if (lossfn::isa_available(lossfn::Isa(i))) l.append(lossfn::isa_name(lossfn::Isa(i)));
    return l;
  });
  m.def("set_isa", [](const std::string& name) {
    for (int i = 0; i < 3; ++i)
      if (name == lossfn::isa_name(lossfn::Isa(i))) return lossfn::set_isa(lossfn::Isa(i));
    value_error("isa: unknown level '" + name + "' (expected baseline, avx2 or avx512)");
  });
}
