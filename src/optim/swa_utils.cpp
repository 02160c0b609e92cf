// PyTorch's torch.optim.swa_utils averaging: AveragedModel and the
// averaging functions, with the same arithmetic (so the same rounding).
#include "lightning/optim/swa_utils.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "lightning/checkpoint/checkpoint.h"
#include "lightning/error.h"

namespace lightning {

namespace {

void check_decay(double decay) {
  LIGHTNING_CHECK(decay >= 0.0 && decay <= 1.0, "Invalid decay value ", decay,
                  " provided. Please provide a value in [0,1] range.");
}

// The model's parameters, then (when `buffers`) its buffers, detached.
std::vector<at::Tensor> tensors_of(const torch::nn::Module& model, bool buffers) {
  std::vector<at::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach());
  if (buffers) {
    for (const auto& b : model.buffers()) out.push_back(b.detach());
  }
  return out;
}

void check_same(const std::vector<at::Tensor>& mine, const std::vector<at::Tensor>& model,
                const char* what) {
  LIGHTNING_CHECK(mine.size() == model.size(), "AveragedModel holds ", mine.size(), " ", what,
                  " but the model has ", model.size(),
                  ": update and copy with the module it was built from.");
  for (size_t i = 0; i < mine.size(); ++i) {
    LIGHTNING_CHECK(mine[i].sizes() == model[i].sizes(), "AveragedModel: ", what, " ", i,
                    " has shape ", mine[i].sizes(), " but the model's has shape ", model[i].sizes(),
                    ": update and copy with the module it was built from.");
  }
}

}  // namespace

AvgFn get_swa_avg_fn() {
  return [](const at::Tensor& averaged, const at::Tensor& current, const at::Tensor& n) {
    return averaged + (current - averaged) / (n + 1);
  };
}

AvgFn get_ema_avg_fn(double decay) {
  check_decay(decay);
  return [decay](const at::Tensor& ema, const at::Tensor& current, const at::Tensor& /*n*/) {
    return ema.mul(decay) + current.mul(1 - decay);
  };
}

MultiAvgFn get_swa_multi_avg_fn() {
  return [](const std::vector<at::Tensor>& averaged, const std::vector<at::Tensor>& current,
            const at::Tensor& n) {
    if (averaged.empty()) return;
    if (averaged[0].is_floating_point() || averaged[0].is_complex()) {
      // Python: 1 / (num_averaged + 1), a float32 tensor used as the weight.
      const double weight = at::reciprocal((n + 1).to(at::kFloat)).item<double>();
      for (size_t i = 0; i < averaged.size(); ++i) averaged[i].lerp_(current[i], weight);
      return;
    }
    for (size_t i = 0; i < averaged.size(); ++i) {
      averaged[i].copy_(averaged[i] + (current[i] - averaged[i]) / (n + 1));
    }
  };
}

MultiAvgFn get_ema_multi_avg_fn(double decay) {
  check_decay(decay);
  return [decay](const std::vector<at::Tensor>& ema, const std::vector<at::Tensor>& current,
                 const at::Tensor& /*n*/) {
    if (ema.empty()) return;
    if (ema[0].is_floating_point() || ema[0].is_complex()) {
      for (size_t i = 0; i < ema.size(); ++i) ema[i].lerp_(current[i], 1 - decay);
      return;
    }
    for (size_t i = 0; i < ema.size(); ++i) {
      ema[i].copy_(ema[i].mul(decay) + current[i].mul(1 - decay));
    }
  };
}

AveragedModel::AveragedModel(const torch::nn::Module& model, AveragedModelOptions options)
    : options_(std::move(options)) {
  LIGHTNING_CHECK(!(options_.avg_fn() && options_.multi_avg_fn()),
                  "Only one of avg_fn and multi_avg_fn should be provided.");
  at::NoGradGuard no_grad;
  std::map<std::string, size_t> index;  // state_dict key -> its copy
  for (const auto& e : lightning::module_state_dict(model)) {
    at::Tensor copy = e.value().toTensor().detach().clone();
    if (options_.device()) copy = copy.to(*options_.device());
    index[e.key().toStringRef()] = values_.size();
    keys_.push_back(e.key().toStringRef());
    values_.push_back(copy);
  }
  // parameters() / buffers() alias the copies of the same names.
  for (const auto& p : model.named_parameters()) params_.push_back(values_.at(index.at(p.key())));
  for (const auto& b : model.named_buffers()) buffers_.push_back(values_.at(index.at(b.key())));
  n_averaged_ = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(
                                  options_.device().value_or(c10::Device(at::kCPU))));
}

