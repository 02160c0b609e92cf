// src/checkpoint/pickle.h — private to src/checkpoint: the pickler and
// unpickler behind lightning/checkpoint/checkpoint_io.h.
//
// pickle_writer.cpp turns a checkpoint dict into the `data.pkl` bytes of a
// `torch.save` archive (protocol 2, only globals on PyTorch's `weights_only`
// allow-list) plus the storages to write as `data/<key>` records.
// pickle_reader.cpp reads what Python's pickler writes for such checkpoints
// (protocols 1 to 5); storages are fetched through a callback so that the
// reader knows nothing about the zip container.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/class_type.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/jit_type.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/state_dict.h"

namespace lightning::detail {

/// Containers nested deeper than this are refused on both sides (Python's own
/// pickler stops at about a third of it).
constexpr int kMaxPickleDepth = 1000;

// ------------------------------------------------------------ writing --

/// One storage to write as the record `data/<key>`.
struct PickledStorage {
  std::string key;
  /// The whole storage as a flat CPU tensor (a copy when the tensor lived on
  /// another device; the original storage otherwise).
  at::Tensor bytes;
  /// Number of bytes of the record.
  size_t nbytes = 0;
};

struct PickleOutput {
  std::string data;  ///< the `data.pkl` record
  std::vector<PickledStorage> storages;
};

/// Pickles `checkpoint`. Raises `lightning::Error` naming the key path
/// ("optimizer_states/0/state/3") of a value that cannot be saved; the caller
/// adds the file path.
PickleOutput pickle_checkpoint(const StateDict& checkpoint, const SaveCheckpointOptions& options);

// ------------------------------------------------------------ reading --

/// Returns the storage `data/<key>` as a flat tensor of `dtype` with `numel`
/// elements (already on the target device). Called once per key.
using StorageLoader =
    std::function<at::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

/// Unpickles `data.pkl`. `source` names the file in error messages.
/// Raises `lightning::Error` with the byte offset for a malformed pickle.
c10::IValue unpickle_checkpoint(const char* data, size_t size, const StorageLoader& load_storage,
                                const std::string& source);

// ------------------------------------------------ python placeholders --

/// The class of the placeholder objects: attributes "name" (str),
/// "args" (what the constructor got, or None) and "state" (BUILD's, or None).
const c10::ClassTypePtr& python_object_type();

/// A new placeholder for the Python object `name` ("module.QualName").
c10::IValue make_python_object(const std::string& name, c10::IValue args = c10::IValue(),
                               c10::IValue state = c10::IValue());

}  // namespace lightning::detail
