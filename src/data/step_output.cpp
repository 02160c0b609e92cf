#include "lightning/data/step_output.h"

#include <sstream>

#include "lightning/error.h"

namespace lightning {
namespace {

std::string entry_names(const std::vector<std::pair<std::string, at::Tensor>>& items) {
  if (items.empty()) return "no entries";
  std::ostringstream out;
  out << "entries ";
  for (size_t i = 0; i < items.size(); ++i) out << (i ? ", '" : "'") << items[i].first << "'";
  return out.str();
}

}  // namespace

StepOutput::StepOutput(at::Tensor loss) {
  if (loss.defined()) items_.emplace_back("loss", std::move(loss));
}

StepOutput::StepOutput(std::initializer_list<std::pair<std::string, at::Tensor>> items)
    : StepOutput(std::vector<std::pair<std::string, at::Tensor>>(items)) {}

StepOutput::StepOutput(std::vector<std::pair<std::string, at::Tensor>> items)
    : items_(std::move(items)) {
  for (size_t i = 0; i < items_.size(); ++i) {
    LIGHTNING_CHECK(!items_[i].first.empty(), "StepOutput entry ", i,
                    " has an empty name; name every entry, e.g. {\"loss\", loss}.");
    for (size_t j = 0; j < i; ++j) {
      LIGHTNING_CHECK(items_[i].first != items_[j].first, "StepOutput entry '", items_[i].first,
                      "' appears twice; names must be unique.");
    }
  }
}

bool StepOutput::contains(const std::string& name) const {
  for (const auto& item : items_) {
    if (item.first == name) return true;
  }
  return false;
}

const at::Tensor& StepOutput::loss() const {
  for (const auto& item : items_) {
    if (item.first == "loss") return item.second;
  }
  LIGHTNING_FAIL("the step output has no 'loss' (it has ", entry_names(items_),
                 "); return the loss tensor itself or {{\"loss\", loss}, ...}.");
}

const at::Tensor& StepOutput::operator[](const std::string& name) const {
  for (const auto& item : items_) {
    if (item.first == name) return item.second;
  }
  LIGHTNING_FAIL("the step output has no entry '", name, "' (it has ", entry_names(items_), ").");
}

}  // namespace lightning
