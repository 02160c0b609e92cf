// The `trainer:` section of a LightningCLI config and class_path objects
// (src/cli/trainer_config.h): every TrainerOptions field under its Lightning
// name, Lightning's value syntax, callbacks and loggers by class name, user
// classes registered with one line, and the error messages.
#include "cli/trainer_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "lightning/callbacks/batch_size_finder.h"
#include "lightning/callbacks/device_stats_monitor.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/learning_rate_monitor.h"
#include "lightning/callbacks/lr_finder.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/on_exception_checkpoint.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/callbacks/throughput_monitor.h"
#include "lightning/callbacks/timer.h"
#include "lightning/cli_registry.h"
#include "lightning/hparams.h"
#include "lightning/loggers/csv_logger.h"
#include "lightning/loggers/tensorboard_logger.h"
#include "lightning/strategies/ddp.h"
#include "lightning/trainer.h"
#include "support/errors.h"

namespace L = lightning;
namespace D = lightning::detail;
using ::testing::HasSubstr;

namespace {

L::TrainerOptions apply(const std::string& yaml, L::TrainerOptions base = {}) {
  return D::apply_trainer_config(L::hparams_from_yaml(yaml), std::move(base));
}

std::string error_of_yaml(const std::string& yaml) {
  return L::testing::error_of([&] { apply(yaml); });
}

// The first (only) value of a one-key YAML mapping.
L::HParamValue value(const std::string& yaml) { return L::hparams_from_yaml("v: " + yaml).at("v"); }

template <typename T>
std::shared_ptr<T> callback(const std::string& yaml) {
  auto made = D::make_callback(value(yaml), "trainer.callbacks[0]");
  auto typed = std::dynamic_pointer_cast<T>(made);
  EXPECT_NE(typed, nullptr) << yaml;
  return typed;
}

template <typename T>
std::shared_ptr<T> logger(const std::string& yaml) {
  auto made = D::make_logger(value(yaml), "trainer.logger");
  auto typed = std::dynamic_pointer_cast<T>(made);
  EXPECT_NE(typed, nullptr) << yaml;
  return typed;
}

std::string callback_error(const std::string& yaml) {
  return L::testing::error_of([&] { D::make_callback(value(yaml), "trainer.callbacks[0]"); });
}
std::string logger_error(const std::string& yaml) {
  return L::testing::error_of([&] { D::make_logger(value(yaml), "trainer.logger"); });
}

}  // namespace

// ---- The field list -------------------------------------------------------------

TEST(TrainerFields, EveryTrainerOptionInOrderWithTypeDefaultAndDoc) {
  std::vector<std::string> names;
  for (const auto& f : D::trainer_fields()) {
    names.push_back(f.name);
    EXPECT_FALSE(f.type.empty()) << f.name;
    EXPECT_FALSE(f.doc.empty()) << f.name;
    EXPECT_EQ(f.doc.find('\n'), std::string::npos) << f.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "accelerator",
                       "devices",
                       "num_nodes",
                       "strategy",
                       "use_distributed_sampler",
                       "precision",
                       "max_epochs",
                       "min_epochs",
                       "max_steps",
                       "min_steps",
                       "max_time",
                       "limit_train_batches",
                       "limit_val_batches",
                       "limit_test_batches",
                       "limit_predict_batches",
                       "overfit_batches",
                       "val_check_interval",
                       "check_val_every_n_epoch",
                       "num_sanity_val_steps",
                       "accumulate_grad_batches",
                       "gradient_clip_val",
                       "gradient_clip_algorithm",
                       "log_every_n_steps",
                       "fast_dev_run",
                       "enable_checkpointing",
                       "enable_progress_bar",
                       "enable_model_summary",
                       "default_root_dir",
                       "deterministic",
                       "benchmark",
                       "profiler",
                       "detect_anomaly",
                       "inference_mode",
                       "reload_dataloaders_every_n_epochs",
                       "barebones",
                       "num_threads",
                       "tune_allocator",
                       "callbacks",
                       "logger",
                   }));
  auto field = [](const std::string& name) {
    for (const auto& f : D::trainer_fields()) {
      if (f.name == name) return f;
    }
    ADD_FAILURE() << name;
    return D::ConfigField{};
  };
  EXPECT_EQ(field("limit_val_batches").type, "Union[int, float, None]");
  EXPECT_EQ(field("limit_val_batches").default_value, L::HParamValue(1.0));
  EXPECT_EQ(field("max_epochs").type, "Optional[int]");
  EXPECT_TRUE(field("max_epochs").default_value.is_none());
  EXPECT_EQ(field("precision").default_value, L::HParamValue("32-true"));
  EXPECT_EQ(field("devices").default_value, L::HParamValue("auto"));
  EXPECT_EQ(field("logger").default_value, L::HParamValue(true));
  EXPECT_EQ(field("fast_dev_run").type, "Union[int, bool]");
  EXPECT_EQ(field("max_steps").default_value, L::HParamValue(-1));
}

TEST(TrainerFields, TheStatedDefaultsAppliedGiveTrainerOptionsDefaults) {
  L::HParams all;
  for (const auto& f : D::trainer_fields()) all.set(f.name, f.default_value);
  // Start from a base where every field differs, so each default is applied.
  L::TrainerOptions base;
  base.accelerator("cpu").devices(3).num_nodes(2).strategy("ddp").use_distributed_sampler(false);
  base.precision("bf16-mixed").max_epochs(4).min_epochs(2).max_steps(9).min_steps(3);
  base.limit_train_batches(2).limit_val_batches(3).limit_test_batches(4);
  base.limit_predict_batches(5).overfit_batches(6).val_check_interval(7);
  base.check_val_every_n_epoch(8).num_sanity_val_steps(0).accumulate_grad_batches(4);
  base.gradient_clip_val(1.0).gradient_clip_algorithm("value").log_every_n_steps(1);
  base.fast_dev_run(true).enable_checkpointing(false).enable_progress_bar(false);
  base.enable_model_summary(false).default_root_dir("x").deterministic(true).num_threads(2);
  base.tune_allocator(false).logger(false);
  base.callbacks({std::make_shared<L::ModelSummary>()});
  const L::TrainerOptions o = D::apply_trainer_config(all, base);
  const L::TrainerOptions d;
  EXPECT_EQ(o.accelerator(), d.accelerator());
  EXPECT_EQ(o.devices(), d.devices());
  EXPECT_EQ(o.num_nodes(), d.num_nodes());
  EXPECT_EQ(o.strategy().name(), "auto");
  EXPECT_EQ(o.strategy().object(), nullptr);
  EXPECT_EQ(o.use_distributed_sampler(), d.use_distributed_sampler());
  EXPECT_EQ(o.precision(), d.precision());
  EXPECT_EQ(o.max_epochs(), d.max_epochs());
  EXPECT_EQ(o.min_epochs(), d.min_epochs());
  EXPECT_EQ(o.max_steps(), d.max_steps());
  EXPECT_EQ(o.min_steps(), d.min_steps());
  for (const L::BatchLimit* limit :
       {&o.limit_train_batches(), &o.limit_val_batches(), &o.limit_test_batches(),
        &o.limit_predict_batches(), &o.val_check_interval()}) {
    EXPECT_TRUE(limit->is_fraction());
    EXPECT_EQ(limit->fraction(), 1.0);
  }
  EXPECT_TRUE(o.overfit_batches().is_fraction());
  EXPECT_EQ(o.overfit_batches().fraction(), 0.0);
  EXPECT_EQ(o.check_val_every_n_epoch(), d.check_val_every_n_epoch());
  EXPECT_EQ(o.num_sanity_val_steps(), d.num_sanity_val_steps());
  EXPECT_EQ(o.accumulate_grad_batches(), d.accumulate_grad_batches());
  EXPECT_EQ(o.gradient_clip_val(), d.gradient_clip_val());
  EXPECT_EQ(o.gradient_clip_algorithm(), d.gradient_clip_algorithm());
  EXPECT_EQ(o.log_every_n_steps(), d.log_every_n_steps());
  EXPECT_EQ(o.fast_dev_run().batches(), 0);
  EXPECT_EQ(o.enable_checkpointing(), d.enable_checkpointing());
  EXPECT_EQ(o.enable_progress_bar(), d.enable_progress_bar());
  EXPECT_EQ(o.enable_model_summary(), d.enable_model_summary());
  EXPECT_EQ(o.default_root_dir(), d.default_root_dir());
  EXPECT_EQ(o.deterministic(), d.deterministic());
  EXPECT_EQ(o.num_threads(), d.num_threads());
  EXPECT_EQ(o.tune_allocator(), d.tune_allocator());
  // The base's callbacks stay (LightningCLI appends trainer_defaults' callbacks).
  ASSERT_EQ(o.callbacks().size(), 1u);
  EXPECT_EQ(o.callbacks()[0], base.callbacks()[0]);
  EXPECT_TRUE(o.logger().use_default());
  EXPECT_TRUE(o.logger().loggers().empty());
}

