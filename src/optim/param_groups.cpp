#include "lightning/optim/param_groups.h"

#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>

#include <tuple>
#include <typeinfo>

#include "lightning/error.h"
#include "util/type_name.h"

namespace lightning {

std::string optimizer_name(const torch::optim::Optimizer& optimizer) {
  return detail::unqualified_type_name(typeid(optimizer));
}

double get_lr(const torch::optim::Optimizer& optimizer, size_t group) {
  const auto& groups = optimizer.param_groups();
  LIGHTNING_CHECK(group < groups.size(), "get_lr: ", optimizer_name(optimizer), " has ",
                  groups.size(), " parameter group(s), asked for group ", group, ".");
  return groups[group].options().get_lr();
}

std::optional<double> momentum_of(const torch::optim::OptimizerOptions& o) {
  if (auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&o)) return sgd->momentum();
  if (auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&o)) return rms->momentum();
  if (auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&o))
    return std::get<0>(adam->betas());
  if (auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&o))
    return std::get<0>(adamw->betas());
  return std::nullopt;
}

bool uses_beta1(const torch::optim::OptimizerOptions& o) {
  return dynamic_cast<const torch::optim::AdamOptions*>(&o) != nullptr ||
         dynamic_cast<const torch::optim::AdamWOptions*>(&o) != nullptr;
}

void set_momentum(torch::optim::OptimizerOptions& o, double value,
                  const std::string& optimizer_kind) {
  if (auto* sgd = dynamic_cast<torch::optim::SGDOptions*>(&o)) {
    sgd->momentum(value);
  } else if (auto* rms = dynamic_cast<torch::optim::RMSpropOptions*>(&o)) {
    rms->momentum(value);
  } else if (auto* adam = dynamic_cast<torch::optim::AdamOptions*>(&o)) {
    adam->betas(std::make_tuple(value, std::get<1>(adam->betas())));
  } else if (auto* adamw = dynamic_cast<torch::optim::AdamWOptions*>(&o)) {
    adamw->betas(std::make_tuple(value, std::get<1>(adamw->betas())));
  } else {
    LIGHTNING_FAIL("The optimizer ", optimizer_kind,
                   " has no momentum or beta1 to cycle; use SGD, RMSprop, Adam or AdamW, "
                   "or turn cycle_momentum off.");
  }
}

double weight_decay_of(const torch::optim::OptimizerOptions& o) {
  if (auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&o)) return sgd->weight_decay();
  if (auto* rms = dynamic_cast<const torch::optim::RMSpropOptions*>(&o)) return rms->weight_decay();
  if (auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&o)) return adam->weight_decay();
  if (auto* adamw = dynamic_cast<const torch::optim::AdamWOptions*>(&o))
    return adamw->weight_decay();
  if (auto* adagrad = dynamic_cast<const torch::optim::AdagradOptions*>(&o))
    return adagrad->weight_decay();
  return 0.0;
}

}  // namespace lightning
