// Precision modes and the GradScaler: the loss scaler's logic on CPU with
// fp32 tensors, autocast scopes, dtype conversions, and (when CUDA is there)
// fp16 autocast.
#include "lightning/precision.h"

#include <ATen/autocast_mode.h>
#include <c10/core/DefaultDtype.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "detail/torch_compat.h"
#include "support/cuda.h"
#include "support/errors.h"

namespace L = lightning;
namespace torch_compat = lightning::detail::torch_compat;

namespace {

/// A Linear(4, 2) with SGD, and a fixed batch to compute an MSE loss on.
struct Net {
  explicit Net(uint64_t seed = 0, double lr = 0.1) {
    torch::manual_seed(seed);
    linear = torch::nn::Linear(4, 2);
    opt = std::make_unique<torch::optim::SGD>(linear->parameters(), torch::optim::SGDOptions(lr));
    x = torch::randn({8, 4});
    y = torch::randn({8, 2});
  }
  at::Tensor loss() { return torch::nn::functional::mse_loss(linear->forward(x), y); }
  at::Tensor weight() const { return linear->weight.detach().clone(); }

  torch::nn::Linear linear{nullptr};
  std::unique_ptr<torch::optim::SGD> opt;
  at::Tensor x, y;
};

/// One clean scaled step: zero_grad, backward of the scaled loss, step, update.
bool scaled_step(L::GradScaler& scaler, Net& net) {
  net.opt->zero_grad();
  scaler.scale(net.loss()).backward();
  const bool stepped = scaler.step(*net.opt);
  scaler.update();
  return stepped;
}

/// A parameter with a gradient set by hand: the cheapest thing to step.
struct Manual {
  Manual() {
    param = torch::zeros({3}, torch::requires_grad());
    opt = std::make_unique<torch::optim::SGD>(std::vector<at::Tensor>{param},
                                              torch::optim::SGDOptions(0.0));
  }
  void set_grad(double value) { param.mutable_grad() = torch::full({3}, value); }
  at::Tensor param;
  std::unique_ptr<torch::optim::SGD> opt;
};

bool manual_step(L::GradScaler& scaler, Manual& m, double grad = 1.0) {
  m.set_grad(grad);
  const bool stepped = scaler.step(*m.opt);
  scaler.update();
  return stepped;
}

}  // namespace

// ---- parse_precision ----------------------------------------------------------

TEST(ParsePrecision, EverySpelling) {
  EXPECT_EQ(L::parse_precision("32-true"), L::PrecisionMode::k32True);
  EXPECT_EQ(L::parse_precision("32"), L::PrecisionMode::k32True);
  EXPECT_EQ(L::parse_precision("64-true"), L::PrecisionMode::k64True);
  EXPECT_EQ(L::parse_precision("64"), L::PrecisionMode::k64True);
  EXPECT_EQ(L::parse_precision("bf16-mixed"), L::PrecisionMode::kBf16Mixed);
  EXPECT_EQ(L::parse_precision("bf16"), L::PrecisionMode::kBf16Mixed);
  EXPECT_EQ(L::parse_precision("bf16-true"), L::PrecisionMode::kBf16True);
  EXPECT_EQ(L::parse_precision("16-mixed"), L::PrecisionMode::k16Mixed);
  EXPECT_EQ(L::parse_precision("16"), L::PrecisionMode::k16Mixed);
  EXPECT_EQ(L::parse_precision("16-true"), L::PrecisionMode::k16True);
}

TEST(ParsePrecision, CanonicalNamesRoundTrip) {
  for (const char* name :
       {"32-true", "64-true", "bf16-mixed", "bf16-true", "16-mixed", "16-true"}) {
    EXPECT_EQ(L::precision_name(L::parse_precision(name)), name);
  }
  EXPECT_EQ(L::precision_name(L::parse_precision("bf16")), "bf16-mixed");
  EXPECT_EQ(L::precision_name(L::parse_precision("16")), "16-mixed");
}

TEST(ParsePrecision, UnknownStringListsAcceptedValues) {
  EXPECT_LIGHTNING_ERROR(L::parse_precision("fp16"), "got \"fp16\"");
  EXPECT_LIGHTNING_ERROR(L::parse_precision("fp16"), "\"bf16-mixed\"");
  EXPECT_LIGHTNING_ERROR(L::parse_precision("16-MIXED"), "\"16-mixed\"");
  EXPECT_LIGHTNING_ERROR(L::parse_precision(""), "legacy \"32\", \"64\", \"bf16\", \"16\"");
}