TEST(TrainerConfig, KeysNotInTheSectionKeepTheBase) {
  const auto o = apply("max_epochs: 20", L::TrainerOptions().accelerator("cpu").max_steps(7));
  EXPECT_EQ(o.max_epochs(), 20);
  EXPECT_EQ(o.accelerator(), "cpu");
  EXPECT_EQ(o.max_steps(), 7);
}

// ---- Value kinds ----------------------------------------------------------------

TEST(TrainerConfig, BatchLimitsAreIntBatchesOrFloatFractions) {
  auto o = apply(
      "limit_train_batches: 10\nlimit_val_batches: 0.25\nlimit_test_batches: 1\n"
      "limit_predict_batches: 1.0\noverfit_batches: 5\nval_check_interval: 0.5\n");
  EXPECT_FALSE(o.limit_train_batches().is_fraction());
  EXPECT_EQ(o.limit_train_batches().count(), 10);
  EXPECT_TRUE(o.limit_val_batches().is_fraction());
  EXPECT_EQ(o.limit_val_batches().fraction(), 0.25);
  // As in Lightning, the int 1 is one batch and the float 1.0 all of them.
  EXPECT_FALSE(o.limit_test_batches().is_fraction());
  EXPECT_EQ(o.limit_test_batches().count(), 1);
  EXPECT_TRUE(o.limit_predict_batches().is_fraction());
  EXPECT_EQ(o.limit_predict_batches().fraction(), 1.0);
  EXPECT_EQ(o.overfit_batches().count(), 5);
  EXPECT_EQ(o.val_check_interval().fraction(), 0.5);

  o = apply("val_check_interval: 100\noverfit_batches: 0.1\nlimit_train_batches: null",
            L::TrainerOptions().limit_train_batches(3));
  EXPECT_EQ(o.val_check_interval().count(), 100);
  EXPECT_EQ(o.overfit_batches().fraction(), 0.1);
  EXPECT_TRUE(o.limit_train_batches().is_fraction());  // None: Lightning's default 1.0
  EXPECT_EQ(o.limit_train_batches().fraction(), 1.0);

  EXPECT_EQ(error_of_yaml("limit_train_batches: true"),
            "trainer.limit_train_batches: expected int (batches), float (fraction) or None, "
            "got bool True.");
  EXPECT_EQ(error_of_yaml("overfit_batches: null"),
            "trainer.overfit_batches: expected int (batches) or float (fraction), got None None.");
  EXPECT_EQ(error_of_yaml("limit_val_batches: half"),
            "trainer.limit_val_batches: expected int (batches), float (fraction) or None, got "
            "str 'half'.");
  EXPECT_THAT(error_of_yaml("val_check_interval: '00:10:00'"),
              HasSubstr("trainer.val_check_interval: a time-based val_check_interval ('00:10:00') "
                        "exists in Python Lightning but not in lightning.cpp"));
}

TEST(TrainerConfig, IntsWhereFloatsAreExpectedButNotTheOtherWay) {
  auto o = apply("gradient_clip_val: 1");
  EXPECT_EQ(o.gradient_clip_val(), 1.0);
  o = apply("gradient_clip_val: 0.5\ngradient_clip_algorithm: value");
  EXPECT_EQ(o.gradient_clip_val(), 0.5);
  EXPECT_EQ(o.gradient_clip_algorithm(), "value");
  o = apply("gradient_clip_val: null\ngradient_clip_algorithm: null",
            L::TrainerOptions().gradient_clip_val(2.0).gradient_clip_algorithm("norm"));
  EXPECT_EQ(o.gradient_clip_val(), std::nullopt);
  EXPECT_EQ(o.gradient_clip_algorithm(), std::nullopt);
  EXPECT_EQ(error_of_yaml("max_epochs: 20.0"),
            "trainer.max_epochs: expected int or None, got float 20.0.");
  EXPECT_EQ(error_of_yaml("gradient_clip_val: big"),
            "trainer.gradient_clip_val: expected float or None, got str 'big'.");
  EXPECT_EQ(error_of_yaml("gradient_clip_algorithm: nrom"),
            "trainer.gradient_clip_algorithm: expected 'norm', 'value' or None, got 'nrom', did "
            "you mean 'norm'?");
}

TEST(TrainerConfig, EpochAndStepLimitsWithNone) {
  auto o = apply("max_epochs: 20\nmin_epochs: 2\nmax_steps: 1000\nmin_steps: 10");
  EXPECT_EQ(o.max_epochs(), 20);
  EXPECT_EQ(o.min_epochs(), 2);
  EXPECT_EQ(o.max_steps(), 1000);
  EXPECT_EQ(o.min_steps(), 10);
  o = apply("max_epochs: null\nmin_epochs: null\nmin_steps: null",
            L::TrainerOptions().max_epochs(3).min_epochs(1).min_steps(4));
  EXPECT_EQ(o.max_epochs(), std::nullopt);
  EXPECT_EQ(o.min_epochs(), std::nullopt);
  EXPECT_EQ(o.min_steps(), std::nullopt);
  EXPECT_EQ(apply("max_epochs: -1").max_epochs(), -1);
  EXPECT_EQ(error_of_yaml("max_epochs: ten"),
            "trainer.max_epochs: expected int or None, got str 'ten'.");
  EXPECT_EQ(error_of_yaml("max_steps: null"), "trainer.max_steps: expected int, got None None.");
  EXPECT_EQ(error_of_yaml("max_epochs: true"),
            "trainer.max_epochs: expected int or None, got bool True.");
  EXPECT_EQ(error_of_yaml("num_nodes: [1, 2]"),
            "trainer.num_nodes: expected int, got list [1, 2].");
}

TEST(TrainerConfig, PrecisionInEveryLightningSpelling) {
  EXPECT_EQ(apply("precision: bf16-mixed").precision(), "bf16-mixed");
  EXPECT_EQ(apply("precision: 32-true").precision(), "32-true");
  EXPECT_EQ(apply("precision: 16-mixed").precision(), "16-mixed");
  EXPECT_EQ(apply("precision: bf16").precision(), "bf16");
  EXPECT_EQ(apply("precision: 64").precision(), "64");
  EXPECT_EQ(apply("precision: 32").precision(), "32");
  EXPECT_EQ(apply("precision: 16").precision(), "16");
  EXPECT_EQ(apply("precision: '16'").precision(), "16");
  EXPECT_EQ(apply("precision: null", L::TrainerOptions().precision("64-true")).precision(),
            "32-true");
  const std::string e = error_of_yaml("precision: fp8");
  EXPECT_THAT(e, HasSubstr("trainer.precision: precision must be one of"));
  EXPECT_THAT(e, HasSubstr("\"fp8\""));
  EXPECT_EQ(error_of_yaml("precision: 32.0"),
            "trainer.precision: expected str, int or None, got float 32.0.");
}

TEST(TrainerConfig, DevicesCountAutoOrLeadingIndices) {
  EXPECT_EQ(apply("devices: 2").devices(), 2);
  EXPECT_EQ(apply("devices: auto", L::TrainerOptions().devices(4)).devices(), std::nullopt);
  EXPECT_EQ(apply("devices: '3'").devices(), 3);
  EXPECT_EQ(apply("devices: -1").devices(), -1);
  EXPECT_EQ(apply("devices: [0, 1]").devices(), 2);
  EXPECT_EQ(apply("devices: '0,1,2'").devices(), 3);
  EXPECT_EQ(apply("devices: '0,'").devices(), 1);
  EXPECT_THAT(error_of_yaml("devices: [1, 3]"),
              HasSubstr("trainer.devices: device indices [1, 3] cannot be expressed here: "
                        "TrainerOptions.devices is a number of processes per node, and process "
                        "i uses device i"));
  EXPECT_THAT(error_of_yaml("devices: [1, 3]"), HasSubstr("e.g. devices: 2,"));
  EXPECT_EQ(error_of_yaml("devices: 2.5"),
            "trainer.devices: expected int, 'auto' or a list of device indices, got float 2.5.");
  EXPECT_EQ(error_of_yaml("devices: many"),
            "trainer.devices: expected int, 'auto' or a list of device indices, got str 'many'.");
  EXPECT_EQ(error_of_yaml("devices: [0, x]"),
            "trainer.devices[1]: expected int (a device index), got str 'x'.");
}

