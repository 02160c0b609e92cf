// One training run in both worlds: tests/lightning/parity_lightning.py runs it
// with real PyTorch Lightning and writes the data, the initial weights, its
// metrics.csv and its final weights; lightning.cpp then runs the same fit from
// the same files (no shuffling) and both metrics.csv files and both sets of
// final weights must agree.
//
// The run: MLP 8-16-3 with Tanh, cross-entropy, SGD with momentum and weight
// decay, OneCycleLR stepped at every optimizer step, accumulate_grad_batches=2
// (9 batches an epoch: the last window holds one batch), gradient clipping by
// norm, validation every epoch, log_every_n_steps=1, 3 epochs, CSVLogger.
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lightning/lightning.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::TempDir;

namespace {

constexpr double kMetricRelTol = 1e-5;
constexpr double kWeightAbsTol = 1e-6;

// The module of parity_lightning.py, line by line.
class ParityModel : public L::LightningModule {
 public:
  ParityModel() {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::Tanh(),
                                                       torch::nn::Linear(16, 3)));
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    log("train_loss", loss, L::LogOptions().on_step(true).on_epoch(true));
    log("lr", lr_schedulers()[0]->get_last_lr()[0]);
    return loss;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    auto [x, y] = batch.unpack<2>();
    log("val_loss", torch::nn::functional::cross_entropy(net->forward(x), y));
    return {};
  }
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-3));
    auto sched = std::make_shared<L::OneCycleLR>(
        opt, L::OneCycleLROptions(0.2).total_steps(trainer().estimated_stepping_batches()));
    return {{opt}, {{sched, L::SchedulerConfig().interval("step")}}};
  }
  torch::nn::Sequential net{nullptr};
};

at::Tensor tensor_at(const L::StateDict& dict, const std::string& key) {
  return L::state_value(dict, key, "data.pt").toTensor();
}

// ---- metrics.csv ----------------------------------------------------------

struct Csv {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;  // column -> cell ("" when empty)
};

std::vector<std::string> split_cells(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

Csv read_csv(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  Csv csv;
  std::string line;
  if (!std::getline(in, line)) return csv;
  csv.header = split_cells(line);
  while (std::getline(in, line)) {
    if (line.empty() || line == "\r") continue;
    const auto cells = split_cells(line);
    EXPECT_EQ(cells.size(), csv.header.size()) << path << ": row \"" << line << "\"";
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < csv.header.size(); ++i) {
      row[csv.header[i]] = i < cells.size() ? cells[i] : "";
    }
    csv.rows.push_back(row);
  }
  return csv;
}