// ---- GradScaler ---------------------------------------------------------------

TEST(GradScaler, DefaultsAreTorchs) {
  L::GradScaler scaler;
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  EXPECT_TRUE(scaler.is_enabled());
  EXPECT_EQ(scaler.options().growth_factor(), 2.0);
  EXPECT_EQ(scaler.options().backoff_factor(), 0.5);
  EXPECT_EQ(scaler.options().growth_interval(), 2000);
}

TEST(GradScaler, ScaleMultipliesTheLoss) {
  L::GradScaler scaler;
  auto loss = torch::tensor(2.5);
  auto scaled = scaler.scale(loss);
  EXPECT_EQ(scaled.scalar_type(), at::kFloat);
  EXPECT_EQ(scaled.item<double>(), 2.5 * 65536.0);
  // As PyTorch (whose scale is a float32 tensor): at least float32.
  EXPECT_EQ(scaler.scale(loss.to(at::kHalf)).scalar_type(), at::kFloat);
  EXPECT_EQ(scaler.scale(loss.to(at::kHalf)).item<double>(), 2.5 * 65536.0);
  EXPECT_EQ(scaler.scale(loss.to(at::kDouble)).scalar_type(), at::kDouble);
  // Gradients flow through the scaling.
  auto w = torch::tensor(3.0, torch::requires_grad());
  scaler.scale(w * 2).backward();
  EXPECT_EQ(w.grad().item<double>(), 2.0 * 65536.0);
}

TEST(GradScaler, StepUnscalesSoTheUpdateEqualsTheUnscaledOne) {
  Net plain(1), scaled(1);
  ASSERT_TRUE(torch::equal(plain.weight(), scaled.weight()));
  L::GradScaler scaler;
  for (int i = 0; i < 3; ++i) {
    plain.opt->zero_grad();
    plain.loss().backward();
    plain.opt->step();

    scaled.opt->zero_grad();
    scaler.scale(scaled.loss()).backward();
    EXPECT_FALSE(torch::allclose(scaled.linear->weight.grad(), plain.linear->weight.grad()));
    EXPECT_TRUE(scaler.step(*scaled.opt));
    // step() unscaled the gradients in place.
    EXPECT_TRUE(
        torch::allclose(scaled.linear->weight.grad(), plain.linear->weight.grad(), 1e-6, 0.0));
    scaler.update();
    EXPECT_TRUE(torch::allclose(scaled.weight(), plain.weight(), 1e-6, 0.0));
    EXPECT_TRUE(
        torch::allclose(scaled.linear->bias.detach(), plain.linear->bias.detach(), 1e-6, 0.0));
  }
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  EXPECT_EQ(scaler.growth_tracker(), 3);
}

TEST(GradScaler, UnscaleBeforeStepIsNotRepeatedByStep) {
  Net plain(2), scaled(2);
  L::GradScaler scaler(L::GradScalerOptions().init_scale(1024));
  plain.opt->zero_grad();
  plain.loss().backward();
  plain.opt->step();

  scaled.opt->zero_grad();
  scaler.scale(scaled.loss()).backward();
  scaler.unscale_(*scaled.opt);  // e.g. before gradient clipping
  EXPECT_TRUE(
      torch::allclose(scaled.linear->weight.grad(), plain.linear->weight.grad(), 1e-6, 0.0));
  EXPECT_TRUE(scaler.step(*scaled.opt));
  scaler.update();
  EXPECT_TRUE(torch::allclose(scaled.weight(), plain.weight(), 1e-6, 0.0));
}

