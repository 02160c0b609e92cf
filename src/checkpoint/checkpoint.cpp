#include "lightning/checkpoint/checkpoint.h"

#include <ATen/core/jit_type.h>
#include <c10/util/Type.h>

#include <map>
#include <sstream>
#include <typeinfo>

#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/datamodule.h"
#include "lightning/error.h"
#include "lightning/module.h"

namespace lightning {

// ---- Checkpoint ----------------------------------------------------------------

Checkpoint::Checkpoint() : dict_(make_state_dict()) {}

Checkpoint::Checkpoint(StateDict dict) : dict_(std::move(dict)) {}

bool Checkpoint::contains(const std::string& key) const {
  return dict_.find(c10::IValue(key)) != dict_.end();
}

void Checkpoint::set(const std::string& key, c10::IValue value) {
  dict_.insert_or_assign(c10::IValue(key), std::move(value));
}

std::vector<std::string> Checkpoint::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : dict_) {
    out.push_back(entry.key().isString() ? entry.key().toStringRef() : entry.key().tagKind());
  }
  return out;
}

const c10::IValue& Checkpoint::at(const std::string& key) const {
  auto it = dict_.find(c10::IValue(key));
  if (it == dict_.end()) {
    std::string have;
    for (const auto& k : keys()) have += (have.empty() ? "" : ", ") + k;
    LIGHTNING_FAIL("The checkpoint has no \"", key, "\" entry. It has: [", have, "].");
  }
  return it->value();
}

bool Checkpoint::erase(const std::string& key) { return dict_.erase(c10::IValue(key)) > 0; }

namespace {
[[noreturn]] void wrong_type(const std::string& key, const c10::IValue& v, const char* want) {
  LIGHTNING_FAIL("checkpoint[\"", key, "\"] holds a ", v.tagKind(), ", not a ", want, ".");
}
}  // namespace

template <>
c10::IValue Checkpoint::get<c10::IValue>(const std::string& key) const {
  return at(key);
}
template <>
int64_t Checkpoint::get<int64_t>(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isInt()) wrong_type(key, v, "int");
  return v.toInt();
}
template <>
int Checkpoint::get<int>(const std::string& key) const {
  return static_cast<int>(get<int64_t>(key));
}
template <>
double Checkpoint::get<double>(const std::string& key) const {
  const auto& v = at(key);
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  wrong_type(key, v, "float");
}
template <>
bool Checkpoint::get<bool>(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isBool()) wrong_type(key, v, "bool");
  return v.toBool();
}
template <>
std::string Checkpoint::get<std::string>(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isString()) wrong_type(key, v, "string");
  return v.toStringRef();
}
template <>
at::Tensor Checkpoint::get<at::Tensor>(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isTensor()) wrong_type(key, v, "tensor");
  return v.toTensor();
}
template <>
StateDict Checkpoint::get<StateDict>(const std::string& key) const {
  const auto& v = at(key);
  if (!v.isGenericDict()) wrong_type(key, v, "dict");
  return v.toGenericDict();
}
template <>
std::vector<double> Checkpoint::get<std::vector<double>>(const std::string& key) const {
  return state_doubles(dict_, key, "checkpoint");
}
template <>
std::vector<int64_t> Checkpoint::get<std::vector<int64_t>>(const std::string& key) const {
  const auto& v = at(key);
  std::vector<int64_t> out;
  if (!v.isList()) wrong_type(key, v, "list of ints");
  for (const auto& e : v.toListRef()) {
    if (!e.isInt()) wrong_type(key, v, "list of ints");
    out.push_back(e.toInt());
  }
  return out;
}

// ---- Module state dicts ----------------------------------------------------------

StateDict module_state_dict(const torch::nn::Module& module) {
  // PyTorch's order: per module (pre-order), its parameters then its buffers.
  StateDict state = make_state_dict();
  for (const auto& item : module.named_modules("", /*include_self=*/true)) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(/*recurse=*/false)) {
      state.insert(prefix + p.key(), p.value().detach());
    }
    for (const auto& b : item.value()->named_buffers(/*recurse=*/false)) {
      state.insert(prefix + b.key(), b.value().detach());
    }
  }
  return state;
}

void load_module_state_dict(torch::nn::Module& module, const StateDict& state,
                            const std::string& source) {
  std::map<std::string, at::Tensor> targets;
  std::vector<std::string> order;
  for (const auto& item : module.named_modules("", /*include_self=*/true)) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    for (const auto& p : item.value()->named_parameters(false)) {
      targets[prefix + p.key()] = p.value();
      order.push_back(prefix + p.key());
    }
    for (const auto& b : item.value()->named_buffers(false)) {
      targets[prefix + b.key()] = b.value();
      order.push_back(prefix + b.key());
    }
  }
  std::vector<std::string> missing, unexpected, shapes, not_tensors;
  std::map<std::string, at::Tensor> found;
  for (const auto& entry : state) {
    const std::string key = entry.key().isString() ? entry.key().toStringRef() : "<non-string key>";
    auto it = targets.find(key);
    if (it == targets.end()) {
      unexpected.push_back(key);
      continue;
    }
    if (!entry.value().isTensor()) {
      not_tensors.push_back(key + " (" + entry.value().tagKind() + ")");
      continue;
    }
    const at::Tensor& t = entry.value().toTensor();
    if (t.sizes() != it->second.sizes()) {
      std::ostringstream os;
      os << key << ": checkpoint " << t.sizes() << ", model " << it->second.sizes();
      shapes.push_back(os.str());
      continue;
    }
    found[key] = t;
  }
  for (const auto& key : order) {
    if (!found.count(key) &&
        std::find(not_tensors.begin(), not_tensors.end(), key) == not_tensors.end()) {
      bool listed = false;
      for (const auto& s : shapes) listed = listed || s.rfind(key + ":", 0) == 0;
      for (const auto& s : not_tensors) listed = listed || s.rfind(key + " ", 0) == 0;
      if (!listed) missing.push_back(key);
    }
  }
  if (!missing.empty() || !unexpected.empty() || !shapes.empty() || !not_tensors.empty()) {
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    std::string msg =
        "Error(s) in loading the state dict from " + source + " into " + module.name() + ":";
    if (!missing.empty()) msg += " Missing key(s): [" + join(missing) + "].";
    if (!unexpected.empty()) msg += " Unexpected key(s): [" + join(unexpected) + "].";
    if (!shapes.empty()) msg += " Size mismatch: [" + join(shapes) + "].";
    if (!not_tensors.empty()) msg += " Not tensors: [" + join(not_tensors) + "].";
    msg += " Build the module with the hyperparameters it was saved with.";
    LIGHTNING_FAIL(msg);
  }
  at::NoGradGuard no_grad;
  for (auto& [key, t] : found) targets[key].copy_(t);
}