TEST(TrainerConfig, StrategyNamesAndDDPStrategyObject) {
  EXPECT_EQ(apply("strategy: ddp").strategy().name(), "ddp");
  EXPECT_EQ(apply("strategy: ddp_find_unused_parameters_true").strategy().name(),
            "ddp_find_unused_parameters_true");
  EXPECT_EQ(apply("strategy: ddp_find_unused_parameters_false").strategy().name(), "ddp");
  EXPECT_EQ(apply("strategy: single_device").strategy().name(), "single_device");
  const auto o = apply(
      "strategy:\n"
      "  class_path: lightning.pytorch.strategies.DDPStrategy\n"
      "  init_args: {process_group_backend: gloo, timeout: '0:01:00'}\n"
      "  dict_kwargs: {find_unused_parameters: true, bucket_cap_mb: 10}\n");
  auto ddp = std::dynamic_pointer_cast<L::DDPStrategy>(o.strategy().object());
  ASSERT_NE(ddp, nullptr);
  EXPECT_EQ(ddp->options().backend(), "gloo");
  EXPECT_EQ(ddp->options().timeout(), std::chrono::seconds(60));
  EXPECT_TRUE(ddp->options().find_unused_parameters());
  EXPECT_EQ(ddp->options().bucket_cap_mb(), 10.0);
  EXPECT_EQ(apply("strategy: {class_path: SingleDeviceStrategy}").strategy().name(),
            "single_device");

  EXPECT_THAT(error_of_yaml("strategy: fsdp"),
              HasSubstr("trainer.strategy: strategy 'fsdp' exists in Python Lightning but not in "
                        "lightning.cpp (only DDP is implemented)"));
  EXPECT_THAT(error_of_yaml("strategy: deepspeed_stage_2"),
              HasSubstr("exists in Python Lightning but not in lightning.cpp"));
  EXPECT_THAT(error_of_yaml("strategy: ddp_spawn"),
              HasSubstr("trainer.strategy: strategy 'ddp_spawn' exists in Python Lightning but "
                        "not in lightning.cpp"));
  EXPECT_THAT(error_of_yaml("strategy: dpp"),
              HasSubstr("trainer.strategy: unknown strategy 'dpp', did you mean 'ddp'?"));
  EXPECT_THAT(error_of_yaml("strategy: {class_path: DDPStrategy, init_args: {timout: 5}}"),
              HasSubstr("trainer.strategy.init_args.timout: DDPStrategy has no argument 'timout', "
                        "did you mean 'timeout'?"));
  EXPECT_THAT(error_of_yaml("strategy: {class_path: FSDPStrategy}"),
              HasSubstr("trainer.strategy.class_path: unknown strategy class 'FSDPStrategy'"));
  EXPECT_THAT(error_of_yaml("strategy: {class_path: DDPStrategy, init_args: {start_method: "
                            "spawn}}"),
              HasSubstr("trainer.strategy.init_args.start_method: DDPStrategy's 'start_method' "
                        "exists in Python Lightning but not in lightning.cpp"));
}

TEST(TrainerConfig, AcceleratorAndFlags) {
  auto o = apply(
      "accelerator: cpu\nnum_nodes: 2\nuse_distributed_sampler: false\nfast_dev_run: 5\n"
      "enable_checkpointing: false\nenable_progress_bar: false\nenable_model_summary: false\n"
      "default_root_dir: runs\ndeterministic: true\nnum_threads: 4\ntune_allocator: false\n"
      "check_val_every_n_epoch: 3\nnum_sanity_val_steps: 0\naccumulate_grad_batches: 4\n"
      "log_every_n_steps: 10\n");
  EXPECT_EQ(o.accelerator(), "cpu");
  EXPECT_EQ(o.num_nodes(), 2);
  EXPECT_FALSE(o.use_distributed_sampler());
  EXPECT_EQ(o.fast_dev_run().batches(), 5);
  EXPECT_FALSE(o.enable_checkpointing());
  EXPECT_FALSE(o.enable_progress_bar());
  EXPECT_FALSE(o.enable_model_summary());
  EXPECT_EQ(o.default_root_dir(), "runs");
  EXPECT_TRUE(o.deterministic());
  EXPECT_EQ(o.num_threads(), 4);
  EXPECT_FALSE(o.tune_allocator());
  EXPECT_EQ(o.check_val_every_n_epoch(), 3);
  EXPECT_EQ(o.num_sanity_val_steps(), 0);
  EXPECT_EQ(o.accumulate_grad_batches(), 4);
  EXPECT_EQ(o.log_every_n_steps(), 10);

  EXPECT_EQ(apply("fast_dev_run: true").fast_dev_run().batches(), 1);
  EXPECT_EQ(
      apply("fast_dev_run: false", L::TrainerOptions().fast_dev_run(3)).fast_dev_run().batches(),
      0);
  // None is Lightning's "the default" for the Optional ones.
  o = apply(
      "enable_checkpointing: null\nenable_progress_bar: null\nenable_model_summary: null\n"
      "default_root_dir: null\ndeterministic: null\nnum_sanity_val_steps: null\n"
      "log_every_n_steps: null\nnum_threads: null\n",
      L::TrainerOptions()
          .enable_checkpointing(false)
          .enable_progress_bar(false)
          .enable_model_summary(false)
          .default_root_dir("x")
          .deterministic(true)
          .num_sanity_val_steps(0)
          .log_every_n_steps(1)
          .num_threads(3));
  EXPECT_TRUE(o.enable_checkpointing());
  EXPECT_TRUE(o.enable_progress_bar());
  EXPECT_TRUE(o.enable_model_summary());
  EXPECT_EQ(o.default_root_dir(), "");
  EXPECT_FALSE(o.deterministic());
  EXPECT_EQ(o.num_sanity_val_steps(), 2);
  EXPECT_EQ(o.log_every_n_steps(), 50);
  EXPECT_EQ(o.num_threads(), std::nullopt);

  EXPECT_EQ(error_of_yaml("fast_dev_run: yes please"),
            "trainer.fast_dev_run: expected bool or int, got str 'yes please'.");
  EXPECT_EQ(error_of_yaml("enable_progress_bar: 1"),
            "trainer.enable_progress_bar: expected bool or None, got int 1.");
  EXPECT_EQ(error_of_yaml("tune_allocator: null"),
            "trainer.tune_allocator: expected bool, got None None.");
  EXPECT_THAT(error_of_yaml("deterministic: warn"),
              HasSubstr("trainer.deterministic: 'warn' exists in Python Lightning but not in "
                        "lightning.cpp"));
  EXPECT_THAT(error_of_yaml("check_val_every_n_epoch: null"),
              HasSubstr("trainer.check_val_every_n_epoch: None (validation counted in batches "
                        "across epoch boundaries) exists in Python Lightning but not in "
                        "lightning.cpp; give an int."));
  EXPECT_EQ(error_of_yaml("accelerator: cpux"),
            "trainer.accelerator: unknown accelerator 'cpux', did you mean 'cpu' or 'gpu'? "
            "Accelerators: "
            "'auto', 'cpu', 'cuda', 'gpu'.");
  EXPECT_THAT(error_of_yaml("accelerator: mps"),
              HasSubstr("trainer.accelerator: accelerator 'mps' exists in Python Lightning but "
                        "not in lightning.cpp"));
}

// ---- Loggers and callbacks in the trainer section ------------------------------