TEST(GradScaler, InfAndNanGradientsSkipTheStepAndBackOff) {
  for (double bad :
       {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    SCOPED_TRACE(bad);
    Net net(3);
    L::GradScaler scaler;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(scaled_step(scaler, net));
    ASSERT_EQ(scaler.growth_tracker(), 3);

    const auto weight = net.weight();
    const auto bias = net.linear->bias.detach().clone();
    net.opt->zero_grad();
    scaler.scale(net.loss()).backward();
    // Only the bias gets the bad value: the weight's gradient is clean, and
    // still nothing of the optimizer moves.
    net.linear->bias.mutable_grad()[1] = bad;
    EXPECT_FALSE(scaler.step(*net.opt));
    scaler.update();
    EXPECT_TRUE(torch::equal(net.weight(), weight));
    EXPECT_TRUE(torch::equal(net.linear->bias.detach(), bias));
    EXPECT_EQ(scaler.get_scale(), 32768.0);
    EXPECT_EQ(scaler.growth_tracker(), 0);

    // Training goes on with the halved scale.
    EXPECT_TRUE(scaled_step(scaler, net));
    EXPECT_FALSE(torch::equal(net.weight(), weight));
    EXPECT_EQ(scaler.get_scale(), 32768.0);
    EXPECT_EQ(scaler.growth_tracker(), 1);
  }
}

TEST(GradScaler, AnInfInOneOptimizerSkipsOnlyThatOneAndBacksOff) {
  Manual a, b;
  L::GradScaler scaler;
  a.set_grad(1.0);
  b.set_grad(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(scaler.step(*a.opt));
  EXPECT_FALSE(scaler.step(*b.opt));
  scaler.update();
  EXPECT_EQ(scaler.get_scale(), 32768.0);
}

TEST(GradScaler, TwoThousandCleanStepsDoubleTheScale) {
  Manual m;
  L::GradScaler scaler;
  for (int i = 0; i < 1999; ++i) ASSERT_TRUE(manual_step(scaler, m));
  EXPECT_EQ(scaler.get_scale(), 65536.0);
  EXPECT_EQ(scaler.growth_tracker(), 1999);
  EXPECT_TRUE(manual_step(scaler, m));
  EXPECT_EQ(scaler.get_scale(), 131072.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
}

TEST(GradScaler, CustomOptions) {
  Manual m;
  L::GradScaler scaler(
      L::GradScalerOptions().init_scale(8).growth_factor(4).backoff_factor(0.25).growth_interval(
          3));
  EXPECT_EQ(scaler.get_scale(), 8.0);
  for (int i = 0; i < 2; ++i) manual_step(scaler, m);
  EXPECT_EQ(scaler.get_scale(), 8.0);
  manual_step(scaler, m);
  EXPECT_EQ(scaler.get_scale(), 32.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  EXPECT_FALSE(manual_step(scaler, m, std::nan("")));
  EXPECT_EQ(scaler.get_scale(), 8.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  // The gradient is divided by the scale.
  m.set_grad(16.0);
  scaler.unscale_(*m.opt);
  EXPECT_TRUE(torch::allclose(m.param.grad(), torch::full({3}, 2.0)));
}

TEST(GradScaler, ScaleStaysFloat32AndGrowthNeverOverflows) {
  Manual m;
  // 0.1 is stored as the float32 0.1, as torch.full((1,), 0.1, dtype=float32).
  L::GradScaler tenth(L::GradScalerOptions().init_scale(0.1));
  EXPECT_EQ(tenth.get_scale(), static_cast<double>(0.1f));

  L::GradScaler huge(L::GradScalerOptions().init_scale(std::ldexp(1.0, 127)).growth_interval(1));
  manual_step(huge, m);  // 2^128 is not a float32: the growth is skipped
  EXPECT_EQ(huge.get_scale(), std::ldexp(1.0, 127));
  EXPECT_EQ(huge.growth_tracker(), 0);
}

TEST(GradScaler, DisabledIsAPassThrough) {
  L::GradScaler scaler(L::GradScalerOptions().enabled(false));
  EXPECT_FALSE(scaler.is_enabled());
  EXPECT_EQ(scaler.get_scale(), 1.0);
  auto loss = torch::tensor(3.0);
  EXPECT_TRUE(scaler.scale(loss).is_same(loss));
  Manual m;
  m.set_grad(std::numeric_limits<double>::infinity());
  scaler.unscale_(*m.opt);
  scaler.unscale_(*m.opt);  // no bookkeeping at all
  EXPECT_TRUE(scaler.step(*m.opt));
  scaler.update();
  EXPECT_EQ(scaler.state_dict().size(), 0u);
  scaler.load_state_dict(L::make_state_dict());  // ignored, as PyTorch
}

TEST(GradScaler, StateDictHasPyTorchsKeys) {
  L::GradScaler scaler(L::GradScalerOptions().init_scale(1024).growth_interval(7));
  Manual m;
  manual_step(scaler, m);
  manual_step(scaler, m);
  const auto state = scaler.state_dict();
  std::vector<std::string> keys;
  for (const auto& entry : state) keys.push_back(entry.key().toStringRef());
  EXPECT_EQ(keys, (std::vector<std::string>{"scale", "growth_factor", "backoff_factor",
                                            "growth_interval", "_growth_tracker"}));
  EXPECT_TRUE(state.at("scale").isDouble());
  EXPECT_EQ(state.at("scale").toDouble(), 1024.0);
  EXPECT_EQ(state.at("growth_factor").toDouble(), 2.0);
  EXPECT_EQ(state.at("backoff_factor").toDouble(), 0.5);
  EXPECT_TRUE(state.at("growth_interval").isInt());
  EXPECT_EQ(state.at("growth_interval").toInt(), 7);
  EXPECT_TRUE(state.at("_growth_tracker").isInt());
  EXPECT_EQ(state.at("_growth_tracker").toInt(), 2);
}

TEST(GradScaler, StateDictRoundTripContinuesIdentically) {
  L::GradScaler original(
      L::GradScalerOptions().init_scale(256).growth_factor(3).backoff_factor(0.125).growth_interval(
          4));
  Manual m1, m2;
  manual_step(original, m1, std::numeric_limits<double>::infinity());  // 256 -> 32
  manual_step(original, m1);
  manual_step(original, m1);
  ASSERT_EQ(original.get_scale(), 32.0);
  ASSERT_EQ(original.growth_tracker(), 2);

  L::GradScaler restored;  // PyTorch's defaults, overwritten by the state
  restored.load_state_dict(original.state_dict());
  EXPECT_EQ(restored.get_scale(), 32.0);
  EXPECT_EQ(restored.growth_tracker(), 2);
  EXPECT_EQ(restored.options().growth_factor(), 3.0);
  EXPECT_EQ(restored.options().backoff_factor(), 0.125);
  EXPECT_EQ(restored.options().growth_interval(), 4);

  // Through the growth boundary, a backoff, and the next growth.
  const double inf = std::numeric_limits<double>::infinity();
  for (double grad : {1.0, 1.0, 1.0, inf, 1.0, 1.0, 1.0, 1.0, 1.0}) {
    EXPECT_EQ(manual_step(original, m1, grad), manual_step(restored, m2, grad));
    EXPECT_EQ(original.get_scale(), restored.get_scale());
    EXPECT_EQ(original.growth_tracker(), restored.growth_tracker());
  }
  EXPECT_EQ(restored.get_scale(), 96.0 * 0.125 * 3.0);
  EXPECT_EQ(original.state_dict(), restored.state_dict());
}

TEST(GradScaler, LoadStateDictErrorsNameTheKey) {
  L::GradScaler saved;
  const auto full = saved.state_dict();
  for (const char* key :
       {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}) {
    auto state = full.copy();
    ASSERT_EQ(state.erase(key), 1u);
    L::GradScaler scaler;
    EXPECT_LIGHTNING_ERROR(scaler.load_state_dict(state),
                           std::string("GradScaler.load_state_dict: the state has no \"") + key);
  }
  auto mistyped = full.copy();
  mistyped.insert_or_assign("growth_interval", 2000.0);
  L::GradScaler scaler;
  EXPECT_LIGHTNING_ERROR(scaler.load_state_dict(mistyped),
                         "\"growth_interval\" must be an integer");
  EXPECT_LIGHTNING_ERROR(scaler.load_state_dict(L::make_state_dict()),
                         "saved from a disabled GradScaler");
  auto bad = full.copy();
  bad.insert_or_assign("_growth_tracker", int64_t{2000});
  EXPECT_LIGHTNING_ERROR(scaler.load_state_dict(bad), "\"_growth_tracker\" must be in [0, ");
  auto negative = full.copy();
  negative.insert_or_assign("scale", -1.0);
  EXPECT_LIGHTNING_ERROR(scaler.load_state_dict(negative), "must be a positive number");
  // Nothing of a failed load was applied.
  EXPECT_EQ(scaler.get_scale(), 65536.0);
}

TEST(GradScaler, UnscaleTwiceIsAnError) {
  Manual m;
  L::GradScaler scaler;
  m.set_grad(1.0);
  scaler.unscale_(*m.opt);
  EXPECT_LIGHTNING_ERROR(
      scaler.unscale_(*m.opt),
      "unscale_() has already been called on this optimizer since the last update()");
  EXPECT_TRUE(scaler.step(*m.opt));
  EXPECT_LIGHTNING_ERROR(scaler.unscale_(*m.opt), "unscale_() is being called after step()");
  EXPECT_LIGHTNING_ERROR(scaler.step(*m.opt), "step() has already been called");
  scaler.update();
  // A new round after update().
  m.set_grad(1.0);
  scaler.unscale_(*m.opt);
  EXPECT_TRUE(scaler.step(*m.opt));
  scaler.update();
}

TEST(GradScaler, StepOrUpdateWithoutGradientsIsAnError) {
  Manual m;  // no gradient set
  L::GradScaler scaler;
  EXPECT_LIGHTNING_ERROR(scaler.step(*m.opt), "no inf checks were recorded for this optimizer");
  L::GradScaler fresh;
  EXPECT_LIGHTNING_ERROR(fresh.update(), "update() found no inf checks recorded");
}

TEST(GradScaler, BadOptionsAreErrors) {
  using O = L::GradScalerOptions;
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().init_scale(0)), "init_scale) must be a positive");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().init_scale(-2)), "got -2");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().init_scale(std::nan(""))), "must be a positive");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().init_scale(1e39)), "fits in float32");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().growth_factor(1.0)), "growth_factor must be > 1");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().growth_factor(0.5)), "got 0.5");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().backoff_factor(1.0)),
                         "backoff_factor must be in (0, 1)");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().backoff_factor(0.0)),
                         "backoff_factor must be in (0, 1)");
  EXPECT_LIGHTNING_ERROR(L::GradScaler(O().growth_interval(0)), "growth_interval must be >= 1");
}

