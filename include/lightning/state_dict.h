// lightning/state_dict.h — the dict type of `state_dict()` / `load_state_dict()`
// for schedulers, the loss scaler and callbacks: string keys, IValue values
// (numbers, bools, strings, lists, nested dicts, tensors), in insertion
// order, as the Python dicts they mirror. Checkpoints pickle these as dicts.
//
//   L::StateDict state = L::make_state_dict();
//   state.insert("last_epoch", int64_t{3});
//   int64_t e = L::state_int(state, "last_epoch", "StepLR");
#pragma once

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lightning/export.h"

namespace lightning {

using StateDict = c10::impl::GenericDict;

/// An empty dict with string keys.
LIGHTNING_API StateDict make_state_dict();

/// A list of doubles as an IValue.
LIGHTNING_API c10::IValue to_ivalue(const std::vector<double>& values);

// Typed reads. Each raises `lightning::Error` naming `owner` (who loads) and
// the key when the key is missing or holds another type.
LIGHTNING_API const c10::IValue& state_value(const StateDict& state, const std::string& key,
                                             const std::string& owner);
/// A list (or tuple) of numbers; ints are widened.
LIGHTNING_API std::vector<double> state_doubles(const StateDict& state, const std::string& key,
                                                const std::string& owner);
/// A number; an int is widened.
LIGHTNING_API double state_double(const StateDict& state, const std::string& key,
                                  const std::string& owner);
LIGHTNING_API int64_t state_int(const StateDict& state, const std::string& key,
                                const std::string& owner);
LIGHTNING_API bool state_bool(const StateDict& state, const std::string& key,
                              const std::string& owner);
LIGHTNING_API std::string state_string(const StateDict& state, const std::string& key,
                                       const std::string& owner);
/// A nested dict with string keys.
LIGHTNING_API StateDict state_dict_at(const StateDict& state, const std::string& key,
                                      const std::string& owner);

}  // namespace lightning
