// lightning/checkpoint/checkpoint_io.h — reading and writing `.ckpt` files in
// the `torch.save` zip format, so that Python's `torch.load` opens them and
// files written by Python Lightning open here.
//
//   L::StateDict ckpt = L::make_state_dict();
//   ckpt.insert("epoch", int64_t{3});
//   ckpt.insert("state_dict", weights);            // written as collections.OrderedDict
//   L::save_checkpoint_file(ckpt, "run/last.ckpt"); // atomic: temp file, fsync, rename
//   L::StateDict back = L::load_checkpoint_file("run/last.ckpt");
//
// Values: dicts (string or int keys, insertion order kept), lists, tuples,
// strings, ints, floats, bools, None and tensors of float32/64, bf16, fp16,
// int64, int32, int16, int8, uint8 and bool (views and shared storages kept
// as such). The pickle written references only globals on PyTorch's
// `weights_only` allow-list (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, torch.*Storage). libtorch 1.13's own
// `torch::pickle_save/pickle_load` cannot do this (docs/checkpoints.md), so
// src/checkpoint/pickle_{writer,reader}.cpp carry a small pickler over
// libtorch's zip container (caffe2::serialize::PyTorchStreamWriter/Reader).
#pragma once

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <optional>
#include <string>
#include <vector>

#include "lightning/error.h"
#include "lightning/export.h"
#include "lightning/state_dict.h"

namespace lightning {

struct LIGHTNING_API SaveCheckpointOptions {
  /// Dicts at these top-level keys are written as collections.OrderedDict
  /// (Lightning's model "state_dict" is one); other dicts as plain dicts.
  std::vector<std::string> ordered_dict_keys = {"state_dict"};
};

/// Writes `checkpoint` to `path` atomically: a temporary file in the same
/// folder, flushed and fsync'ed, then renamed over `path` (a crash leaves the
/// previous file intact). Creates missing parent folders. `lightning::Error`
/// naming the path (and the key path inside the checkpoint, e.g.
/// "callbacks/ModelCheckpoint/x") on an unwritable folder or a value that
/// cannot be saved: another dtype (complex, quantized), a sparse tensor, a
/// string that is not UTF-8, a dict key that is not str/int/bool/float, a
/// python-object placeholder, another IValue kind (Device, Object, ...), or
/// nesting deeper than 1000. Values are all checked before the file is
/// touched. An undefined tensor is written as None. CUDA tensors are copied
/// to the CPU and recorded with location "cuda:N" (as torch.save does).
LIGHTNING_API void save_checkpoint_file(const StateDict& checkpoint, const std::string& path,
                                        const SaveCheckpointOptions& options = {});

/// Reads a checkpoint written by `save_checkpoint_file` or by Python's
/// `torch.save` (pickle protocols 0 to 5). OrderedDict and defaultdict/Counter
/// read as dicts (key order kept; int keys stay ints), sets as lists,
/// torch.Size as a tuple, bytes as str, nn.Parameter as its tensor
/// (requires_grad kept). Tensors sharing a storage in the file share one
/// storage here (views keep offset and strides). A global that is not a known
/// container or tensor rebuild function (an arbitrary Python class, a
/// function, a bound method, a numpy array, a quantized or sparse tensor) is
/// read as a python-object placeholder (`is_python_object`), never an error by
/// itself: the code consuming that part decides (skip with a warning where it
/// is only metadata, error naming the class otherwise). So is an int beyond
/// 64 bits ("builtins.int") and a dict whose keys an IValue dict cannot hold
/// ("builtins.dict", e.g. tuple keys). Tensors are moved to `map_location`
/// when given; otherwise they stay on the CPU (the saved location, e.g.
/// "cuda:0", is not restored). `lightning::Error` naming the path for a
/// missing, empty, truncated, corrupted, legacy (torch < 1.6), TorchScript or
/// non-checkpoint file, and for a file whose top-level value is not a dict —
/// never a crash. (libtorch's zip reader does not verify CRCs: flipped bits
/// inside tensor data load as different values.)
LIGHTNING_API StateDict load_checkpoint_file(
    const std::string& path, const std::optional<c10::Device>& map_location = std::nullopt);

/// True for the placeholder `load_checkpoint_file` puts where the pickle held
/// an arbitrary Python object. It is a TorchScript-style object with the
/// attributes "name" (str), "args" (what the pickle called the class or
/// function with, a tuple, or None) and "state" (what BUILD gave it, e.g. the
/// instance `__dict__`, or None): `value.toObjectRef().getAttr("state")`.
LIGHTNING_API bool is_python_object(const c10::IValue& value);
/// "module.QualName" of such a placeholder (e.g. "torch.optim.adam.Adam"; a
/// bound method reads as "module.Class.method"); `lightning::Error` when
/// `value` is not one.
LIGHTNING_API std::string python_object_name(const c10::IValue& value);
/// The first python-object placeholder inside `value` (recursing into dicts,
/// lists and tuples in order), as "path: module.Name" with the keys and list
/// indices below `path` joined by "/" (e.g. "lr_schedulers/0/anneal_func:
/// torch.optim.lr_scheduler.OneCycleLR._annealing_cos"), just "module.Name"
/// when `value` itself is one and `path` is empty; nullopt when there is none.
LIGHTNING_API std::optional<std::string> find_python_object(const c10::IValue& value,
                                                            const std::string& path = "");

}  // namespace lightning
