// Internal: which hooks a module or datamodule overrides (Lightning's
// `is_overridden`), for the Trainer's decisions that depend on it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace lightning {
class LightningModule;
class LightningDataModule;
}  // namespace lightning

namespace lightning::detail {

/// Whether the dynamic type of `object` overrides the virtual member `method`
/// of `Base`. Works by comparing the object's vtable slot with the slot of a
/// plain `Base` instance (`reference`), using the Itanium C++ ABI layout of
/// pointers to virtual members (GCC and Clang on Linux/macOS, the compilers
/// libtorch supports there). Used where Lightning asks `is_overridden`, e.g.
/// to skip validation when `validation_step` is not defined.
/// The base implementation of every method asked about must be defined out
/// of line in the library: an inline one is hidden (the library is built with
/// -fvisibility-inlines-hidden), so the user's binary would hold its own copy
/// at another address and every module would look like it overrides it.
template <typename Base, typename Method>
bool is_overridden(const Base& object, const Base& reference, Method method) {
  struct ItaniumPmf {
    std::uintptr_t ptr;
    std::ptrdiff_t adj;
  };
  static_assert(sizeof(Method) == sizeof(ItaniumPmf), "unexpected member pointer layout");
  ItaniumPmf pmf;
  std::memcpy(&pmf, &method, sizeof pmf);
#if defined(__arm__) || defined(__aarch64__)
  // ARM's variant keeps the virtual flag in the low bit of adj and the offset in ptr.
  if (!(pmf.adj & 1)) return true;
  const std::uintptr_t offset = pmf.ptr;
#else
  if (!(pmf.ptr & 1)) return true;  // not a virtual member: nothing to compare
  const std::uintptr_t offset = pmf.ptr - 1;
#endif
  auto slot = [offset](const Base& o) {
    auto vtable = *reinterpret_cast<const char* const*>(&o);
    return *reinterpret_cast<const void* const*>(vtable + offset);
  };
  return slot(object) != slot(reference);
}

/// Hooks of LightningModule whose absence changes what the Trainer runs.
bool overrides_validation_step(const LightningModule& module);
bool overrides_test_step(const LightningModule& module);
bool overrides_predict_step(const LightningModule& module);
bool overrides_training_step(const LightningModule& module);
/// Whether a val dataloader is defined (Lightning's `_data_source.is_defined()`).
bool overrides_val_dataloader(const LightningModule& module);
bool overrides_val_dataloader(const LightningDataModule& datamodule);

}  // namespace lightning::detail
