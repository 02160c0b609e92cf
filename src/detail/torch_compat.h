// The differences between the libtorch versions lightning.cpp builds against
// (1.13 from Debian, 2.x from the PyTorch wheel), in one place. Everything
// else in the library calls these and never tests a torch version itself.
//
// Keyed on TORCH_VERSION_MAJOR/MINOR from <torch/version.h>. Each entry says
// which release changed the API; the oldest and newest tested versions are in
// CMakeLists.txt (LIGHTNING_TORCH_OLDEST_TESTED / _NEWEST_TESTED).
#pragma once

#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <c10/util/StringUtil.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#define LIGHTNING_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||            \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace lightning::detail::torch_compat {

// ---- autocast state, per device type ------------------------------------
// 2.4 replaced the per-device functions (is_cpu_enabled, set_enabled for
// CUDA, get_autocast_gpu_dtype, ...) by ones taking the device type, and
// deprecated the old ones. Only CPU and CUDA are used here.

inline bool autocast_enabled(c10::DeviceType device_type) {
#if LIGHTNING_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled()
                                             : at::autocast::is_enabled();
#endif
}

inline void set_autocast_enabled(c10::DeviceType device_type, bool enabled) {
#if LIGHTNING_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device_type, enabled);
#else
  if (device_type == c10::DeviceType::CPU) {
    at::autocast::set_cpu_enabled(enabled);
  } else {
    at::autocast::set_enabled(enabled);
  }
#endif
}

inline c10::ScalarType autocast_dtype(c10::DeviceType device_type) {
#if LIGHTNING_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(device_type);
#else
  return device_type == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                             : at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void set_autocast_dtype(c10::DeviceType device_type, c10::ScalarType dtype) {
#if LIGHTNING_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(device_type, dtype);
#else
  if (device_type == c10::DeviceType::CPU) {
    at::autocast::set_autocast_cpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_gpu_dtype(dtype);
  }
#endif
}

// ---- the key of a parameter in optimizer.state() -------------------------
// libtorch's optimizers key their per-parameter state by the parameter's
// TensorImpl: 1.13 by its address printed as a string, 2.x by the pointer
// itself. Told apart by the map's key type rather than by version number.

using OptimizerStateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;
using OptimizerStateKey = OptimizerStateMap::key_type;

template <class Key = OptimizerStateKey>
Key optimizer_state_key(const at::Tensor& param) {
  if constexpr (std::is_same_v<Key, void*>) {
    return param.unsafeGetTensorImpl();
  } else {
    return c10::str(param.unsafeGetTensorImpl());
  }
}

// ---- c10d ----------------------------------------------------------------
// Templates over the c10d types, so that this header needs no c10d include
// (only src/strategies/ddp.cpp instantiates them, with c10d::ProcessGroup and
// c10d::Reducer).

/// The process group of one backend (ProcessGroupGloo, ProcessGroupNCCL)
/// built on `store`. Up to 1.13 a backend is a ProcessGroup itself; 2.0 split
/// the two: the ProcessGroup is a front that dispatches each device type's
/// collectives to a Backend, so the backend is registered on a new one, for
/// the device types `device_types` (as torch.distributed does: Gloo for CPU
/// and CUDA tensors, NCCL for CUDA).
template <class ProcessGroup, class Backend, class Store>
c10::intrusive_ptr<ProcessGroup> process_group_of(
    const c10::intrusive_ptr<Backend>& backend, const c10::intrusive_ptr<Store>& store,
    const std::string& backend_name, const std::vector<c10::DeviceType>& device_types) {
#if LIGHTNING_TORCH_AT_LEAST(2, 0)
  auto group = c10::make_intrusive<ProcessGroup>(store, backend->getRank(), backend->getSize());
  const auto type = ProcessGroup::strToBackendType(backend_name);
  group->setDefaultBackend(type);
  for (c10::DeviceType device_type : device_types) group->setBackend(device_type, type, backend);
  return group;
#else
  (void)store;
  (void)backend_name;
  (void)device_types;
  return backend;
#endif
}

/// A c10d::Reducer (or a subclass `R` of it) with torch.nn.parallel's
/// arguments. The constructor changed between releases: 1.13 takes the
/// per-bucket size limits after the bucket indices; 2.15 drops them and adds
/// skip_all_reduce_unused_params, use_python_reducer and the rebuild size
/// limits at the end (false, false and empty here, as Python's DDP passes by
/// default). Chosen by which constructor `R` has.
template <class R, class ProcessGroupPtr>
std::unique_ptr<R> make_reducer(const std::vector<at::Tensor>& params,
                                const std::vector<std::vector<size_t>>& buckets,
                                const std::vector<size_t>& bucket_limits, ProcessGroupPtr group,
                                const std::vector<bool>& sparse, int64_t bucket_cap,
                                bool find_unused, bool gradient_as_bucket_view,
                                const std::unordered_map<size_t, std::string>& names,
                                int64_t first_bucket_cap) {
  using Names = std::unordered_map<size_t, std::string>;
  if constexpr (std::is_constructible_v<R, std::vector<at::Tensor>,
                                        std::vector<std::vector<size_t>>, std::vector<size_t>,
                                        ProcessGroupPtr, std::vector<bool>, int64_t, bool, bool,
                                        Names, int64_t>) {
    return std::make_unique<R>(params, buckets, bucket_limits, std::move(group), sparse, bucket_cap,
                               find_unused, gradient_as_bucket_view, names, first_bucket_cap);
  } else {
    static_assert(
        std::is_constructible_v<R, std::vector<at::Tensor>, std::vector<std::vector<size_t>>,
                                ProcessGroupPtr, std::vector<bool>, int64_t, bool, bool, Names,
                                int64_t, bool, bool, std::vector<int64_t>>,
        "this libtorch's c10d::Reducer constructor is neither 1.13's nor 2.15's; "
        "add its form to src/detail/torch_compat.h");
    (void)bucket_limits;
    return std::make_unique<R>(params, buckets, std::move(group), sparse, bucket_cap, find_unused,
                               gradient_as_bucket_view, names, first_bucket_cap,
                               /*skip_all_reduce_unused_params=*/false,
                               /*use_python_reducer=*/false,
                               /*bucket_bytes_cap_list=*/std::vector<int64_t>{});
  }
}

}  // namespace lightning::detail::torch_compat