// ---- Precision ----------------------------------------------------------------

TEST(Precision, Dtypes) {
  using M = L::PrecisionMode;
  EXPECT_EQ(L::Precision(M::k32True).param_dtype(), at::kFloat);
  EXPECT_EQ(L::Precision(M::k64True).param_dtype(), at::kDouble);
  EXPECT_EQ(L::Precision(M::kBf16Mixed).param_dtype(), at::kFloat);
  EXPECT_EQ(L::Precision(M::kBf16True).param_dtype(), at::kBFloat16);
  EXPECT_EQ(L::Precision(M::k16Mixed).param_dtype(), at::kFloat);
  EXPECT_EQ(L::Precision(M::k16True).param_dtype(), at::kHalf);

  EXPECT_EQ(L::Precision(M::kBf16Mixed).autocast_dtype(), at::kBFloat16);
  EXPECT_EQ(L::Precision(M::k16Mixed).autocast_dtype(), at::kHalf);
  for (M m : {M::k32True, M::k64True, M::kBf16True, M::k16True}) {
    EXPECT_FALSE(L::Precision(m).autocast_dtype().has_value());
    EXPECT_EQ(L::Precision(m).scaler(), nullptr);
  }
  EXPECT_EQ(L::Precision(M::kBf16Mixed).scaler(), nullptr);
  L::Precision fp16(M::k16Mixed, L::GradScalerOptions().init_scale(128));
  ASSERT_NE(fp16.scaler(), nullptr);
  EXPECT_EQ(fp16.scaler()->get_scale(), 128.0);
}