void AveragedModel::update_parameters(const torch::nn::Module& model) {
  at::NoGradGuard no_grad;
  const bool use_buffers = options_.use_buffers();
  std::vector<at::Tensor> mine = params_;
  if (use_buffers) mine.insert(mine.end(), buffers_.begin(), buffers_.end());
  std::vector<at::Tensor> theirs = tensors_of(model, use_buffers);
  check_same(mine, theirs, use_buffers ? "parameters and buffers" : "parameters");
  const bool first = n_averaged_.item<int64_t>() == 0;
  for (size_t i = 0; i < mine.size(); ++i) {
    theirs[i] = theirs[i].to(mine[i].device());
    if (first) mine[i].copy_(theirs[i]);
  }
  if (!first) {
    if (options_.avg_fn()) {
      for (size_t i = 0; i < mine.size(); ++i) {
        mine[i].copy_(options_.avg_fn()(mine[i], theirs[i], n_averaged_.to(mine[i].device())));
      }
    } else {
      // PyTorch groups the tensors by device and dtype for multi_avg_fn.
      std::vector<std::pair<std::pair<c10::Device, at::ScalarType>, std::vector<size_t>>> groups;
      for (size_t i = 0; i < mine.size(); ++i) {
        const auto key = std::make_pair(mine[i].device(), mine[i].scalar_type());
        auto it = groups.begin();
        while (it != groups.end() && it->first != key) ++it;
        if (it == groups.end()) it = groups.insert(groups.end(), {key, {}});
        it->second.push_back(i);
      }
      for (const auto& [key, indices] : groups) {
        std::vector<at::Tensor> a, c;
        for (size_t i : indices) {
          a.push_back(mine[i]);
          c.push_back(theirs[i]);
        }
        const at::Tensor n = n_averaged_.to(key.first);
        if (options_.multi_avg_fn()) {
          options_.multi_avg_fn()(a, c, n);
        } else if (key.first.is_cuda()) {
          get_swa_multi_avg_fn()(a, c, n);  // PyTorch's default where foreach kernels run
        } else {
          const AvgFn swa = get_swa_avg_fn();
          for (size_t j = 0; j < a.size(); ++j) a[j].copy_(swa(a[j], c[j], n));
        }
      }
    }
  }
  if (!use_buffers) {
    std::vector<at::Tensor> model_buffers;
    for (const auto& b : model.buffers()) model_buffers.push_back(b.detach());
    check_same(buffers_, model_buffers, "buffers");
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(model_buffers[i]);
  }
  n_averaged_ += 1;
}

void AveragedModel::set_n_averaged(int64_t n) {
  LIGHTNING_CHECK(n >= 0, "AveragedModel n_averaged must be >= 0, got ", n, ".");
  n_averaged_.fill_(n);
}

void AveragedModel::copy_to(torch::nn::Module& model, bool buffers) const {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> mine = params_;
  if (buffers) mine.insert(mine.end(), buffers_.begin(), buffers_.end());
  const std::vector<at::Tensor> theirs = tensors_of(model, buffers);
  check_same(mine, theirs, buffers ? "parameters and buffers" : "parameters");
  for (size_t i = 0; i < mine.size(); ++i) theirs[i].copy_(mine[i]);
}

void AveragedModel::swap_with(torch::nn::Module& model) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> mine = params_;
  mine.insert(mine.end(), buffers_.begin(), buffers_.end());
  const std::vector<at::Tensor> theirs = tensors_of(model, /*buffers=*/true);
  check_same(mine, theirs, "parameters and buffers");
  for (size_t i = 0; i < mine.size(); ++i) {
    const at::Tensor tmp = mine[i].clone();
    mine[i].copy_(theirs[i]);
    theirs[i].copy_(tmp);
  }
}

StateDict AveragedModel::module_state_dict() const {
  StateDict state = make_state_dict();
  for (size_t i = 0; i < keys_.size(); ++i) state.insert(keys_[i], values_[i]);
  return state;
}

StateDict AveragedModel::state_dict() const {
  StateDict state = make_state_dict();
  for (size_t i = 0; i < keys_.size(); ++i) state.insert("module." + keys_[i], values_[i]);
  state.insert("n_averaged", n_averaged_);
  return state;
}

void AveragedModel::load_module_state_dict(const StateDict& state, const std::string& source,
                                           bool strict) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < keys_.size(); ++i) {
    auto it = state.find(keys_[i]);
    if (it == state.end() || !it->value().isTensor()) {
      if (strict) problems.push_back("missing " + keys_[i]);
      continue;
    }
    const at::Tensor t = it->value().toTensor();
    if (t.sizes() != values_[i].sizes()) {
      std::ostringstream s;
      s << keys_[i] << " has shape " << t.sizes() << " (averaged copy: " << values_[i].sizes()
        << ")";
      problems.push_back(s.str());
    }
  }
  if (strict) {
    for (const auto& e : state) {
      const std::string& key = e.key().toStringRef();
      if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) {
        problems.push_back("unexpected " + key);
      }
    }
  }
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += (list.empty() ? "" : "; ") + p;
    LIGHTNING_FAIL("Error loading the averaged model from ", source, ": ", list,
                   ". Was it saved from another model?");
  }
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < keys_.size(); ++i) {
    auto it = state.find(keys_[i]);
    if (it != state.end() && it->value().isTensor()) values_[i].copy_(it->value().toTensor());
  }
}

void AveragedModel::load_state_dict(const StateDict& state, const std::string& source) {
  StateDict module_state = make_state_dict();
  std::optional<at::Tensor> n;
  std::vector<std::string> unexpected;
  for (const auto& e : state) {
    const std::string& key = e.key().toStringRef();
    if (key == "n_averaged" && e.value().isTensor()) {
      n = e.value().toTensor();
    } else if (key.rfind("module.", 0) == 0) {
      module_state.insert(key.substr(7), e.value());
    } else {
      unexpected.push_back(key);
    }
  }
  LIGHTNING_CHECK(n.has_value(), "Error loading the averaged model from ", source,
                  ": missing n_averaged (a tensor). Was it saved by AveragedModel::state_dict?");
  LIGHTNING_CHECK(unexpected.empty(), "Error loading the averaged model from ", source,
                  ": unexpected key ", unexpected.empty() ? "" : unexpected[0],
                  " (keys are module.<name> and n_averaged).");
  load_module_state_dict(module_state, source, /*strict=*/true);
  n_averaged_.copy_(*n);
}

}  // namespace lightning