// ---- Hyperparameters ---------------------------------------------------------------

namespace {

c10::IValue hparam_to_ivalue(const HParamValue& value) {
  const auto& v = value.variant();
  if (std::holds_alternative<std::monostate>(v)) return c10::IValue();
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* list = std::get_if<HParamValue::List>(&v)) {
    c10::impl::GenericList out(c10::AnyType::get());
    for (const auto& e : *list) out.push_back(hparam_to_ivalue(e));
    return out;
  }
  const auto& map = std::get<HParamValue::Map>(v);
  StateDict out = make_state_dict();
  for (const auto& [k, e] : map) out.insert(k, hparam_to_ivalue(e));
  return out;
}

std::optional<HParamValue> hparam_from_ivalue(const c10::IValue& v, const std::string& where) {
  if (v.isNone()) return HParamValue();
  if (v.isBool()) return HParamValue(v.toBool());
  if (v.isInt()) return HParamValue(v.toInt());
  if (v.isDouble()) return HParamValue(v.toDouble());
  if (v.isString()) return HParamValue(v.toStringRef());
  if (v.isList() || v.isTuple()) {
    HParamValue::List list;
    const auto elements = v.isList() ? v.toListRef().vec() : v.toTupleRef().elements().vec();
    for (size_t i = 0; i < elements.size(); ++i) {
      auto e = hparam_from_ivalue(elements[i], where + "[" + std::to_string(i) + "]");
      if (!e) return std::nullopt;
      list.push_back(*e);
    }
    return HParamValue(list);
  }
  if (v.isGenericDict() && !is_python_object(v)) {
    HParamValue::Map map;
    for (const auto& entry : v.toGenericDict()) {
      if (!entry.key().isString()) continue;
      auto e = hparam_from_ivalue(entry.value(), where + "." + entry.key().toStringRef());
      if (e) map.emplace_back(entry.key().toStringRef(), *e);
    }
    return HParamValue(HParams(map));
  }
  detail::warn("hyperparameter " + where + " holds a " +
               (is_python_object(v) ? "Python object (" + python_object_name(v) + ")"
                                    : std::string(v.tagKind())) +
               ", which HParams cannot hold: it is skipped.");
  return std::nullopt;
}

}  // namespace

c10::IValue hparams_to_ivalue(const HParams& hparams) {
  StateDict out = make_state_dict();
  for (const auto& [k, v] : hparams) out.insert(k, hparam_to_ivalue(v));
  return out;
}

HParams hparams_from_ivalue(const c10::IValue& value, const std::string& source) {
  LIGHTNING_CHECK(value.isGenericDict(), source, ": the hyperparameters are a ", value.tagKind(),
                  ", not a dict.");
  HParams out;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString()) continue;
    const std::string key = entry.key().toStringRef();
    auto v = hparam_from_ivalue(entry.value(), key);
    if (v) out.set(key, *v);
  }
  return out;
}

Checkpoint read_checkpoint(const std::string& path,
                           const std::optional<c10::Device>& map_location) {
  return Checkpoint(load_checkpoint_file(path, map_location));
}

namespace detail {

HParams checkpoint_hparams(const Checkpoint& checkpoint, const HParams& overrides, bool datamodule,
                           const std::string& path) {
  const std::string key = datamodule ? "datamodule_hyper_parameters" : "hyper_parameters";
  HParams hparams;
  if (checkpoint.contains(key)) hparams = hparams_from_ivalue(checkpoint.at(key), path);
  hparams.update(overrides);
  return hparams;
}

void restore_module(LightningModule& module, Checkpoint& checkpoint, const std::string& path) {
  // Lightning: the module's hook first, then the weights (strict).
  module.on_load_checkpoint(checkpoint);
  LIGHTNING_CHECK(checkpoint.contains("state_dict"), path,
                  " has no \"state_dict\" entry: it is not a Lightning checkpoint of a module.");
  load_module_state_dict(module, checkpoint.get<StateDict>("state_dict"), path);
}

void restore_datamodule(LightningDataModule& datamodule, Checkpoint& checkpoint,
                        const std::string& path) {
  const std::string key = datamodule.state_key();
  if (checkpoint.contains(key)) datamodule.load_state_dict(checkpoint.get<StateDict>(key));
}

}  // namespace detail

}  // namespace lightning