double parse_number(const std::string& cell, const std::string& where) {
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  EXPECT_TRUE(end != cell.c_str() && *end == '\0') << where << ": \"" << cell << "\" is no number";
  return v;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// ---- weights ---------------------------------------------------------------

// Max |a - b| over every tensor of two state dicts with the same keys.
double max_weight_diff(const L::StateDict& got, const L::StateDict& want, const std::string& what) {
  double worst = 0.0;
  std::set<std::string> got_keys, want_keys;
  for (const auto& e : got) got_keys.insert(e.key().toStringRef());
  for (const auto& e : want) want_keys.insert(e.key().toStringRef());
  EXPECT_EQ(got_keys, want_keys) << what << ": state_dict keys differ";
  for (const auto& e : want) {
    const std::string key = e.key().toStringRef();
    auto it = got.find(e.key());
    if (it == got.end()) continue;
    const at::Tensor a = it->value().toTensor().to(at::kDouble);
    const at::Tensor b = e.value().toTensor().to(at::kDouble);
    EXPECT_EQ(a.sizes(), b.sizes()) << what << ": " << key;
    if (a.sizes() != b.sizes()) continue;
    worst = std::max(worst, (a - b).abs().max().item<double>());
  }
  return worst;
}

TEST(LightningParity, TrainingRunMatchesPythonLightning) {
  const auto started = std::chrono::steady_clock::now();
  TempDir dir("lightning_parity");
  const auto py = L::testing::run_python(std::string(LIGHTNING_ORACLE_DIR) + "/parity_lightning.py",
                                         {dir.str()});
  ASSERT_EQ(py.status, 0) << py.describe();
  std::istringstream py_out(py.out);
  std::string ok;
  int64_t py_step = -1, py_epoch = -1;
  py_out >> ok >> py_step >> py_epoch;
  ASSERT_EQ(ok, "ok") << py.describe();

  // Same data, same initial weights.
  const L::StateDict data = L::load_checkpoint_file(dir.file("data.pt"));
  auto model = std::make_shared<ParityModel>();
  L::load_module_state_dict(*model, L::load_checkpoint_file(dir.file("init.pt")), "init.pt");
  L::DataLoader train(std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{
                          tensor_at(data, "train_x"), tensor_at(data, "train_y")}),
                      L::DataLoaderOptions().batch_size(4));
  L::DataLoader val(std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{
                        tensor_at(data, "val_x"), tensor_at(data, "val_y")}),
                    L::DataLoaderOptions().batch_size(5));

  auto csv = std::make_shared<L::CSVLogger>(
      L::CSVLoggerOptions(dir.str()).name("cpp").version(0).report(false));
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(3)
                         .accelerator("cpu")
                         .devices(1)
                         .accumulate_grad_batches(2)
                         .gradient_clip_val(0.5)
                         .gradient_clip_algorithm("norm")
                         .check_val_every_n_epoch(1)
                         .log_every_n_steps(1)
                         .logger(csv)
                         .enable_checkpointing(false)
                         .enable_progress_bar(false)
                         .enable_model_summary(false)
                         .num_threads(1));
  trainer.fit(model, train, val);
  EXPECT_EQ(trainer.global_step(), py_step);
  EXPECT_EQ(trainer.current_epoch(), py_epoch);

  // metrics.csv: same columns, same rows, same step/epoch, values within 1e-5.
  const Csv want = read_csv(dir.file("py/version_0/metrics.csv"));
  const Csv got = read_csv(dir.file("cpp/version_0/metrics.csv"));
  ASSERT_FALSE(want.header.empty());
  EXPECT_EQ(std::set<std::string>(got.header.begin(), got.header.end()),
            std::set<std::string>(want.header.begin(), want.header.end()))
      << "lightning.cpp header: " << join(got.header)
      << "\nLightning header:    " << join(want.header);
  EXPECT_EQ(got.rows.size(), want.rows.size()) << "metrics.csv rows";
  double worst_rel = 0.0, worst_abs = 0.0;
  std::string worst_where;
  const size_t rows = std::min(got.rows.size(), want.rows.size());
  for (size_t r = 0; r < rows; ++r) {
    for (const auto& column : want.header) {
      auto it = got.rows[r].find(column);
      if (it == got.rows[r].end()) continue;  // reported by the header check
      const std::string& a = it->second;
      const std::string& b = want.rows[r].at(column);
      const std::string where =
          "row " + std::to_string(r + 1) + " (step " + want.rows[r].at("step") + ") " + column;
      if (a.empty() || b.empty()) {
        EXPECT_EQ(a.empty(), b.empty())
            << where << ": lightning.cpp \"" << a << "\", Lightning \"" << b << "\"";
        continue;
      }
      const double x = parse_number(a, "lightning.cpp " + where);
      const double y = parse_number(b, "Lightning " + where);
      if (column == "step" || column == "epoch") {
        EXPECT_EQ(x, y) << where;
        continue;
      }
      const double abs = std::fabs(x - y);
      const double scale = std::max(std::fabs(x), std::fabs(y));
      const double rel = scale == 0.0 ? 0.0 : abs / scale;
      EXPECT_LE(rel, kMetricRelTol) << where << ": lightning.cpp " << a << ", Lightning " << b
                                    << " (relative diff " << rel << ")";
      if (rel > worst_rel) worst_where = where;
      worst_rel = std::max(worst_rel, rel);
      worst_abs = std::max(worst_abs, abs);
    }
  }

  // Final weights.
  const double weight_diff =
      max_weight_diff(L::module_state_dict(*model),
                      L::load_checkpoint_file(dir.file("py_final.pt")), "final weights");
  EXPECT_LE(weight_diff, kWeightAbsTol) << "final weights: max abs diff " << weight_diff;
  EXPECT_GT(max_weight_diff(L::module_state_dict(*model),
                            L::load_checkpoint_file(dir.file("init.pt")), "final vs initial"),
            1e-3)
      << "the fit did not train";

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[parity] metrics.csv: " << want.header.size() << " columns, " << want.rows.size()
            << " rows; max relative diff " << worst_rel << " (" << worst_where << "), max abs diff "
            << worst_abs << "; final weights max abs diff " << weight_diff << "; " << seconds
            << " s\n";
}

}  // namespace