TEST(TrainerConfig, LoggerBoolNoneOneOrAList) {
  EXPECT_FALSE(apply("logger: false").logger().use_default());
  EXPECT_TRUE(apply("logger: false").logger().loggers().empty());
  EXPECT_TRUE(apply("logger: true", L::TrainerOptions().logger(false)).logger().use_default());
  EXPECT_TRUE(apply("logger: null", L::TrainerOptions().logger(false)).logger().use_default());
  auto o = apply("logger: {class_path: CSVLogger, init_args: {save_dir: runs, name: mnist}}");
  ASSERT_EQ(o.logger().loggers().size(), 1u);
  auto csv = std::dynamic_pointer_cast<L::CSVLogger>(o.logger().loggers()[0]);
  ASSERT_NE(csv, nullptr);
  EXPECT_EQ(csv->options().save_dir(), "runs");
  EXPECT_EQ(csv->options().name(), "mnist");
  o = apply(
      "logger:\n"
      "  - class_path: lightning.pytorch.loggers.CSVLogger\n"
      "    init_args: {save_dir: runs}\n"
      "  - class_path: lightning.pytorch.loggers.TensorBoardLogger\n"
      "    init_args: {save_dir: runs}\n");
  ASSERT_EQ(o.logger().loggers().size(), 2u);
  EXPECT_NE(std::dynamic_pointer_cast<L::CSVLogger>(o.logger().loggers()[0]), nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<L::TensorBoardLogger>(o.logger().loggers()[1]), nullptr);
  EXPECT_FALSE(o.logger().use_default());
  o = apply("logger: []");
  EXPECT_FALSE(o.logger().use_default());
  EXPECT_TRUE(o.logger().loggers().empty());

  EXPECT_EQ(error_of_yaml("logger: 1"),
            "trainer.logger: expected bool, None, a logger ({class_path: ..., init_args: {...}}) "
            "or a list of them, got int 1.");
  EXPECT_EQ(error_of_yaml("logger: [{class_path: CSVLogger, init_args: {save_dir: a}}, "
                          "{class_path: CSVLoger}]"),
            L::testing::error_of([] {
              D::make_logger(L::hparams_from_yaml("v: {class_path: CSVLoger}").at("v"),
                             "trainer.logger[1]");
            }));
  EXPECT_THAT(error_of_yaml("logger: [{class_path: CSVLogger, init_args: {save_dir: a}}, "
                            "{class_path: CSVLoger}]"),
              HasSubstr("trainer.logger[1].class_path: unknown logger 'CSVLoger', did you mean "
                        "'CSVLogger'?"));
  EXPECT_EQ(error_of_yaml("logger: CSVLogger"),
            "trainer.logger.init_args.save_dir: CSVLogger requires this argument (the root folder "
            "of the runs), it is missing.");
}

TEST(TrainerConfig, CallbacksAListOneOrNone) {
  auto o = apply(
      "callbacks:\n"
      "  - class_path: ModelCheckpoint\n"
      "    init_args: {monitor: val_loss, save_top_k: 3}\n"
      "  - class_path: lightning.pytorch.callbacks.EarlyStopping\n"
      "    init_args: {monitor: val_loss, patience: 5}\n"
      "  - LearningRateMonitor\n");
  ASSERT_EQ(o.callbacks().size(), 3u);
  auto ckpt = std::dynamic_pointer_cast<L::ModelCheckpoint>(o.callbacks()[0]);
  ASSERT_NE(ckpt, nullptr);
  EXPECT_EQ(ckpt->options().monitor(), "val_loss");
  EXPECT_EQ(ckpt->options().save_top_k(), 3);
  auto early = std::dynamic_pointer_cast<L::EarlyStopping>(o.callbacks()[1]);
  ASSERT_NE(early, nullptr);
  EXPECT_EQ(early->options().patience(), 5);
  EXPECT_NE(std::dynamic_pointer_cast<L::LearningRateMonitor>(o.callbacks()[2]), nullptr);

  o = apply("callbacks: {class_path: ModelSummary, init_args: {max_depth: 2}}");
  ASSERT_EQ(o.callbacks().size(), 1u);
  EXPECT_NE(std::dynamic_pointer_cast<L::ModelSummary>(o.callbacks()[0]), nullptr);
  EXPECT_TRUE(apply("callbacks: null").callbacks().empty());
  // The config's callbacks come first, then the base's (LightningCLI's trainer_defaults).
  auto from_defaults = std::make_shared<L::ModelSummary>();
  o = apply("callbacks: [LearningRateMonitor]", L::TrainerOptions().callbacks({from_defaults}));
  ASSERT_EQ(o.callbacks().size(), 2u);
  EXPECT_NE(std::dynamic_pointer_cast<L::LearningRateMonitor>(o.callbacks()[0]), nullptr);
  EXPECT_EQ(o.callbacks()[1], from_defaults);
  o = apply("callbacks: null", L::TrainerOptions().callbacks({from_defaults}));
  ASSERT_EQ(o.callbacks().size(), 1u);
  EXPECT_EQ(o.callbacks()[0], from_defaults);
  EXPECT_THAT(error_of_yaml("callbacks: [ModelCheckpoint, {class_path: EarlyStopping, init_args: "
                            "{monitor: val_loss, patiense: 2}}]"),
              HasSubstr("trainer.callbacks[1].init_args.patiense: EarlyStopping has no argument "
                        "'patiense', did you mean 'patience'?"));
  EXPECT_EQ(error_of_yaml("callbacks: 3"),
            "trainer.callbacks: expected a list of callbacks ({class_path: ..., init_args: "
            "{...}}), one, or None, got int 3.");
}

// ---- Unknown and Python-only keys ----------------------------------------------

TEST(TrainerConfig, UnknownKeySuggestsTheClosestNames) {
  EXPECT_EQ(error_of_yaml("max_epoch: 3"),
            "trainer.max_epoch: unknown Trainer option 'max_epoch', did you mean 'max_epochs' or "
            "'min_epochs'?");
  EXPECT_EQ(error_of_yaml("limit_val_batch: 3"),
            "trainer.limit_val_batch: unknown Trainer option 'limit_val_batch', did you mean "
            "'limit_val_batches'?");
  const std::string none_close = error_of_yaml("wibble: 3");
  EXPECT_THAT(none_close, HasSubstr("trainer.wibble: unknown Trainer option 'wibble'. Trainer "
                                    "options: accelerator, devices, num_nodes,"));
  EXPECT_THAT(none_close, HasSubstr(", callbacks, logger."));
  EXPECT_THAT(L::testing::error_of([] {
                D::apply_trainer_config(L::hparams_from_yaml("max_epoch: 3"), {}, "fit.trainer");
              }),
              HasSubstr("fit.trainer.max_epoch: unknown Trainer option"));
}

TEST(TrainerConfig, PythonOnlyKeysAreDistinctFromTypos) {
  EXPECT_EQ(error_of_yaml("sync_batchnorm: true"),
            "trainer.sync_batchnorm: 'sync_batchnorm' is a Python Lightning Trainer argument that "
            "lightning.cpp does not have (no SyncBatchNorm conversion); only False is accepted "
            "(and ignored) here, got True.");
  EXPECT_THAT(error_of_yaml("plugins: [foo]"), HasSubstr("trainer.plugins: 'plugins'"));
  for (const char* key : {"enable_autolog_hparams: false", "model_registry: my-model"}) {
    EXPECT_THAT(error_of_yaml(key), HasSubstr("is a Python Lightning Trainer argument that "
                                              "lightning.cpp does not have"))
        << key;
  }
}

TEST(TrainerConfig, SpeedAndDebuggingFlags) {
  const auto o = D::apply_trainer_config(
      L::hparams_from_yaml("benchmark: true\ninference_mode: false\ndetect_anomaly: true\n"
                           "reload_dataloaders_every_n_epochs: 2\nbarebones: true\n"),
      {});
  EXPECT_EQ(o.benchmark(), std::optional<bool>(true));
  EXPECT_FALSE(o.inference_mode());
  EXPECT_TRUE(o.detect_anomaly());
  EXPECT_EQ(o.reload_dataloaders_every_n_epochs(), 2);
  EXPECT_TRUE(o.barebones());
  EXPECT_EQ(D::apply_trainer_config(L::hparams_from_yaml("benchmark: null"), {}).benchmark(),
            std::nullopt);
  EXPECT_THAT(error_of_yaml("reload_dataloaders_every_n_epochs: 0.5"),
              HasSubstr("trainer.reload_dataloaders_every_n_epochs: expected int, got float 0.5."));
}

