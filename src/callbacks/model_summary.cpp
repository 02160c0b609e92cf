#include "lightning/callbacks/model_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "lightning/error.h"
#include "lightning/trainer.h"

namespace lightning {
namespace {

// "1234567" -> "1,234,567" (Python's `,` format option).
std::string group_thousands(const std::string& digits) {
  size_t start = digits[0] == '-' ? 1 : 0;
  std::string out = digits;
  for (auto i = static_cast<int64_t>(digits.size()) - 3; i > static_cast<int64_t>(start); i -= 3) {
    out.insert(static_cast<size_t>(i), 1, ',');
  }
  return out;
}

std::string format_fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  std::string s = buffer;
  size_t dot = s.find('.');
  return group_thousands(s.substr(0, dot)) + (dot == std::string::npos ? "" : s.substr(dot));
}

// Python's `__class__.__name__` for a libtorch module: "torch::nn::LinearImpl"
// -> "Linear", "my::NetImpl" -> "Net" (TORCH_MODULE's holder is what users name).
std::string type_name(const torch::nn::Module& module) {
  std::string name = module.name();
  size_t end = std::min(name.find('<'), name.size());
  size_t colon = name.rfind("::", end);
  if (colon != std::string::npos) name = name.substr(colon + 2);
  end = std::min(name.find('<'), name.size());
  if (end > 4 && name.compare(end - 4, 4, "Impl") == 0) name.erase(end - 4, 4);
  return name;
}

// Parameter totals as PyTorch's `module.parameters()` sees them: each tensor once.
struct ParamCounts {
  int64_t total = 0;
  int64_t trainable = 0;
  int64_t bytes = 0;
};

ParamCounts count_parameters(const torch::nn::Module& module) {
  ParamCounts counts;
  std::set<const c10::TensorImpl*> seen;
  for (const auto& p : module.parameters(/*recurse=*/true)) {
    if (!p.defined() || !seen.insert(p.unsafeGetTensorImpl()).second) continue;
    counts.total += p.numel();
    if (p.requires_grad()) counts.trainable += p.numel();
    counts.bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  return counts;
}

using Layer = std::pair<std::string, std::shared_ptr<torch::nn::Module>>;

// Lightning's ModelSummary.named_modules: depth 1 lists the direct children;
// deeper lists the pre-order walk (each module once) while the dotted name
// has fewer than max_depth dots; -1 lists everything.
std::vector<Layer> summary_layers(const torch::nn::Module& root, int64_t max_depth) {
  std::vector<Layer> layers;
  if (max_depth == 0) return layers;
  std::set<const torch::nn::Module*> seen{&root};
  if (max_depth == 1) {
    for (const auto& item : root.named_children()) {
      if (seen.insert(item.value().get()).second) layers.emplace_back(item.key(), item.value());
    }
    return layers;
  }
  std::vector<Layer> stack;
  auto push_children = [&stack](const torch::nn::Module& module, const std::string& prefix) {
    auto children = module.named_children();
    for (auto it = children.items().rbegin(); it != children.items().rend(); ++it) {
      stack.emplace_back(prefix.empty() ? it->key() : prefix + "." + it->key(), it->value());
    }
  };
  push_children(root, "");
  while (!stack.empty()) {
    Layer layer = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(layer.second.get()).second) continue;
    auto dots = std::count(layer.first.begin(), layer.first.end(), '.');
    if (max_depth < 0 || dots < max_depth) layers.push_back(layer);
    push_children(*layer.second, layer.first);
  }
  return layers;
}

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

}  // namespace

ModelSummary::ModelSummary(ModelSummaryOptions options) : options_(options) {
  LIGHTNING_CHECK(options_.max_depth() >= -1, "ModelSummary max_depth must be >= -1, got ",
                  options_.max_depth(), ". Use -1 to list every level, 0 for no summary.");
}

void ModelSummary::on_fit_start(Trainer& trainer, LightningModule& module) {
  // Lightning's callback prints nothing at max_depth 0.
  if (options_.max_depth() == 0 || !trainer.is_global_zero()) return;
  std::ostream& out = options_.stream() ? *options_.stream() : std::cout;
  out << summarize(module, options_.max_depth()) << std::endl;
}

