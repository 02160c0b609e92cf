// ModelSummary against Python Lightning 2.6: the nested model of
// tests/model_summary_reference.py, summarized at max_depth 0, 1, 2 and -1,
// must print model_summary_reference.txt (which that script wrote) exactly.
// And the callback itself: max_depth 0 prints nothing, as Lightning's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "lightning/callbacks/model_summary.h"
#include "support/boring.h"

namespace L = lightning;

namespace {

// libtorch cannot put a Sequential inside a Sequential; this one (a module
// named "Sequential" with children "0" and "1") stands for the inner block.
namespace inner {
struct SequentialImpl : torch::nn::Module {
  SequentialImpl() {
    linear = register_module("0", torch::nn::Linear(64, 64));
    tanh = register_module("1", torch::nn::Tanh());
  }
  at::Tensor forward(const at::Tensor& x) { return tanh(linear(x)); }
  torch::nn::Linear linear{nullptr};
  torch::nn::Tanh tanh{nullptr};
};
TORCH_MODULE(Sequential);
}  // namespace inner

// tests/model_summary_reference.py's Nested, in C++ (same registration order).
struct Nested : torch::nn::Module {
  Nested() {
    encoder = register_module(
        "encoder",
        torch::nn::Sequential(torch::nn::Linear(32, 64), torch::nn::ReLU(), inner::Sequential()));
    head = register_module("head", torch::nn::Linear(64, 10));
    scale = register_parameter("scale", torch::ones({5}));
    encoder->ptr(2)->eval();
    head->bias.requires_grad_(false);
  }
  torch::nn::Sequential encoder{nullptr};
  torch::nn::Linear head{nullptr};
  at::Tensor scale;
};

// "=== max_depth=N" sections of the reference file.
std::map<int64_t, std::string> reference_tables() {
  std::ifstream in(std::string(LIGHTNING_TEST_SOURCE_DIR) + "/model_summary_reference.txt");
  EXPECT_TRUE(in.good()) << "model_summary_reference.txt not found";
  std::map<int64_t, std::string> tables;
  std::string line;
  int64_t depth = 0;
  while (std::getline(in, line)) {
    if (line.rfind("=== max_depth=", 0) == 0) {
      depth = std::stoll(line.substr(14));
      tables[depth];
      continue;
    }
    std::string& table = tables[depth];
    table += (table.empty() ? "" : "\n") + line;
  }
  return tables;
}

}  // namespace

TEST(ModelSummaryReference, MatchesPythonLightningAtEveryDepth) {
  const auto tables = reference_tables();
  ASSERT_EQ(tables.size(), 4u);
  Nested model;
  for (const auto& [depth, expected] : tables) {
    EXPECT_EQ(L::ModelSummary::summarize(model, depth), expected) << "max_depth=" << depth;
  }
}

TEST(ModelSummaryReference, CallbackPrintsTheTableAndNothingAtDepthZero) {
  for (int64_t depth : {0, 2}) {
    std::ostringstream out;
    auto summary =
        std::make_shared<L::ModelSummary>(L::ModelSummaryOptions().max_depth(depth).stream(&out));
    L::Trainer trainer(L::testing::quiet().max_steps(1).callbacks({summary}));
    auto model = std::make_shared<L::testing::BoringModule>();
    trainer.fit(model, L::DataLoaders(L::testing::loader(4, 2)));
    if (depth == 0) {
      EXPECT_EQ(out.str(), "");
    } else {
      EXPECT_EQ(out.str(), L::ModelSummary::summarize(*model, depth) + "\n");
      EXPECT_THAT(out.str(), ::testing::HasSubstr("0 | layer | Linear | 66     | train | 0"));
    }
  }
}