// The trainer sections Python LightningCLI (pytorch_lightning 2.6.6,
// jsonargparse 4.53) printed with --print_config; trainer_config_python_configs.py
// writes them. Every Trainer argument is there, the Python-only ones at their
// defaults, and every init_arg of each class.
static L::HParams python_trainer_section(const std::string& file) {
  const L::HParams config =
      L::load_hparams_from_yaml(std::string(LIGHTNING_CLI_TEST_DIR) + "/" + file);
  return config.get<L::HParams>("trainer");
}

TEST(TrainerConfig, APythonLightningCLITrainerSectionAppliesUnchanged) {
  const auto o =
      D::apply_trainer_config(python_trainer_section("trainer_config_python_fit.yaml"), {});
  EXPECT_EQ(o.precision(), "bf16-mixed");
  EXPECT_EQ(o.max_epochs(), 5);
  EXPECT_EQ(o.limit_val_batches().fraction(), 0.25);
  EXPECT_EQ(o.gradient_clip_val(), 1.0);
  ASSERT_EQ(o.logger().loggers().size(), 1u);
  EXPECT_EQ(o.logger().loggers()[0]->save_dir(), "logs");
  EXPECT_NE(std::dynamic_pointer_cast<L::CSVLogger>(o.logger().loggers()[0]), nullptr);
  ASSERT_EQ(o.callbacks().size(), 3u);
  auto ckpt = std::dynamic_pointer_cast<L::ModelCheckpoint>(o.callbacks()[0]);
  ASSERT_NE(ckpt, nullptr);
  EXPECT_EQ(ckpt->options().monitor(), "val_loss");
  EXPECT_EQ(ckpt->options().save_top_k(), 3);
  EXPECT_FALSE(ckpt->options().save_last());
  auto early = std::dynamic_pointer_cast<L::EarlyStopping>(o.callbacks()[1]);
  ASSERT_NE(early, nullptr);
  EXPECT_EQ(early->options().patience(), 5);
  auto lr = std::dynamic_pointer_cast<L::LearningRateMonitor>(o.callbacks()[2]);
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->options().logging_interval(), "step");
  // The rest at Lightning's defaults.
  EXPECT_EQ(o.devices(), std::nullopt);
  EXPECT_EQ(o.strategy().name(), "auto");
  EXPECT_TRUE(o.limit_train_batches().is_fraction());
  EXPECT_EQ(o.num_sanity_val_steps(), 2);
  EXPECT_TRUE(o.enable_checkpointing());
  // The Trainer accepts the result (its own validation of every option).
  EXPECT_EQ(L::testing::error_of([&] { L::Trainer trainer(o); }), "<no lightning::Error thrown>");
}

TEST(TrainerConfig, APythonLightningCLIDDPSectionAppliesUnchanged) {
  const auto o =
      D::apply_trainer_config(python_trainer_section("trainer_config_python_ddp.yaml"), {});
  EXPECT_EQ(o.accelerator(), "cpu");
  EXPECT_EQ(o.devices(), 2);  // printed as the string '2'
  auto ddp = std::dynamic_pointer_cast<L::DDPStrategy>(o.strategy().object());
  ASSERT_NE(ddp, nullptr);
  EXPECT_TRUE(ddp->options().find_unused_parameters());
  EXPECT_EQ(ddp->options().backend(), "gloo");
  EXPECT_EQ(ddp->options().timeout(), std::chrono::minutes(30));  // printed as 0:30:00
  EXPECT_EQ(ddp->options().bucket_cap_mb(), 25.0);
  EXPECT_EQ(o.max_steps(), 100);
  EXPECT_EQ(o.val_check_interval().count(), 50);
  EXPECT_EQ(o.fast_dev_run().batches(), 0);
  ASSERT_EQ(o.callbacks().size(), 3u);
  EXPECT_NE(std::dynamic_pointer_cast<L::ProgressBar>(o.callbacks()[0]), nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<L::ModelSummary>(o.callbacks()[1]), nullptr);
  auto gas = std::dynamic_pointer_cast<L::GradientAccumulationScheduler>(o.callbacks()[2]);
  ASSERT_NE(gas, nullptr);
  EXPECT_EQ(gas->scheduling(), (std::map<int64_t, int64_t>{{0, 1}, {4, 2}}));
  ASSERT_EQ(o.logger().loggers().size(), 2u);
  auto tb = std::dynamic_pointer_cast<L::TensorBoardLogger>(o.logger().loggers()[0]);
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->options().save_dir(), "tb");
  EXPECT_EQ(tb->options().flush_secs(), 120.0);
  EXPECT_EQ(tb->options().sub_dir(), "");
  EXPECT_EQ(o.logger().loggers()[1]->save_dir(), "csv");
  // A DistributedDataParallel argument away from what lightning.cpp does.
  L::HParams changed = python_trainer_section("trainer_config_python_ddp.yaml");
  L::HParams strategy = changed.get<L::HParams>("strategy");
  L::HParams init_args = strategy.get<L::HParams>("init_args");
  init_args.set("static_graph", true);
  strategy.set("init_args", init_args);
  changed.set("strategy", strategy);
  EXPECT_EQ(L::testing::error_of([&] { D::apply_trainer_config(changed, {}); }),
            "trainer.strategy.init_args.static_graph: DDPStrategy's 'static_graph' exists in "
            "Python Lightning but not in lightning.cpp (lightning.cpp's DDP has no such "
            "setting); only False is accepted here, got True.");
}

// ---- Every built-in callback with its init_args --------------------------------

TEST(MakeCallback, ModelCheckpointEveryInitArg) {
  auto c = callback<L::ModelCheckpoint>(R"({class_path: ModelCheckpoint, init_args: {
      dirpath: ckpts, filename: '{epoch}-{val_loss:.2f}', monitor: val_loss, verbose: true,
      save_last: true, save_top_k: 3, save_on_exception: false, save_weights_only: true,
      mode: max, auto_insert_metric_name: false, every_n_train_steps: null,
      train_time_interval: null, every_n_epochs: 2, save_on_train_epoch_end: false,
      enable_version_counter: false}})");
  ASSERT_NE(c, nullptr);
  const auto& o = c->options();
  EXPECT_EQ(o.dirpath(), "ckpts");
  EXPECT_EQ(o.filename(), "{epoch}-{val_loss:.2f}");
  EXPECT_EQ(o.monitor(), "val_loss");
  EXPECT_TRUE(o.verbose());
  EXPECT_TRUE(o.save_last());
  EXPECT_EQ(o.save_top_k(), 3);
  EXPECT_TRUE(o.save_weights_only());
  EXPECT_EQ(o.mode(), "max");
  EXPECT_FALSE(o.auto_insert_metric_name());
  EXPECT_EQ(o.every_n_train_steps(), std::nullopt);
  EXPECT_EQ(o.train_time_interval(), std::nullopt);
  EXPECT_EQ(o.every_n_epochs(), 2);
  EXPECT_EQ(o.save_on_train_epoch_end(), false);
  EXPECT_FALSE(o.enable_version_counter());

  c = callback<L::ModelCheckpoint>(
      "{class_path: ModelCheckpoint, init_args: {every_n_train_steps: 100}}");
  EXPECT_EQ(c->options().every_n_train_steps(), 100);
  // train_time_interval: Python's timedelta as str(timedelta), seconds, or a mapping.
  c = callback<L::ModelCheckpoint>(
      "{class_path: ModelCheckpoint, init_args: {train_time_interval: '0:01:30'}}");
  EXPECT_EQ(c->options().train_time_interval(), std::chrono::seconds(90));
  c = callback<L::ModelCheckpoint>(
      "{class_path: ModelCheckpoint, init_args: {train_time_interval: '1 day, 0:00:01.5'}}");
  EXPECT_EQ(c->options().train_time_interval(), std::chrono::milliseconds(86401500));
  c = callback<L::ModelCheckpoint>(
      "{class_path: ModelCheckpoint, init_args: {train_time_interval: 2.5}}");
  EXPECT_EQ(c->options().train_time_interval(), std::chrono::milliseconds(2500));
  c = callback<L::ModelCheckpoint>(
      "{class_path: ModelCheckpoint, init_args: {train_time_interval: {minutes: 2, seconds: 3}}}");
  EXPECT_EQ(c->options().train_time_interval(), std::chrono::seconds(123));
  EXPECT_THAT(callback_error("{class_path: ModelCheckpoint, init_args: {train_time_interval: "
                             "soon}}"),
              HasSubstr("trainer.callbacks[0].init_args.train_time_interval: expected a duration"));
  EXPECT_THAT(callback_error("{class_path: ModelCheckpoint, init_args: {train_time_interval: "
                             "{minuts: 2}}}"),
              HasSubstr("trainer.callbacks[0].init_args.train_time_interval.minuts: unknown "
                        "duration unit, did you mean 'minutes'?"));
  EXPECT_THAT(callback_error("{class_path: ModelCheckpoint, init_args: {save_last: link}}"),
              HasSubstr("trainer.callbacks[0].init_args.save_last: save_last='link' exists in "
                        "Python Lightning but not in lightning.cpp"));
  EXPECT_EQ(callback_error("{class_path: ModelCheckpoint, init_args: {save_on_exception: true}}"),
            "trainer.callbacks[0].init_args.save_on_exception: ModelCheckpoint's "
            "'save_on_exception' exists in Python Lightning but not in lightning.cpp (no "
            "checkpoint is written when fit raises; resume from the last saved one); only False "
            "is accepted here, got True.");
}