std::string ModelSummary::summarize(const torch::nn::Module& module, int64_t max_depth) {
  LIGHTNING_CHECK(max_depth >= -1, "ModelSummary max_depth must be >= -1, got ", max_depth,
                  ". Use -1 to list every level, 0 for no layers.");
  const ParamCounts counts = count_parameters(module);

  // Lightning 2.6's columns. Lightning measures FLOPs only through a forward
  // pass on the module's `example_input_array`, which C++ modules do not
  // have: they are 0, as in Lightning without one.
  const std::vector<Layer> layers = summary_layers(module, max_depth);
  std::vector<std::vector<std::string>> columns = {{" "},      {"Name"}, {"Type"},
                                                   {"Params"}, {"Mode"}, {"FLOPs"}};
  auto add_row = [&columns](std::vector<std::string> row) {
    for (size_t c = 0; c < columns.size(); ++c) columns[c].push_back(std::move(row[c]));
  };
  int64_t listed_params = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const int64_t params = count_parameters(*layers[i].second).total;
    listed_params += params;
    add_row({std::to_string(i), layers[i].first, type_name(*layers[i].second), format_count(params),
             layers[i].second->is_training() ? "train" : "eval", format_count(0)});
  }
  // Parameters no listed layer holds (registered on the root, or all of
  // them at depth 0): Lightning's "other params" row.
  if (counts.total > listed_params) {
    add_row({" ", "other params", "n/a", format_count(counts.total - listed_params), "n/a", "n/a"});
  }

  // Lightning's _format_summary_table: left-aligned columns joined by " | ",
  // each as wide as its widest cell, ruled with dashes below the header and
  // below the rows.
  std::vector<size_t> widths;
  size_t total_width = 0;
  for (const auto& column : columns) {
    size_t width = 0;
    for (const auto& cell : column) width = std::max(width, cell.size());
    widths.push_back(width);
    total_width += width;
  }
  total_width += 3 * (columns.size() + 1);
  const std::string rule(total_width, '-');
  std::ostringstream out;
  for (size_t row = 0; row < columns[0].size(); ++row) {
    for (size_t c = 0; c < columns.size(); ++c) {
      out << (c ? " | " : "") << pad(columns[c][row], widths[c]);
    }
    out << '\n';
    if (row == 0) out << rule << '\n';
  }
  out << rule << '\n';

  // Modules in train / eval mode: every submodule once, the root excluded.
  int64_t train_modules = 0, eval_modules = 0;
  std::set<const torch::nn::Module*> seen{&module};
  for (const auto& sub : module.modules(/*include_self=*/false)) {
    if (!seen.insert(sub.get()).second) continue;
    ++(sub->is_training() ? train_modules : eval_modules);
  }
  out << pad(format_count(counts.trainable), 10) << "Trainable params\n"
      << pad(format_count(counts.total - counts.trainable), 10) << "Non-trainable params\n"
      << pad(format_count(counts.total), 10) << "Total params\n"
      << pad(format_fixed(static_cast<double>(counts.bytes) / 1e6, 3), 10)
      << "Total estimated model params size (MB)\n"
      << pad(std::to_string(train_modules), 10) << "Modules in train mode\n"
      << pad(std::to_string(eval_modules), 10) << "Modules in eval mode\n"
      << pad(format_count(0), 10) << "Total Flops";
  return out.str();
}

// Lightning's get_human_readable_count, step for step:
//   num_digits = floor(log10(n)) + 1 (1 for n == 0); groups = min(ceil(digits / 3), 5)
//   number = n * 10 ** (-3 * (groups - 1)); label = [" ", "K", "M", "B", "T"][groups - 1]
//   groups == 1 or number >= 100: f"{int(number):,d} {label}"   (123 -> "123  ", 235146 -> "235 K")
//   otherwise:                    f"{number:,.1f} {label}"       (1234567 -> "1.2 M")
std::string ModelSummary::format_count(int64_t count) {
  LIGHTNING_CHECK(count >= 0, "format_count needs a count >= 0, got ", count, ".");
  static const char* const kLabels[] = {" ", "K", "M", "B", "T"};
  int num_digits =
      count > 0 ? static_cast<int>(std::floor(std::log10(static_cast<double>(count))) + 1) : 1;
  int groups = std::min(static_cast<int>(std::ceil(num_digits / 3.0)), 5);
  int index = groups - 1;
  if (index == 0) return group_thousands(std::to_string(count)) + " " + kLabels[0];
  double number = static_cast<double>(count) * std::pow(10.0, -3 * index);
  if (number >= 100) {
    return group_thousands(std::to_string(static_cast<int64_t>(number))) + " " + kLabels[index];
  }
  return format_fixed(number, 1) + " " + kLabels[index];
}

}  // namespace lightning