TEST(Precision, Bf16MixedAutocastsTheForwardOnCpu) {
  L::Precision precision(L::PrecisionMode::kBf16Mixed);
  torch::nn::Linear linear(4, 3);
  precision.setup(*linear, torch::kCPU);
  EXPECT_EQ(linear->weight.scalar_type(), at::kFloat);
  auto x = torch::randn({5, 4});
  ASSERT_FALSE(torch_compat::autocast_enabled(at::kCPU));
  at::Tensor out;
  {
    auto ctx = precision.forward_context(torch::kCPU);
    EXPECT_TRUE(torch_compat::autocast_enabled(at::kCPU));
    EXPECT_EQ(torch_compat::autocast_dtype(at::kCPU), at::kBFloat16);
    out = linear->forward(x);
    EXPECT_EQ(out.scalar_type(), at::kBFloat16);
    EXPECT_EQ(linear->weight.scalar_type(), at::kFloat);
  }
  EXPECT_FALSE(torch_compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(linear->forward(x).scalar_type(), at::kFloat);

  // Backward outside the scope: fp32 gradients for the fp32 weights.
  out.to(at::kFloat).pow(2).sum().backward();
  ASSERT_TRUE(linear->weight.grad().defined());
  EXPECT_EQ(linear->weight.grad().scalar_type(), at::kFloat);
  EXPECT_EQ(linear->bias.grad().scalar_type(), at::kFloat);
  // Mixed modes leave the batch alone.
  L::Batch batch{x};
  EXPECT_TRUE(precision.convert_input(batch)[0].is_same(x));
  EXPECT_TRUE(precision.pre_backward(x).is_same(x));
}

TEST(Precision, NestedScopesRestoreThePreviousState) {
  L::Precision bf16(L::PrecisionMode::kBf16Mixed);
  L::Precision fp32(L::PrecisionMode::k32True);
  torch::nn::Linear linear(4, 3);
  auto x = torch::randn({2, 4});
  {
    L::Precision::ForwardContext outer(bf16, torch::kCPU);
    {
      L::Precision::ForwardContext inner(bf16, torch::kCPU);
      EXPECT_EQ(linear->forward(x).scalar_type(), at::kBFloat16);
    }
    EXPECT_TRUE(torch_compat::autocast_enabled(at::kCPU));
    EXPECT_EQ(linear->forward(x).scalar_type(), at::kBFloat16);
    {
      L::Precision::ForwardContext none(fp32, torch::kCPU);  // does nothing
      EXPECT_TRUE(torch_compat::autocast_enabled(at::kCPU));
    }
    EXPECT_TRUE(torch_compat::autocast_enabled(at::kCPU));
  }
  EXPECT_FALSE(torch_compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(torch_compat::autocast_dtype(at::kCPU), at::kBFloat16);

  // A user's own autocast around ours stays on.
  torch_compat::set_autocast_enabled(at::kCPU, true);
  { L::Precision::ForwardContext ctx(bf16, torch::kCPU); }
  EXPECT_TRUE(torch_compat::autocast_enabled(at::kCPU));
  torch_compat::set_autocast_enabled(at::kCPU, false);

  // CPU scopes do not touch CUDA autocast.
  {
    L::Precision::ForwardContext ctx(bf16, torch::kCPU);
    EXPECT_FALSE(torch_compat::autocast_enabled(at::kCUDA));
  }
}

TEST(Precision, TrueModesSetTheDefaultDtypeInTheForward) {
  const auto before = c10::get_default_dtype();
  for (auto [mode, dtype] : {std::pair{L::PrecisionMode::k64True, at::kDouble},
                             std::pair{L::PrecisionMode::kBf16True, at::kBFloat16},
                             std::pair{L::PrecisionMode::k16True, at::kHalf}}) {
    L::Precision precision(mode);
    {
      auto ctx = precision.forward_context(torch::kCPU);
      EXPECT_EQ(torch::zeros({2}).scalar_type(), dtype);
      EXPECT_FALSE(torch_compat::autocast_enabled(at::kCPU));
    }
    EXPECT_EQ(c10::get_default_dtype(), before);
    EXPECT_EQ(torch::zeros({2}).scalar_type(), at::kFloat);
  }
  L::Precision fp32(L::PrecisionMode::k32True);
  auto ctx = fp32.forward_context(torch::kCPU);
  EXPECT_EQ(torch::zeros({2}).scalar_type(), at::kFloat);
}

TEST(Precision, TrueModesConvertParametersAndFloatBuffers) {
  for (auto [mode, dtype] : {std::pair{L::PrecisionMode::k64True, at::kDouble},
                             std::pair{L::PrecisionMode::kBf16True, at::kBFloat16},
                             std::pair{L::PrecisionMode::k16True, at::kHalf}}) {
    SCOPED_TRACE(L::precision_name(mode));
    torch::nn::Sequential net(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
    auto weight = net->parameters()[0];
    L::Precision precision(mode);
    precision.setup(*net, torch::kCPU);
    for (const auto& p : net->parameters()) EXPECT_EQ(p.scalar_type(), dtype);
    for (const auto& b : net->named_buffers()) {
      if (b.key().find("num_batches_tracked") != std::string::npos) {
        EXPECT_EQ(b.value().scalar_type(), at::kLong) << b.key();
      } else {
        EXPECT_EQ(b.value().scalar_type(), dtype) << b.key();
      }
    }
    // The same parameter objects (an optimizer made earlier still holds them).
    EXPECT_TRUE(net->parameters()[0].is_same(weight));
    EXPECT_TRUE(weight.requires_grad());
  }
  for (auto mode : {L::PrecisionMode::k32True, L::PrecisionMode::kBf16Mixed}) {
    torch::nn::Linear linear(4, 3);
    L::Precision(mode).setup(*linear, torch::kCPU);
    EXPECT_EQ(linear->weight.scalar_type(), at::kFloat);
  }
}

TEST(Precision, ConvertInputCastsFloatsButNotLabels) {
  L::Batch batch({"x", "y"}, {torch::randn({4, 3}), torch::tensor({0, 1, 2, 1})});
  ASSERT_EQ(batch[1].scalar_type(), at::kLong);
  for (auto [mode, dtype] : {std::pair{L::PrecisionMode::k64True, at::kDouble},
                             std::pair{L::PrecisionMode::kBf16True, at::kBFloat16},
                             std::pair{L::PrecisionMode::k16True, at::kHalf}}) {
    auto out = L::Precision(mode).convert_input(batch);
    EXPECT_EQ(out["x"].scalar_type(), dtype);
    EXPECT_EQ(out["y"].scalar_type(), at::kLong);
    EXPECT_TRUE(out["y"].is_same(batch[1]));
    EXPECT_EQ(out.names(), batch.names());
  }
  for (auto mode :
       {L::PrecisionMode::k32True, L::PrecisionMode::kBf16Mixed, L::PrecisionMode::k16Mixed}) {
    auto out = L::Precision(mode).convert_input(batch);
    EXPECT_TRUE(out[0].is_same(batch[0]));
  }
}

TEST(Precision, Fp64TrueTrainsInDouble) {
  L::Precision precision(L::PrecisionMode::k64True);
  Net net(4);
  precision.setup(*net.linear, torch::kCPU);
  L::Batch batch = precision.convert_input(L::Batch{net.x, net.y});
  net.opt->zero_grad();
  at::Tensor loss;
  {
    auto ctx = precision.forward_context(torch::kCPU);
    loss = torch::nn::functional::mse_loss(net.linear->forward(batch[0]), batch[1]);
  }
  EXPECT_EQ(loss.scalar_type(), at::kDouble);
  precision.pre_backward(loss).backward();
  EXPECT_EQ(net.linear->weight.grad().scalar_type(), at::kDouble);
  const auto before = net.weight();
  precision.unscale_gradients(*net.opt);  // no-op
  EXPECT_TRUE(precision.optimizer_step(*net.opt));
  EXPECT_FALSE(torch::equal(net.weight(), before));
}

TEST(Precision, Bf16TrueForwardOnCpu) {
  L::Precision precision(L::PrecisionMode::kBf16True);
  Net net(5);
  precision.setup(*net.linear, torch::kCPU);
  L::Batch batch = precision.convert_input(L::Batch{net.x, net.y});
  auto ctx = precision.forward_context(torch::kCPU);
  auto out = net.linear->forward(batch[0]) + torch::ones({2});  // default dtype: bf16
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
}

TEST(Precision, Fp16MixedNeedsCuda) {
  L::Precision precision(L::PrecisionMode::k16Mixed);
  torch::nn::Linear linear(4, 3);
  EXPECT_LIGHTNING_ERROR(precision.setup(*linear, torch::kCPU), "needs a CUDA device");
  EXPECT_LIGHTNING_ERROR(precision.setup(*linear, torch::kCPU), "\"bf16-mixed\"");
  EXPECT_LIGHTNING_ERROR(L::Precision::ForwardContext(precision, torch::kCPU), "\"bf16-mixed\"");
  EXPECT_FALSE(torch_compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(torch_compat::autocast_dtype(at::kCPU), at::kBFloat16);
}

TEST(Precision, Fp16MixedScalesAndStepsThroughTheScaler) {
  // The scaler's path of the plugin, on CPU fp32 tensors (no autocast).
  L::Precision precision(L::PrecisionMode::k16Mixed, L::GradScalerOptions().init_scale(512));
  Net plain(6), net(6);
  plain.opt->zero_grad();
  plain.loss().backward();
  plain.opt->step();

  net.opt->zero_grad();
  auto loss = net.loss();
  auto scaled = precision.pre_backward(loss);
  EXPECT_EQ(scaled.item<double>(), loss.item<double>() * 512);
  scaled.backward();
  precision.unscale_gradients(*net.opt);
  precision.unscale_gradients(*net.opt);  // already unscaled: no-op
  EXPECT_TRUE(torch::allclose(net.linear->weight.grad(), plain.linear->weight.grad(), 1e-6, 0.0));
  EXPECT_TRUE(precision.optimizer_step(*net.opt));
  EXPECT_TRUE(torch::allclose(net.weight(), plain.weight(), 1e-6, 0.0));
  EXPECT_EQ(precision.scaler()->growth_tracker(), 1);  // optimizer_step updated

  // An inf gradient: skipped, scale halved.
  const auto before = net.weight();
  net.opt->zero_grad();
  precision.pre_backward(net.loss()).backward();
  net.linear->weight.mutable_grad()[0][0] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(precision.optimizer_step(*net.opt));
  EXPECT_TRUE(torch::equal(net.weight(), before));
  EXPECT_EQ(precision.scaler()->get_scale(), 256.0);
}

TEST(Precision, OtherModesStepPlainly) {
  L::Precision precision(L::PrecisionMode::kBf16Mixed);
  Manual m;
  m.set_grad(std::numeric_limits<double>::infinity());
  precision.unscale_gradients(*m.opt);
  EXPECT_TRUE(precision.optimizer_step(*m.opt));
}

// ---- CUDA ---------------------------------------------------------------------

TEST(Precision, Fp16MixedAutocast_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  L::Precision precision(L::PrecisionMode::k16Mixed);
  torch::nn::Linear linear(4, 3);
  linear->to(torch::kCUDA);
  precision.setup(*linear, torch::kCUDA);
  auto x = torch::randn({5, 4}, torch::kCUDA);
  at::Tensor out;
  {
    auto ctx = precision.forward_context(torch::kCUDA);
    EXPECT_TRUE(torch_compat::autocast_enabled(at::kCUDA));
    out = linear->forward(x);
    EXPECT_EQ(out.scalar_type(), at::kHalf);
    EXPECT_EQ(linear->weight.scalar_type(), at::kFloat);
  }
  EXPECT_FALSE(torch_compat::autocast_enabled(at::kCUDA));
  EXPECT_EQ(linear->forward(x).scalar_type(), at::kFloat);
  precision.pre_backward(out.to(at::kFloat).pow(2).mean()).backward();
  EXPECT_EQ(linear->weight.grad().scalar_type(), at::kFloat);
  auto opt = torch::optim::SGD(linear->parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_TRUE(precision.optimizer_step(opt));
}

TEST(Precision, Bf16MixedAutocast_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  L::Precision precision(L::PrecisionMode::kBf16Mixed);
  torch::nn::Linear linear(4, 3);
  linear->to(torch::kCUDA);
  precision.setup(*linear, torch::kCUDA);
  auto ctx = precision.forward_context(torch::kCUDA);
  EXPECT_EQ(linear->forward(torch::randn({5, 4}, torch::kCUDA)).scalar_type(), at::kBFloat16);
}

TEST(GradScaler, StepOnCudaTensors_CUDA) {
  LIGHTNING_REQUIRE_CUDA(1);
  auto param = torch::zeros({3}, torch::TensorOptions().device(torch::kCUDA).requires_grad(true));
  torch::optim::SGD opt({param}, torch::optim::SGDOptions(1.0));
  L::GradScaler scaler(L::GradScalerOptions().init_scale(4));
  param.mutable_grad() = torch::full({3}, 8.0, torch::kCUDA);
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  EXPECT_TRUE(torch::allclose(param.detach().cpu(), torch::full({3}, -2.0)));
  param.mutable_grad() = torch::full({3}, std::nan(""), torch::kCUDA);
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_TRUE(torch::allclose(param.detach().cpu(), torch::full({3}, -2.0)));
  EXPECT_EQ(scaler.get_scale(), 2.0);
}