TEST(MakeCallback, EarlyStoppingEveryInitArg) {
  auto c = callback<L::EarlyStopping>(R"({class_path: EarlyStopping, init_args: {
      monitor: val_acc, min_delta: 0, patience: 7, verbose: true, mode: max, strict: false,
      check_finite: false, stopping_threshold: 0.99, divergence_threshold: 0.1,
      check_on_train_epoch_end: true, log_rank_zero_only: false}})");
  ASSERT_NE(c, nullptr);
  const auto& o = c->options();
  EXPECT_EQ(o.monitor(), "val_acc");
  EXPECT_EQ(o.min_delta(), 0.0);  // an int where a float is expected
  EXPECT_EQ(o.patience(), 7);
  EXPECT_TRUE(o.verbose());
  EXPECT_EQ(o.mode(), "max");
  EXPECT_FALSE(o.strict());
  EXPECT_FALSE(o.check_finite());
  EXPECT_EQ(o.stopping_threshold(), 0.99);
  EXPECT_EQ(o.divergence_threshold(), 0.1);
  EXPECT_EQ(o.check_on_train_epoch_end(), true);
  EXPECT_EQ(callback_error("EarlyStopping"),
            "trainer.callbacks[0].init_args.monitor: EarlyStopping requires this argument (the "
            "metric to watch), it is missing.");
  EXPECT_EQ(callback_error("{class_path: EarlyStopping, init_args: {monitor: val_loss, patience: "
                           "'3'}}"),
            "trainer.callbacks[0].init_args.patience: expected int, got str '3'.");
  // The class's own validation, with the object's key path in front.
  EXPECT_THAT(callback_error("{class_path: EarlyStopping, init_args: {monitor: val_loss, mode: "
                             "avg}}"),
              HasSubstr("trainer.callbacks[0] (EarlyStopping): "));
}

TEST(MakeCallback, LearningRateMonitorGradientAccumulationSummaryAndProgressBar) {
  auto lr = callback<L::LearningRateMonitor>(
      "{class_path: LearningRateMonitor, init_args: {logging_interval: step, log_momentum: true, "
      "log_weight_decay: true}}");
  ASSERT_NE(lr, nullptr);
  EXPECT_EQ(lr->options().logging_interval(), "step");
  EXPECT_TRUE(lr->options().log_momentum());
  EXPECT_TRUE(lr->options().log_weight_decay());

  auto gas = callback<L::GradientAccumulationScheduler>(
      "{class_path: GradientAccumulationScheduler, init_args: {scheduling: {0: 1, 4: 2, 8: 4}}}");
  ASSERT_NE(gas, nullptr);
  EXPECT_EQ(gas->scheduling(), (std::map<int64_t, int64_t>{{0, 1}, {4, 2}, {8, 4}}));
  EXPECT_EQ(callback_error("{class_path: GradientAccumulationScheduler, init_args: {scheduling: "
                           "{four: 2}}}"),
            "trainer.callbacks[0].init_args.scheduling: the keys are epochs (ints), got 'four'.");
  EXPECT_THAT(callback_error("{class_path: GradientAccumulationScheduler, init_args: {scheduling: "
                             "{4: 0}}}"),
              HasSubstr("trainer.callbacks[0] (GradientAccumulationScheduler): "));

  EXPECT_NE(callback<L::ModelSummary>("{class_path: ModelSummary, init_args: {max_depth: -1}}"),
            nullptr);
  EXPECT_EQ(callback_error("{class_path: ModelSummary, init_args: {max_depth: deep}}"),
            "trainer.callbacks[0].init_args.max_depth: expected int, got str 'deep'.");
  // Lightning's TQDMProgressBar is the ProgressBar here; both names work.
  EXPECT_NE(callback<L::ProgressBar>("{class_path: lightning.pytorch.callbacks.TQDMProgressBar, "
                                     "init_args: {refresh_rate: 10, process_position: 0, "
                                     "leave: false}}"),
            nullptr);
  EXPECT_NE(callback<L::ProgressBar>("{class_path: ProgressBar, init_args: {interactive: false}}"),
            nullptr);
  EXPECT_THAT(callback_error("{class_path: TQDMProgressBar, init_args: {process_position: 1}}"),
              HasSubstr("TQDMProgressBar's 'process_position' exists in Python Lightning but not "
                        "in lightning.cpp"));
}

TEST(MakeCallback, DottedClassPathsOfLightningsModules) {
  for (const char* path : {"lightning.pytorch.callbacks.ModelCheckpoint",
                           "pytorch_lightning.callbacks.ModelCheckpoint",
                           "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint",
                           "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint"}) {
    EXPECT_NE(callback<L::ModelCheckpoint>(std::string("{class_path: ") + path + "}"), nullptr)
        << path;
  }
  EXPECT_NE(callback<L::EarlyStopping>(
                "{class_path: pytorch_lightning.callbacks.early_stopping.EarlyStopping, "
                "init_args: {monitor: loss}}"),
            nullptr);
  EXPECT_THAT(callback_error("{class_path: my_project.ModelCheckpoint}"),
              HasSubstr("trainer.callbacks[0].class_path: 'my_project.ModelCheckpoint' is not a "
                        "registered callback"));
}

TEST(MakeCallback, ErrorsNameTheKeyPathAndSuggest) {
  EXPECT_THAT(callback_error("ModelCheckpont"),
              HasSubstr("trainer.callbacks[0].class_path: unknown callback 'ModelCheckpont', did "
                        "you mean 'ModelCheckpoint'? Available callbacks: ModelCheckpoint, "
                        "EarlyStopping, LearningRateMonitor, GradientAccumulationScheduler, "
                        "ModelSummary, TQDMProgressBar, ProgressBar, Timer, "
                        "OnExceptionCheckpoint, ThroughputMonitor, DeviceStatsMonitor, "
                        "LearningRateFinder, BatchSizeFinder, StochasticWeightAveraging, "
                        "WeightAveraging, EMAWeightAveraging, BackboneFinetuning, "
                        "PredictionWriter"));
  EXPECT_THAT(callback_error("ModelCheckpont"), HasSubstr("L::register_callback"));
  EXPECT_THAT(callback_error("lightning.pytorch.callbacks.ModelPruning"),
              HasSubstr("trainer.callbacks[0].class_path: "
                        "'lightning.pytorch.callbacks.ModelPruning' is a Python "
                        "Lightning callback that lightning.cpp does not have (no pruning)."));
  EXPECT_THAT(callback_error("CSVLogger"), HasSubstr("'CSVLogger' is a logger, not a callback."));
  EXPECT_EQ(callback_error("{class_path: ModelCheckpoint, init_args: {monitr: val_loss}}"),
            "trainer.callbacks[0].init_args.monitr: ModelCheckpoint has no argument 'monitr', "
            "did you mean 'monitor'? Its arguments: dirpath, filename, monitor, verbose, "
            "save_last, save_top_k, save_on_exception, save_weights_only, mode, "
            "auto_insert_metric_name, every_n_train_steps, train_time_interval, every_n_epochs, "
            "save_on_train_epoch_end, enable_version_counter.");
  EXPECT_EQ(callback_error("{class_path: ModelCheckpoint, init_args: {save_top_k: 1.5}}"),
            "trainer.callbacks[0].init_args.save_top_k: expected int, got float 1.5.");
  EXPECT_EQ(callback_error("{class_path: ModelCheckpoint, init_arg: {monitor: x}}"),
            "trainer.callbacks[0].init_arg: unknown key in a class_path object, did you mean "
            "'init_args'? Keys: class_path, init_args, dict_kwargs.");
  EXPECT_EQ(callback_error("{init_args: {monitor: x}}"),
            "trainer.callbacks[0]: a callback object needs 'class_path' (the class name), got "
            "{'init_args': {'monitor': 'x'}}.");
  EXPECT_EQ(callback_error("{class_path: ModelCheckpoint, init_args: [1]}"),
            "trainer.callbacks[0].init_args: expected a mapping of argument names, got list [1].");
  EXPECT_EQ(callback_error("42"),
            "trainer.callbacks[0]: expected a callback class name or {class_path: ..., init_args: "
            "{...}}, got int 42.");
}

