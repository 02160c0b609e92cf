#include "lightning/metrics/metric_collection.h"

#include <set>

#include "lightning/error.h"

namespace lightning::metrics {

namespace {

bool same_states(const Metric& a, const Metric& b) {
  const auto& sa = a.states();
  const auto& sb = b.states();
  if (sa.size() != sb.size() || sa.empty()) return false;
  for (size_t i = 0; i < sa.size(); ++i) {
    const auto& x = sa[i];
    const auto& y = sb[i];
    if (x.name != y.name || x.is_list != y.is_list || x.reduce != y.reduce) return false;
    if (x.is_list) {
      if (x.items.size() != y.items.size()) return false;
      for (size_t k = 0; k < x.items.size(); ++k) {
        if (x.items[k].sizes() != y.items[k].sizes() ||
            x.items[k].scalar_type() != y.items[k].scalar_type() ||
            !at::equal(x.items[k], y.items[k])) {
          return false;
        }
      }
    } else if (x.value.sizes() != y.value.sizes() ||
               x.value.scalar_type() != y.value.scalar_type() || !at::equal(x.value, y.value)) {
      return false;
    }
  }
  return true;
}

}  // namespace

MetricCollection::MetricCollection(Named metrics, MetricCollectionOptions options)
    : metrics_(std::move(metrics)), options_(std::move(options)) {
  std::set<std::string> seen;
  for (const auto& [name, metric] : metrics_) {
    LIGHTNING_CHECK(metric != nullptr, "MetricCollection: the metric under '", name,
                    "' is a null pointer.");
    LIGHTNING_CHECK(!name.empty() && name.find('.') == std::string::npos,
                    "MetricCollection: a key must be non-empty and without '.', got '", name, "'.");
    LIGHTNING_CHECK(seen.insert(name).second, "MetricCollection: two metrics are both named '",
                    name, "'. Give them distinct keys (the Named form).");
    register_module(name, metric);
  }
  for (size_t i = 0; i < metrics_.size(); ++i) groups_.push_back({i});
}

namespace {
MetricCollection::Named by_class_name(const std::vector<std::shared_ptr<Metric>>& metrics) {
  MetricCollection::Named named;
  for (const auto& m : metrics) {
    LIGHTNING_CHECK(m != nullptr, "MetricCollection: metric ", named.size(), " is a null pointer.");
    named.emplace_back(m->metric_name(), m);
  }
  return named;
}
}  // namespace

MetricCollection::MetricCollection(const std::vector<std::shared_ptr<Metric>>& metrics,
                                   MetricCollectionOptions options)
    : MetricCollection(by_class_name(metrics), std::move(options)) {}

std::string MetricCollection::key(const std::string& name) const {
  return options_.prefix() + name + options_.postfix();
}

template <typename... T>
void MetricCollection::update_all(const T&... inputs) {
  if (!groups_checked_) {
    for (auto& [name, metric] : metrics_) metric->update(inputs...);
    if (options_.compute_groups()) detect_groups();
    groups_checked_ = true;
    return;
  }
  for (const auto& group : groups_) {
    Metric& leader = *metrics_[group[0]].second;
    leader.update(inputs...);
    for (size_t k = 1; k < group.size(); ++k) metrics_[group[k]].second->copy_states_from(leader);
  }
}

void MetricCollection::detect_groups() {
  std::vector<std::vector<size_t>> groups;
  for (size_t i = 0; i < metrics_.size(); ++i) {
    bool placed = false;
    for (auto& g : groups) {
      if (same_states(*metrics_[g[0]].second, *metrics_[i].second)) {
        g.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) groups.push_back({i});
  }
  groups_ = std::move(groups);
}

void MetricCollection::update(const at::Tensor& a) { update_all(a); }

void MetricCollection::update(const at::Tensor& a, const at::Tensor& b) { update_all(a, b); }

std::map<std::string, at::Tensor> MetricCollection::forward(const at::Tensor& a) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, metric] : metrics_) out[key(name)] = metric->forward(a);
  return out;
}

std::map<std::string, at::Tensor> MetricCollection::forward(const at::Tensor& a,
                                                            const at::Tensor& b) {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, metric] : metrics_) out[key(name)] = metric->forward(a, b);
  return out;
}

std::map<std::string, at::Tensor> MetricCollection::compute() {
  std::map<std::string, at::Tensor> out;
  for (auto& [name, metric] : metrics_) out[key(name)] = metric->compute();
  return out;
}

void MetricCollection::reset() {
  for (auto& [name, metric] : metrics_) metric->reset();
}

MetricCollection::Named MetricCollection::items() const {
  Named out;
  for (const auto& [name, metric] : metrics_) out.emplace_back(key(name), metric);
  return out;
}

std::shared_ptr<Metric> MetricCollection::operator[](const std::string& name) const {
  for (const auto& [k, metric] : metrics_) {
    if (k == name) return metric;
  }
  std::string keys;
  for (const auto& [k, metric] : metrics_) keys += (keys.empty() ? "" : ", ") + k;
  LIGHTNING_FAIL("MetricCollection has no metric '", name, "'; its keys are: ", keys, ".");
}

std::vector<std::vector<std::string>> MetricCollection::compute_group_keys() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& g : groups_) {
    out.emplace_back();
    for (size_t i : g) out.back().push_back(metrics_[i].first);
  }
  return out;
}

}  // namespace lightning::metrics