// ---- Loggers -------------------------------------------------------------------

TEST(MakeLogger, CSVLoggerEveryInitArg) {
  auto l = logger<L::CSVLogger>(
      "{class_path: CSVLogger, init_args: {save_dir: runs, name: exp, version: 3, prefix: p, "
      "flush_logs_every_n_steps: 10, report: false}}");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->options().save_dir(), "runs");
  EXPECT_EQ(l->options().name(), "exp");
  EXPECT_EQ(l->options().version().folder(), "version_3");
  EXPECT_EQ(l->options().prefix(), "p");
  EXPECT_EQ(l->options().flush_logs_every_n_steps(), 10);
  EXPECT_FALSE(l->options().report());
  l = logger<L::CSVLogger>(
      "{class_path: pytorch_lightning.loggers.CSVLogger, init_args: {save_dir: runs, name: null, "
      "version: final}}");
  EXPECT_EQ(l->options().name(), "");
  EXPECT_EQ(l->options().version().folder(), "final");
  EXPECT_EQ(logger_error("{class_path: CSVLogger, init_args: {save_dir: runs, version: 1.5}}"),
            "trainer.logger.init_args.version: expected int, str or None, got float 1.5.");
  EXPECT_THAT(logger_error("{class_path: CSVLogger, init_args: {save_dir: runs, "
                           "flush_logs_every_n_steps: 0}}"),
              HasSubstr("trainer.logger (CSVLogger): "));
}

TEST(MakeLogger, TensorBoardLoggerEveryInitArg) {
  auto l = logger<L::TensorBoardLogger>(
      "{class_path: lightning.pytorch.loggers.TensorBoardLogger, init_args: {save_dir: tb, name: "
      "exp, version: v1, log_graph: false, default_hp_metric: false, prefix: p, sub_dir: s}, "
      "dict_kwargs: {flush_secs: 5}}");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->options().save_dir(), "tb");
  EXPECT_EQ(l->options().name(), "exp");
  EXPECT_EQ(l->options().version().folder(), "v1");
  EXPECT_FALSE(l->options().default_hp_metric());
  EXPECT_EQ(l->options().prefix(), "p");
  EXPECT_EQ(l->options().sub_dir(), "s");
  EXPECT_EQ(l->options().flush_secs(), 5.0);
  EXPECT_THAT(logger_error("{class_path: TensorBoardLogger, init_args: {save_dir: tb, log_graph: "
                           "true}}"),
              HasSubstr("trainer.logger.init_args.log_graph: TensorBoardLogger's 'log_graph' "
                        "exists in Python Lightning but not in lightning.cpp"));
  EXPECT_THAT(logger_error("{class_path: TensorBoardLogger, init_args: {save_dir: tb, "
                           "default_hp_metrc: true}}"),
              HasSubstr("TensorBoardLogger has no argument 'default_hp_metrc', did you mean "
                        "'default_hp_metric'?"));
  EXPECT_THAT(logger_error("WandbLogger"),
              HasSubstr("trainer.logger.class_path: 'WandbLogger' is a Python Lightning logger "
                        "that lightning.cpp does not have (no W&B client in C++). Available "
                        "loggers: CSVLogger, TensorBoardLogger"));
  EXPECT_THAT(logger_error("TensorBordLogger"),
              HasSubstr("unknown logger 'TensorBordLogger', did you mean 'TensorBoardLogger'?"));
  EXPECT_THAT(logger_error("EarlyStopping"), HasSubstr("is a callback, not a logger."));
}

// ---- User classes --------------------------------------------------------------

namespace {

class EveryNEpochs : public L::Callback {
 public:
  explicit EveryNEpochs(const L::HParams& init_args)
      : every(init_args.get<int64_t>("every", 1)),
        label(init_args.get<std::string>("label", "none")) {}
  int64_t every;
  std::string label;
};

class MemoryLogger : public L::Logger {
 public:
  explicit MemoryLogger(const L::HParams& init_args)
      : name_(init_args.get<std::string>("name", "memory")) {}
  void log_metrics(const L::Metrics& /*metrics*/, int64_t /*step*/) override {}
  std::string name() const override { return name_; }

 private:
  std::string name_;
};

}  // namespace

TEST(Registry, UserCallbacksAndLoggersByNameOrDottedPath) {
  L::register_callback<EveryNEpochs>("EveryNEpochs");
  auto c = callback<EveryNEpochs>("{class_path: EveryNEpochs, init_args: {every: 3, label: x}}");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->every, 3);
  EXPECT_EQ(c->label, "x");
  // A Python config names it by its module path; the last component finds it.
  c = callback<EveryNEpochs>("{class_path: my_project.callbacks.EveryNEpochs}");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->every, 1);

  L::register_callback("EveryOther", [](const L::HParams& init_args) {
    auto made = std::make_shared<EveryNEpochs>(init_args);
    made->every = 2;
    return made;
  });
  c = callback<EveryNEpochs>("EveryOther");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->every, 2);
  const auto names = L::registered_callbacks();
  EXPECT_NE(std::find(names.begin(), names.end(), "EveryOther"), names.end());

  L::register_logger<MemoryLogger>("MemoryLogger");
  auto l = logger<MemoryLogger>("{class_path: pkg.MemoryLogger, init_args: {name: mem}}");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->name(), "mem");
  const auto o = apply(
      "logger: [{class_path: MemoryLogger}, {class_path: CSVLogger, init_args: {save_dir: r}}]\n"
      "callbacks: [{class_path: EveryNEpochs, init_args: {every: 5}}]\n");
  ASSERT_EQ(o.logger().loggers().size(), 2u);
  EXPECT_EQ(o.logger().loggers()[0]->name(), "memory");
  ASSERT_EQ(o.callbacks().size(), 1u);
  EXPECT_EQ(std::dynamic_pointer_cast<EveryNEpochs>(o.callbacks()[0])->every, 5);
}

TEST(Registry, ErrorsOfTheFactoryCarryTheKeyPath) {
  L::register_callback<EveryNEpochs>("StrictEvery");
  EXPECT_THAT(callback_error("{class_path: StrictEvery, init_args: {every: many}}"),
              HasSubstr("trainer.callbacks[0] (StrictEvery): hparams['every'] is str"));
  L::register_callback("NullCallback",
                       [](const L::HParams&) { return std::shared_ptr<L::Callback>(); });
  EXPECT_EQ(callback_error("NullCallback"),
            "trainer.callbacks[0] (NullCallback): the registered callback factory returned "
            "nullptr.");
  // A registered name is among the suggestions.
  EXPECT_THAT(callback_error("StrictEvry"), HasSubstr("did you mean 'StrictEvery'?"));
  EXPECT_THAT(callback_error("StrictEvry"), HasSubstr("registered: "));
  EXPECT_EQ(L::testing::error_of([] { L::register_callback("", L::CallbackFactory()); }),
            "register_callback: the name is empty.");
  EXPECT_EQ(L::testing::error_of([] { L::register_logger("X", L::LoggerFactory()); }),
            "register_logger(\"X\"): the factory is empty.");
}

TEST(TrainerConfig, ProfilerByNameOrClassPath) {
  EXPECT_EQ(apply("profiler: simple").profiler().name(), "simple");
  EXPECT_EQ(apply("profiler: PyTorch").profiler().name(), "pytorch");
  EXPECT_FALSE(apply("profiler: null").profiler().enabled());
  auto simple = std::dynamic_pointer_cast<L::SimpleProfiler>(
      apply("profiler: {class_path: lightning.pytorch.profilers.SimpleProfiler, init_args: "
            "{dirpath: prof, filename: perf, extended: false}}")
          .profiler()
          .object());
  ASSERT_NE(simple, nullptr);
  EXPECT_EQ(simple->dirpath(), "prof");
  EXPECT_EQ(simple->filename(), "perf");
  auto torch_profiler = std::dynamic_pointer_cast<L::PyTorchProfiler>(
      apply("profiler: {class_path: PyTorchProfiler, init_args: {row_limit: 5, sort_by_key: "
            "cpu_time_total, record_shapes: true, group_by_input_shapes: true, "
            "record_module_names: true}}")
          .profiler()
          .object());
  ASSERT_NE(torch_profiler, nullptr);
  EXPECT_NE(std::dynamic_pointer_cast<L::AdvancedProfiler>(
                apply("profiler: {class_path: AdvancedProfiler, init_args: "
                      "{line_count_restriction: 0.5}}")
                    .profiler()
                    .object()),
            nullptr);
  EXPECT_EQ(error_of_yaml("profiler: simpel"),
            "trainer.profiler: unknown profiler 'simpel', did you mean 'simple'? Profilers: "
            "'simple', 'advanced', 'pytorch', or {class_path: SimpleProfiler, init_args: {...}}.");
  EXPECT_THAT(error_of_yaml("profiler: xla"),
              HasSubstr("profiler 'xla' exists in Python Lightning but not in lightning.cpp"));
  EXPECT_THAT(error_of_yaml("profiler: {class_path: SimpleProfiler, init_args: {extnded: true}}"),
              HasSubstr("trainer.profiler.init_args"));
  EXPECT_THAT(
      error_of_yaml("profiler: {class_path: AdvancedProfiler, init_args: {dump_stats: true}}"),
      HasSubstr("cProfile's .prof files exist only in Python"));
  EXPECT_THAT(error_of_yaml("profiler: {class_path: PyTorchProfiler, init_args: {sort_by_key: "
                            "cuda_time}}"),
              HasSubstr("sort_by_key(\"cuda_time\") is not a sort key"));
}

// max_time in Lightning's string and dict forms (jsonargparse prints either as
// given), and Timer as a class_path callback.
TEST(TrainerConfig, MaxTimeTakesLightningsStringAndDictForms) {
  EXPECT_EQ(apply("max_time: '00:12:30:05'").max_time()->seconds(), 12 * 3600 + 30 * 60 + 5);
  EXPECT_EQ(apply("max_time: {days: 1, hours: 2, minutes: 3}").max_time()->seconds(),
            86400 + 2 * 3600 + 3 * 60);
  EXPECT_EQ(apply("max_time: null").max_time(), std::nullopt);
  EXPECT_THAT(error_of_yaml("max_time: '12:00:00'"),
              HasSubstr("trainer.max_time: max_time/TimeLimit: \"12:00:00\" has 3 field(s); "
                        "expected \"DD:HH:MM:SS\""));
  EXPECT_THAT(error_of_yaml("max_time: {hours: 1, fortnights: 2}"), HasSubstr("trainer.max_time"));
  EXPECT_THAT(error_of_yaml("max_time: [1, 2]"), HasSubstr("trainer.max_time: expected"));
}

TEST(TrainerConfig, TimerCallbackFromClassPath) {
  const auto o = apply(
      "callbacks: [{class_path: lightning.pytorch.callbacks.Timer, init_args: {duration: "
      "'00:00:01:30', interval: epoch, verbose: false}}]");
  ASSERT_EQ(o.callbacks().size(), 1u);
  auto timer = std::dynamic_pointer_cast<L::Timer>(o.callbacks()[0]);
  ASSERT_NE(timer, nullptr);
  EXPECT_EQ(timer->options().duration()->seconds(), 90.0);
  EXPECT_EQ(timer->options().interval(), "epoch");
  EXPECT_FALSE(timer->options().verbose());
  EXPECT_THAT(error_of_yaml("callbacks: [{class_path: Timer, init_args: {interval: hour}}]"),
              HasSubstr("Unsupported parameter value `Timer(interval=hour)`. Possible choices "
                        "are: step, epoch"));
}

TEST(MakeCallback, OnExceptionThroughputAndDeviceStatsFromClassPath) {
  const auto o = apply(
      "callbacks: [{class_path: OnExceptionCheckpoint, init_args: {dirpath: ckpts, filename: "
      "crash}}, {class_path: ThroughputMonitor, init_args: {window_size: 4}}, {class_path: "
      "lightning.pytorch.callbacks.DeviceStatsMonitor, init_args: {cpu_stats: true}}]");
  ASSERT_EQ(o.callbacks().size(), 3u);
  auto on_exception = std::dynamic_pointer_cast<L::OnExceptionCheckpoint>(o.callbacks()[0]);
  ASSERT_NE(on_exception, nullptr);
  EXPECT_EQ(on_exception->ckpt_path(), "ckpts/crash.ckpt");
  auto throughput = std::dynamic_pointer_cast<L::ThroughputMonitor>(o.callbacks()[1]);
  ASSERT_NE(throughput, nullptr);
  EXPECT_EQ(throughput->options().window_size(), 4);
  // From a config, a batch's samples are its first tensor's first dimension.
  EXPECT_EQ(throughput->options().batch_size_fn()(L::Batch({at::zeros({6, 3})})), 6);
  EXPECT_NE(std::dynamic_pointer_cast<L::DeviceStatsMonitor>(o.callbacks()[2]), nullptr);
  EXPECT_THAT(error_of_yaml("callbacks: [{class_path: OnExceptionCheckpoint}]"),
              HasSubstr("trainer.callbacks[0].init_args.dirpath"));
  EXPECT_THAT(error_of_yaml("callbacks: [{class_path: OnExceptionCheckpoint, init_args: "
                            "{dirpath: x, filename: ''}}]"),
              HasSubstr("OnExceptionCheckpoint: the filename cannot be empty"));
  EXPECT_THAT(error_of_yaml("callbacks: [{class_path: ThroughputMonitor, init_args: "
                            "{batch_size_fn: my.module.count}}]"),
              HasSubstr("a config cannot hold C++ code"));
}

TEST(TrainerConfig, FinderCallbacksFromAConfig) {
  auto lr = callback<L::LearningRateFinder>(
      "{class_path: lightning.pytorch.callbacks.LearningRateFinder, init_args: {min_lr: 1.0e-6, "
      "max_lr: 0.5, num_training_steps: 50, mode: linear, early_stop_threshold: null, "
      "update_attr: false, attr_name: lr}}");
  ASSERT_NE(lr, nullptr);
  EXPECT_DOUBLE_EQ(lr->options().min_lr(), 1e-6);
  EXPECT_DOUBLE_EQ(lr->options().max_lr(), 0.5);
  EXPECT_EQ(lr->options().num_training(), 50);
  EXPECT_EQ(lr->options().mode(), "linear");
  EXPECT_FALSE(lr->options().early_stop_threshold().has_value());
  EXPECT_FALSE(lr->options().update_attr());
  EXPECT_EQ(lr->options().attr_name(), "lr");
  auto bs = callback<L::BatchSizeFinder>(
      "{class_path: BatchSizeFinder, init_args: {mode: binsearch, steps_per_trial: 2, init_val: "
      "4, max_trials: 10, batch_arg_name: bs, margin: 0.1, max_val: 256}}");
  ASSERT_NE(bs, nullptr);
  EXPECT_EQ(bs->options().mode(), "binsearch");
  EXPECT_EQ(bs->options().steps_per_trial(), 2);
  EXPECT_EQ(bs->options().init_val(), 4);
  EXPECT_EQ(bs->options().max_trials(), 10);
  EXPECT_EQ(bs->options().batch_arg_name(), "bs");
  EXPECT_DOUBLE_EQ(bs->options().margin(), 0.1);
  EXPECT_EQ(bs->options().max_val(), 256);
  EXPECT_THAT(callback_error("{class_path: LearningRateFinder, init_args: {num_training: 5}}"),
              HasSubstr("num_training"));
}
