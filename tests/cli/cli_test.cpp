// LightningCLI (lightning/cli.h): subcommands, config files and their merge
// order, command-line overrides of every value kind, --print_config,
// --help, the saved config.yaml reproducing a run, a config in Python
// LightningCLI's layout, and the message of every error a user can cause.
#include "lightning/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/trainer_config.h"
#include "lightning/cli_registry.h"
#include "lightning/lightning.h"
#include "support/temp_dir.h"

namespace L = lightning;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string kDir = LIGHTNING_CLI_TEST_DIR;

class TinyModel : public L::LightningModule {
 public:
  static L::CLIArguments cli_arguments() {
    return L::CLIArguments()
        .add("learning_rate", 0.05, "SGD's learning rate")
        .add("hidden", 4, "width of the hidden layer")
        .add("name", "tiny", "a label")
        .add("use_bias", true, "whether the layers have a bias")
        .add("widths", L::HParamValue::List{1, 2}, "a list argument")
        .add("extra", L::HParams(), "a dict argument");
  }
  explicit TinyModel(L::HParams hp) {
    save_hyperparameters(hp);
    const auto bias = hp.get<bool>("use_bias");
    const auto hidden = hp.get<int64_t>("hidden");
    l1 = register_module("l1", torch::nn::Linear(torch::nn::LinearOptions(4, hidden).bias(bias)));
    l2 = register_module("l2", torch::nn::Linear(torch::nn::LinearOptions(hidden, 1).bias(bias)));
  }
  at::Tensor forward(const at::Tensor& x) { return l2->forward(torch::tanh(l1->forward(x))); }
  at::Tensor loss(L::Batch& batch) {
    auto [x, y] = batch.unpack<2>();
    return torch::nn::functional::mse_loss(forward(x), y);
  }
  L::StepOutput training_step(L::Batch& batch, int64_t) override {
    auto l = loss(batch);
    log("train_loss", l);
    return l;
  }
  L::StepOutput validation_step(L::Batch& batch, int64_t) override {
    log("val_loss", loss(batch));
    return {};
  }
  L::StepOutput test_step(L::Batch& batch, int64_t) override {
    log("test_loss", loss(batch));
    ++test_batches;
    return {};
  }
  c10::IValue predict_step(L::Batch& batch, int64_t) override {
    ++predict_batches;
    return forward(batch[0]);
  }
  L::OptimizerConfig configure_optimizers() override {
    return std::make_shared<torch::optim::SGD>(
        parameters(), torch::optim::SGDOptions(hparams().get<double>("learning_rate")));
  }
  torch::nn::Linear l1{nullptr}, l2{nullptr};
  int test_batches = 0, predict_batches = 0;
};

class TinyData : public L::LightningDataModule {
 public:
  static L::CLIArguments cli_arguments() {
    return L::CLIArguments()
        .add("batch_size", 8, "samples per batch")
        .add("num_samples", 32, "samples in each split");
  }
  explicit TinyData(L::HParams hp) : hp_(hp) { save_hyperparameters(hp); }
  L::DataLoader make(bool shuffle, uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    auto x = at::randn({hp_.get<int64_t>("num_samples"), 4}, gen);
    auto ds =
        std::make_shared<L::TensorDataset>(std::vector<at::Tensor>{x, x.sum(1, /*keepdim=*/true)});
    return L::DataLoader(
        ds, L::DataLoaderOptions().batch_size(hp_.get<int64_t>("batch_size")).shuffle(shuffle));
  }
  L::DataLoaders train_dataloader() override { return make(true, 1); }
  L::DataLoaders val_dataloader() override { return make(false, 2); }
  L::DataLoaders test_dataloader() override { return make(false, 3); }
  L::DataLoaders predict_dataloader() override { return make(false, 4); }

 private:
  L::HParams hp_;
};

// A model with a required argument.
class NeedsClasses : public TinyModel {
 public:
  static L::CLIArguments cli_arguments() {
    return TinyModel::cli_arguments().required("num_classes", "int", "how many classes");
  }
  using TinyModel::TinyModel;
};

using CLI = L::LightningCLI<TinyModel, TinyData>;

struct Result {
  std::unique_ptr<CLI> cli;
  std::string out, err;
  int code() const { return cli->exit_code(); }
};

// Runs the CLI in-process on `args` (argv without the program name).
Result run_cli(std::vector<std::string> args, L::LightningCLIOptions options = {}) {
  args.insert(args.begin(), "tiny_cli");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  Result r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  r.cli = std::make_unique<CLI>(static_cast<int>(argv.size()), argv.data(), options);
  r.err = ::testing::internal::GetCapturedStderr();
  r.out = ::testing::internal::GetCapturedStdout();
  return r;
}

// fit / validate / ... with the quiet settings and every file under `dir`.
std::vector<std::string> quiet(const std::string& subcommand, const L::testing::TempDir& dir,
                               std::vector<std::string> more = {}) {
  std::vector<std::string> args = {subcommand, "--config", kDir + "/quiet.yaml",
                                   "--trainer.default_root_dir=" + dir.str()};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

L::HParams section(const L::LightningCLIBase& cli, const std::string& name) {
  return cli.config().get<L::HParams>(name);
}

std::vector<at::Tensor> weights(TinyModel& m) {
  std::vector<at::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

// ---- subcommands -------------------------------------------------------------

TEST(LightningCLI, FitTrainsWithTheConfigAndTheOverrides) {
  L::testing::TempDir dir;
  auto r = run_cli(quiet("fit", dir, {"--trainer.max_epochs=2", "--model.learning_rate", "3e-4"}));
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(r.cli->subcommand(), "fit");
  EXPECT_EQ(r.cli->trainer().current_epoch(), 2);
  EXPECT_EQ(r.cli->trainer().global_step(), 8);  // 32 samples / 8 per batch, 2 epochs
  EXPECT_DOUBLE_EQ(r.cli->model()->hparams().get<double>("learning_rate"), 3e-4);
  // The model gets every declared argument, in declaration order.
  EXPECT_EQ(
      r.cli->model()->hparams().keys(),
      (std::vector<std::string>{"learning_rate", "hidden", "name", "use_bias", "widths", "extra"}));
  EXPECT_EQ(r.cli->datamodule_base()->hparams().get<int64_t>("batch_size"), 8);
  // SaveConfigCallback wrote the resolved config into the run folder.
  const L::HParams saved = L::load_hparams_from_yaml(r.cli->trainer().log_dir() + "/config.yaml");
  EXPECT_EQ(saved, r.cli->config());
}

TEST(LightningCLI, ValidateTestAndPredictRunTheirStage) {
  L::testing::TempDir dir;
  auto v = run_cli(quiet("validate", dir));
  ASSERT_EQ(v.code(), 0) << v.err;
  EXPECT_EQ(v.cli->subcommand(), "validate");
  EXPECT_TRUE(v.cli->trainer().callback_metrics().count("val_loss"));

  auto t = run_cli(quiet("test", dir));
  ASSERT_EQ(t.code(), 0) << t.err;
  EXPECT_EQ(t.cli->subcommand(), "test");
  EXPECT_EQ(t.cli->model()->test_batches, 4);

  auto p = run_cli(quiet("predict", dir, {"--data.batch_size", "16"}));
  ASSERT_EQ(p.code(), 0) << p.err;
  EXPECT_EQ(p.cli->subcommand(), "predict");
  EXPECT_EQ(p.cli->model()->predict_batches, 2);
  // Only fit saves the config.
  EXPECT_FALSE(std::filesystem::exists(dir.file("config.yaml")));
}

TEST(LightningCLI, CkptPathResumesFitAndLoadsTheWeightsToEvaluate) {
  L::testing::TempDir dir;
  auto fit = run_cli(quiet("fit", dir, {"--trainer.max_epochs=2"}));
  ASSERT_EQ(fit.code(), 0) << fit.err;
  const std::string ckpt = dir.file("two_epochs.ckpt");
  fit.cli->trainer().save_checkpoint(ckpt);
  const auto trained = weights(*fit.cli->model());

  auto test = run_cli(quiet("test", dir, {"--ckpt_path", ckpt}));
  ASSERT_EQ(test.code(), 0) << test.err;
  EXPECT_EQ(test.cli->config().get<std::string>("ckpt_path"), ckpt);
  const auto loaded = weights(*test.cli->model());
  ASSERT_EQ(loaded.size(), trained.size());
  for (size_t i = 0; i < loaded.size(); ++i) EXPECT_TRUE(at::equal(loaded[i], trained[i]));

  // fit --ckpt_path continues from epoch 2 to max_epochs 3.
  L::testing::TempDir dir2;
  auto resumed = run_cli(quiet("fit", dir2, {"--trainer.max_epochs=3", "--ckpt_path=" + ckpt}));
  ASSERT_EQ(resumed.code(), 0) << resumed.err;
  EXPECT_EQ(resumed.cli->trainer().current_epoch(), 3);
  EXPECT_EQ(resumed.cli->trainer().global_step(), 12);
}

// ---- merging ------------------------------------------------------------------

TEST(LightningCLI, ConfigsMergeInOrderKeyByKeyAndListsReplace) {
  L::LightningCLIOptions parse_only;
  parse_only.run(false);
  auto r =
      run_cli({"--config", kDir + "/merge_a.yaml", "--config", kDir + "/merge_b.yaml"}, parse_only);
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(r.cli->subcommand(), "");
  const L::HParams model = section(*r.cli, "model");
  EXPECT_DOUBLE_EQ(model.get<double>("learning_rate"), 0.2);               // b wins
  EXPECT_EQ(model.get<int64_t>("hidden"), 8);                              // only in a
  EXPECT_EQ(model.at("widths"), L::HParamValue(L::HParamValue::List{9}));  // b replaces the list
  EXPECT_EQ(model.get<L::HParams>("extra"), (L::HParams{{"a", 1}, {"b", 20}}));  // maps merge
  const L::HParams trainer = section(*r.cli, "trainer");
  EXPECT_EQ(trainer.get<int64_t>("max_epochs"), 4);
  EXPECT_EQ(trainer.get<int64_t>("limit_train_batches"), 2);
  EXPECT_EQ(r.cli->trainer().options().max_epochs(), 4);
  EXPECT_EQ(r.cli->trainer().options().limit_train_batches().count(), 2);
}

TEST(LightningCLI, ArgumentsAndConfigsApplyInTheOrderGiven) {
  L::LightningCLIOptions parse_only;
  parse_only.run(false);
  auto before =
      run_cli({"--model.learning_rate", "0.5", "--config", kDir + "/merge_b.yaml"}, parse_only);
  ASSERT_EQ(before.code(), 0) << before.err;
  EXPECT_DOUBLE_EQ(section(*before.cli, "model").get<double>("learning_rate"), 0.2);
  auto after =
      run_cli({"--config", kDir + "/merge_b.yaml", "--model.learning_rate", "0.5"}, parse_only);
  ASSERT_EQ(after.code(), 0) << after.err;
  EXPECT_DOUBLE_EQ(section(*after.cli, "model").get<double>("learning_rate"), 0.5);
}

TEST(LightningCLI, AConfigBeforeTheSubcommandAndPerSubcommandSections) {
  L::testing::TempDir dir;
  auto fit = run_cli({"--config", kDir + "/per_subcommand.yaml", "fit", "--config",
                      kDir + "/quiet.yaml", "--trainer.default_root_dir", dir.str()});
  ASSERT_EQ(fit.code(), 0) << fit.err;
  EXPECT_EQ(section(*fit.cli, "model").get<int64_t>("hidden"), 6);
  auto test = run_cli(quiet("test", dir, {"--config", kDir + "/per_subcommand.yaml"}));
  ASSERT_EQ(test.code(), 0) << test.err;
  EXPECT_EQ(section(*test.cli, "model").get<int64_t>("hidden"), 9);
  EXPECT_EQ(test.cli->model()->l1->weight.size(0), 9);
}

// ---- value kinds ----------------------------------------------------------------

TEST(LightningCLI, OverridesParseEveryValueKindWithYamlRules) {
  L::LightningCLIOptions parse_only;
  parse_only.run(false);
  auto r = run_cli({"--model.learning_rate=3e-4",
                    "--model.hidden",
                    "20",
                    "--model.use_bias",
                    "false",
                    "--model.name",
                    "123",
                    "--model.widths",
                    "[1,2]",
                    "--model.extra",
                    "{a: 1, b: [x, null]}",
                    "--trainer.max_epochs",
                    "null",
                    "--trainer.limit_train_batches=0.25",
                    "--trainer.limit_val_batches",
                    "3",
                    "--trainer.enable_progress_bar=false",
                    "--seed_everything",
                    "7",
                    "--ckpt_path",
                    "runs/last.ckpt"},
                   parse_only);
  ASSERT_EQ(r.code(), 0) << r.err;
  const L::HParams model = section(*r.cli, "model");
  EXPECT_TRUE(model.at("learning_rate").is_double());
  EXPECT_DOUBLE_EQ(model.get<double>("learning_rate"), 3e-4);
  EXPECT_TRUE(model.at("hidden").is_int());
  EXPECT_EQ(model.get<int64_t>("hidden"), 20);
  EXPECT_EQ(model.at("use_bias"), L::HParamValue(false));
  EXPECT_EQ(model.at("name"), L::HParamValue("123"));  // a str argument keeps the text
  EXPECT_EQ(model.at("widths"), L::HParamValue(L::HParamValue::List{1, 2}));
  EXPECT_EQ(model.get<L::HParams>("extra"),
            (L::HParams{{"a", 1}, {"b", L::HParamValue::List{"x", nullptr}}}));
  const L::HParams trainer = section(*r.cli, "trainer");
  EXPECT_TRUE(trainer.at("max_epochs").is_none());
  EXPECT_EQ(trainer.at("limit_train_batches"), L::HParamValue(0.25));
  EXPECT_EQ(trainer.at("limit_val_batches"), L::HParamValue(3));
  const auto& options = r.cli->trainer().options();
  EXPECT_FALSE(options.max_epochs().has_value());
  EXPECT_TRUE(options.limit_train_batches().is_fraction());
  EXPECT_DOUBLE_EQ(options.limit_train_batches().fraction(), 0.25);
  EXPECT_EQ(options.limit_val_batches().count(), 3);
  EXPECT_FALSE(options.enable_progress_bar());
  EXPECT_EQ(r.cli->config().at("seed_everything"), L::HParamValue(7));
  EXPECT_EQ(r.cli->config().at("ckpt_path"), L::HParamValue("runs/last.ckpt"));
  EXPECT_EQ(r.cli->model()->hparams().get<int64_t>("hidden"), 20);
  EXPECT_EQ(r.cli->model()->l1->weight.size(0), 20);
}

TEST(LightningCLI, SeedEverythingSeedsBeforeBuildingAndRecordsARandomSeed) {
  L::LightningCLIOptions parse_only;
  parse_only.run(false);
  auto fixed = run_cli({"--seed_everything", "42"}, parse_only);
  ASSERT_EQ(fixed.code(), 0) << fixed.err;
  const auto w42 = weights(*fixed.cli->model());
  auto again = run_cli({"--seed_everything=42"}, parse_only);
  const auto w42b = weights(*again.cli->model());
  for (size_t i = 0; i < w42.size(); ++i) EXPECT_TRUE(at::equal(w42[i], w42b[i]));

  auto random = run_cli({}, parse_only);  // the default: true
  ASSERT_EQ(random.code(), 0) << random.err;
  const L::HParamValue seed = random.cli->config().at("seed_everything");
  ASSERT_TRUE(seed.is_int()) << seed;
  auto replay = run_cli({"--seed_everything", std::to_string(seed.as<int64_t>())}, parse_only);
  const auto a = weights(*random.cli->model()), b = weights(*replay.cli->model());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i]));

  // As Lightning's seed_everything(None): the seed of PL_GLOBAL_SEED when set
  // (what the DDP processes a run starts inherit).
  ::setenv("PL_GLOBAL_SEED", "31337", 1);
  auto inherited = run_cli({"--seed_everything=true"}, parse_only);
  ASSERT_EQ(inherited.code(), 0) << inherited.err;
  EXPECT_EQ(inherited.cli->config().at("seed_everything"), L::HParamValue(31337));

  auto off = run_cli({"--seed_everything", "false"}, parse_only);
  ASSERT_EQ(off.code(), 0) << off.err;
  EXPECT_EQ(off.cli->config().at("seed_everything"), L::HParamValue(false));
}

TEST(LightningCLI, TrainerDefaultsComeFirstAndAreInTheResolvedConfig) {
  L::LightningCLIOptions options;
  options.run(false).trainer_defaults(L::HParams{{"max_epochs", 15}, {"log_every_n_steps", 7}});
  auto r = run_cli({"--trainer.log_every_n_steps=9"}, options);
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(section(*r.cli, "trainer").get<int64_t>("max_epochs"), 15);
  EXPECT_EQ(section(*r.cli, "trainer").get<int64_t>("log_every_n_steps"), 9);
  EXPECT_EQ(r.cli->trainer().options().max_epochs(), 15);
  EXPECT_EQ(r.cli->trainer().options().log_every_n_steps(), 9);

  options.trainer_defaults(L::HParams{{"max_epoch", 15}});
  auto bad = run_cli({}, options);
  EXPECT_EQ(bad.code(), 2);
  EXPECT_THAT(bad.err, HasSubstr("error: LightningCLIOptions::trainer_defaults: trainer.max_epoch: "
                                 "unknown Trainer option 'max_epoch'"));
}

// ---- print_config, help ---------------------------------------------------------

TEST(LightningCLI, PrintConfigPrintsTheResolvedConfigAndRoundTrips) {
  L::testing::TempDir dir;
  auto first = run_cli({"fit", "--config", kDir + "/merge_a.yaml", "--model.name", "x y",
                        "--data.batch_size=4", "--print_config"});
  ASSERT_EQ(first.code(), 0) << first.err;
  EXPECT_EQ(first.err, "");
  const std::string& text = first.out;
  // Every section, every trainer field with its default.
  const L::HParams printed = L::hparams_from_yaml(text);
  EXPECT_EQ(printed.keys(), (std::vector<std::string>{"seed_everything", "trainer", "model", "data",
                                                      "optimizer", "lr_scheduler", "ckpt_path"}));
  for (const auto& f : L::detail::trainer_fields())
    EXPECT_TRUE(printed.get<L::HParams>("trainer").contains(f.name)) << f.name;
  EXPECT_THAT(text, HasSubstr("max_steps: -1"));
  EXPECT_THAT(text, HasSubstr("max_epochs: 3"));
  EXPECT_THAT(text, HasSubstr("seed_everything: true"));
  EXPECT_THAT(text, HasSubstr("ckpt_path: null"));
  EXPECT_EQ(printed.get<L::HParams>("data"), (L::HParams{{"batch_size", 4}, {"num_samples", 32}}));
  EXPECT_EQ(printed, first.cli->config());
  // Nothing ran.
  EXPECT_THROW(first.cli->trainer(), L::Error);

  write(dir.file("printed.yaml"), text);
  auto second = run_cli({"fit", "--config", dir.file("printed.yaml"), "--print_config"});
  ASSERT_EQ(second.code(), 0) << second.err;
  EXPECT_EQ(second.out, text);
}

// max_time as Lightning's CLI takes it, printed as given and read back the same.
TEST(LightningCLI, MaxTimeFromTheCommandLineRoundTrips) {
  L::testing::TempDir dir;
  auto first = run_cli({"fit", "--trainer.max_time=00:01:30:00", "--print_config"});
  ASSERT_EQ(first.code(), 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("max_time: \"00:01:30:00\""));
  write(dir.file("printed.yaml"), first.out);
  auto second = run_cli({"fit", "--config", dir.file("printed.yaml"), "--print_config"});
  ASSERT_EQ(second.code(), 0) << second.err;
  EXPECT_EQ(second.out, first.out);
  auto dict = run_cli({"fit", "--trainer.max_time={minutes: 5}", "--print_config"});
  ASSERT_EQ(dict.code(), 0) << dict.err;
  EXPECT_THAT(dict.out, HasSubstr("minutes: 5"));
  auto bad = run_cli({"fit", "--trainer.max_time=90"});
  EXPECT_NE(bad.code(), 0);
  EXPECT_THAT(bad.err, HasSubstr("trainer.max_time"));
}

TEST(LightningCLI, HelpListsEveryOptionWithTypeDefaultAndDoc) {
  auto r = run_cli({"fit", "--help"});
  ASSERT_EQ(r.code(), 0) << r.err;
  const std::string& h = r.out;
  EXPECT_THAT(h, HasSubstr("usage: tiny_cli fit"));
  EXPECT_THAT(h, HasSubstr("--config CONFIG"));
  EXPECT_THAT(h, HasSubstr("--print_config"));
  EXPECT_THAT(h, HasSubstr("--seed_everything SEED_EVERYTHING"));
  EXPECT_THAT(h, HasSubstr("--ckpt_path CKPT_PATH"));
  for (const auto& f : L::detail::trainer_fields())
    EXPECT_THAT(h, HasSubstr("--trainer." + f.name + " ")) << f.name;
  EXPECT_THAT(h, HasSubstr("TinyModel (--model):"));
  EXPECT_THAT(h, HasSubstr("--model.learning_rate LEARNING_RATE\n      SGD's learning rate "
                           "(type: float, default: 0.05)"));
  EXPECT_THAT(h, HasSubstr("--model.widths WIDTHS\n      a list argument (type: list, default: "
                           "[1, 2])"));
  EXPECT_THAT(h, HasSubstr("TinyData (--data):"));
  EXPECT_THAT(h, HasSubstr("--data.batch_size BATCH_SIZE\n      samples per batch (type: int, "
                           "default: 8)"));
  EXPECT_THAT(h, HasSubstr("--trainer.max_steps MAX_STEPS\n"));

  auto top = run_cli({"--help"});
  ASSERT_EQ(top.code(), 0);
  EXPECT_THAT(top.out, HasSubstr("{fit,validate,test,predict}"));
  EXPECT_THAT(top.out, HasSubstr("predict   Run inference on your data."));

  L::LightningCLIOptions parse_only;  // run(false): no subcommand
  parse_only.run(false);
  auto no_sub = run_cli({"--help"}, parse_only);
  EXPECT_EQ(no_sub.code(), 0);
  EXPECT_THAT(no_sub.out, HasSubstr("usage: tiny_cli [options]\n\nBuilds the Trainer"));
  EXPECT_THAT(no_sub.out, HasSubstr("--model.learning_rate LEARNING_RATE"));

  auto test_help = run_cli({"test", "-h"});
  EXPECT_EQ(test_help.code(), 0);
  EXPECT_THAT(test_help.out, HasSubstr("usage: tiny_cli test"));
}

TEST(LightningCLI, HelpMarksRequiredArguments) {
  const char* argv[] = {"prog", "fit", "--help"};
  ::testing::internal::CaptureStdout();
  L::LightningCLI<NeedsClasses> cli(3, argv);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(cli.exit_code(), 0);
  EXPECT_THAT(out, HasSubstr("--model.num_classes NUM_CLASSES\n      how many classes (type: int, "
                             "required)"));
}

// ---- reproduction ----------------------------------------------------------------

TEST(LightningCLI, TheSavedConfigReproducesTheRun) {
  L::testing::TempDir dir;
  const std::string config = dir.file("run.yaml");
  write(config, "trainer:\n  default_root_dir: " + dir.str() +
                    "\n  max_epochs: 3\n  logger: true\n  log_every_n_steps: 1\n"
                    "  enable_progress_bar: false\n  enable_model_summary: false\n"
                    "  enable_checkpointing: false\nmodel:\n  learning_rate: 0.1\n");
  auto first = run_cli({"fit", "--config", config});  // seed_everything: true (a random seed)
  ASSERT_EQ(first.code(), 0) << first.err;
  const std::string run0 = first.cli->trainer().log_dir();
  EXPECT_EQ(std::filesystem::path(run0).filename(), "version_0");
  const L::HParams saved = L::load_hparams_from_yaml(run0 + "/config.yaml");
  ASSERT_TRUE(saved.at("seed_everything").is_int()) << saved.at("seed_everything");

  auto second = run_cli({"fit", "--config", run0 + "/config.yaml"});
  ASSERT_EQ(second.code(), 0) << second.err;
  const std::string run1 = second.cli->trainer().log_dir();
  EXPECT_EQ(std::filesystem::path(run1).filename(), "version_1");
  const std::string metrics0 = read(run0 + "/metrics.csv");
  EXPECT_THAT(metrics0, HasSubstr("train_loss"));
  EXPECT_EQ(read(run1 + "/metrics.csv"), metrics0);
  const auto a = weights(*first.cli->model()), b = weights(*second.cli->model());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << i;
  EXPECT_EQ(L::load_hparams_from_yaml(run1 + "/config.yaml"), saved);
}

TEST(LightningCLI, AnExistingConfigYamlIsAnErrorUnlessOverwriting) {
  L::testing::TempDir dir;  // logger false: the run folder is default_root_dir
  auto first = run_cli(quiet("fit", dir));
  ASSERT_EQ(first.code(), 0) << first.err;
  ASSERT_TRUE(std::filesystem::exists(dir.file("config.yaml")));
  auto second = run_cli(quiet("fit", dir));
  EXPECT_EQ(second.code(), 1);  // an error while running, not a usage error
  EXPECT_THAT(second.err, HasSubstr("error: SaveConfigCallback expected " +
                                    dir.file("config.yaml") + " to NOT exist"));
  EXPECT_THAT(second.err, HasSubstr("save_config_overwrite(true)"));

  L::LightningCLIOptions overwrite;
  overwrite.save_config_overwrite(true);
  auto third = run_cli(quiet("fit", dir, {"--model.hidden=3"}), overwrite);
  ASSERT_EQ(third.code(), 0) << third.err;
  EXPECT_EQ(L::load_hparams_from_yaml(dir.file("config.yaml"))
                .get<L::HParams>("model")
                .get<int64_t>("hidden"),
            3);

  L::testing::TempDir dev_dir;  // no config saved for a fast_dev_run, as Lightning
  auto dev = run_cli(quiet("fit", dev_dir, {"--trainer.fast_dev_run=2"}));
  ASSERT_EQ(dev.code(), 0) << dev.err;
  EXPECT_FALSE(std::filesystem::exists(dev_dir.file("config.yaml")));

  L::LightningCLIOptions no_save;
  no_save.save_config_callback(false);
  auto fourth = run_cli(quiet("fit", dir), no_save);
  EXPECT_EQ(fourth.code(), 0) << fourth.err;
}

// ---- Python LightningCLI's layout ---------------------------------------------------

TEST(LightningCLI, RunsAConfigInPythonLightningCLIsLayout) {
  L::testing::TempDir dir;
  auto r = run_cli({"fit", "--config", kDir + "/python_lightning_config.yaml",
                    "--trainer.default_root_dir", dir.str()});
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(r.cli->config().at("seed_everything"), L::HParamValue(1234));
  const L::HParams model = r.cli->model()->hparams();
  EXPECT_DOUBLE_EQ(model.get<double>("learning_rate"), 0.02);
  EXPECT_EQ(model.get<int64_t>("hidden"), 5);
  EXPECT_EQ(model.get<std::string>("name"), "from_python");
  EXPECT_EQ(model.at("widths"), L::HParamValue(L::HParamValue::List{4, 2}));
  EXPECT_EQ(r.cli->datamodule_base()->hparams().get<int64_t>("num_samples"), 24);
  EXPECT_EQ(r.cli->trainer().current_epoch(), 2);
  EXPECT_EQ(r.cli->trainer().global_step(), 12);  // 24 samples / 4 per batch, 2 epochs
  // trainer.callbacks by Lightning's class path.
  ASSERT_NE(r.cli->trainer().early_stopping_callback(), nullptr);
  // The printed config is the flat C++ layout.
  EXPECT_FALSE(section(*r.cli, "model").contains("class_path"));
}

TEST(LightningCLI, ModelAndDataByClassNameAsInSubclassMode) {
  L::LightningCLIOptions parse_only;
  parse_only.run(false);
  auto r = run_cli({"--model", "my_project.TinyModel", "--data", "TinyData", "--model.hidden", "3",
                    "--model", "{class_path: TinyModel, init_args: {learning_rate: 0.5}}"},
                   parse_only);
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(section(*r.cli, "model").get<int64_t>("hidden"), 3);
  EXPECT_DOUBLE_EQ(section(*r.cli, "model").get<double>("learning_rate"), 0.5);
  auto other = run_cli({"--model", "OtherModel"}, parse_only);
  EXPECT_EQ(other.code(), 2);
  EXPECT_THAT(other.err, HasSubstr("error: the command line (--model): model.class_path = "
                                   "'OtherModel' names OtherModel, but this program is built for "
                                   "TinyModel."));
}

TEST(LightningCLI, RunsAFlatConfigPrintedByPythonLightningCLI) {
  L::testing::TempDir
      dir;  // its trainer keys are null: Lightning's defaults (loggers, checkpoints)
  auto r = run_cli({"fit", "--config", kDir + "/python_lightning_config_flat.yaml",
                    "--trainer.default_root_dir", dir.str()});
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(r.cli->model()->hparams().get<int64_t>("hidden"), 7);
  EXPECT_EQ(r.cli->datamodule_base()->hparams().get<int64_t>("num_samples"), 16);
  EXPECT_EQ(r.cli->trainer().current_epoch(), 3);
  EXPECT_EQ(r.cli->trainer().global_step(), 6);  // 16 samples / 8 per batch, 3 epochs
  EXPECT_TRUE(std::filesystem::exists(r.cli->trainer().log_dir() + "/config.yaml"));
}

// ---- optimizer and lr_scheduler from the config -------------------------------------

// TinyModel whose own configure_optimizers is what the config below says.
class TinyAdamStep : public TinyModel {
 public:
  using TinyModel::TinyModel;
  L::OptimizerConfig configure_optimizers() override {
    auto opt = std::make_shared<torch::optim::Adam>(
        parameters(), torch::optim::AdamOptions(0.01).betas(std::make_tuple(0.8, 0.99)));
    auto sched = std::make_shared<L::StepLR>(opt, L::StepLROptions(1).gamma(0.5));
    return {{opt}, {sched}};
  }
};

TEST(LightningCLIOptimizer, TheConfigsOptimizerAndSchedulerReplaceConfigureOptimizers) {
  L::testing::TempDir dir;
  L::seed_everything(3);
  auto by_hand = std::make_shared<TinyAdamStep>(
      L::HParams{{"learning_rate", 0.05}, {"hidden", 4}, {"use_bias", true}});
  L::Trainer trainer(L::TrainerOptions()
                         .max_epochs(2)
                         .num_sanity_val_steps(0)
                         .enable_progress_bar(false)
                         .enable_model_summary(false)
                         .enable_checkpointing(false)
                         .logger(false)
                         .default_root_dir(dir.str()));
  TinyData data(L::HParams{{"batch_size", 8}, {"num_samples", 32}});
  trainer.fit(by_hand, data);

  // TinyModel's own configure_optimizers is SGD: the config replaces it.
  auto r = run_cli(
      quiet("fit", dir,
            {"--seed_everything=3", "--trainer.max_epochs=2", "--optimizer", "Adam",
             "--optimizer.lr", "1e-2", "--optimizer.betas=[0.8, 0.99]", "--lr_scheduler=StepLR",
             "--lr_scheduler.step_size=1", "--lr_scheduler.init_args.gamma", "0.5"}));
  ASSERT_EQ(r.code(), 0) << r.err;
  ASSERT_EQ(r.cli->trainer().optimizers().size(), 1u);
  EXPECT_EQ(L::optimizer_name(*r.cli->trainer().optimizers()[0]), "Adam");
  EXPECT_DOUBLE_EQ(L::get_lr(*r.cli->trainer().optimizers()[0]), 0.01 * 0.25);  // 2 epochs
  ASSERT_EQ(r.cli->trainer().lr_scheduler_configs().size(), 1u);
  EXPECT_EQ(r.cli->trainer().lr_scheduler_configs()[0].scheduler->name(), "StepLR");
  const auto a = weights(*by_hand), b = weights(*r.cli->model());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(at::equal(a[i], b[i])) << i;

  // The resolved config: torch's class paths, every argument with its default.
  const L::HParams opt = section(*r.cli, "optimizer");
  EXPECT_EQ(opt.get<std::string>("class_path"), "torch.optim.Adam");
  EXPECT_EQ(opt.get<L::HParams>("init_args"),
            (L::HParams{{"lr", 0.01},
                        {"betas", L::HParamValue::List{0.8, 0.99}},
                        {"eps", 1e-8},
                        {"weight_decay", 0.0},
                        {"amsgrad", false}}));
  EXPECT_EQ(section(*r.cli, "lr_scheduler"),
            (L::HParams{
                {"class_path", "torch.optim.lr_scheduler.StepLR"},
                {"init_args", L::HParams{{"step_size", 1}, {"gamma", 0.5}, {"last_epoch", -1}}}}));
  // The saved config.yaml reproduces the optimizer and scheduler.
  const L::HParams saved = L::load_hparams_from_yaml(dir.file("config.yaml"));
  EXPECT_EQ(saved.get<L::HParams>("optimizer"), opt);
}

TEST(LightningCLIOptimizer, SectionsMergeInOrderAndAnotherClassKeepsTheArgumentsItTakes) {
  L::testing::TempDir dir;
  write(dir.file("sgd.yaml"),
        "optimizer:\n  class_path: torch.optim.SGD\n  init_args: {lr: 0.2, momentum: 0.9}\n"
        "lr_scheduler: {class_path: ExponentialLR, init_args: {gamma: 0.9}}\n");
  L::LightningCLIOptions parse_only;
  parse_only.run(false);
  auto r =
      run_cli({"--config", dir.file("sgd.yaml"), "--optimizer.weight_decay", "0.01"}, parse_only);
  ASSERT_EQ(r.code(), 0) << r.err;
  L::HParams args = section(*r.cli, "optimizer").get<L::HParams>("init_args");
  EXPECT_DOUBLE_EQ(args.get<double>("lr"), 0.2);
  EXPECT_DOUBLE_EQ(args.get<double>("momentum"), 0.9);
  EXPECT_DOUBLE_EQ(args.get<double>("weight_decay"), 0.01);
  EXPECT_FALSE(args.get<bool>("nesterov"));

  // Adam takes lr and weight_decay, not momentum.
  auto adam = run_cli({"--config", dir.file("sgd.yaml"), "--optimizer.weight_decay", "0.01",
                       "--optimizer", "torch.optim.Adam"},
                      parse_only);
  ASSERT_EQ(adam.code(), 0) << adam.err;
  args = section(*adam.cli, "optimizer").get<L::HParams>("init_args");
  EXPECT_DOUBLE_EQ(args.get<double>("lr"), 0.2);
  EXPECT_DOUBLE_EQ(args.get<double>("weight_decay"), 0.01);
  EXPECT_FALSE(args.contains("momentum"));
  EXPECT_DOUBLE_EQ(args.get<double>("eps"), 1e-8);

  // null clears a section; the model's own configure_optimizers is used.
  auto cleared = run_cli(quiet("fit", dir,
                               {"--config", dir.file("sgd.yaml"), "--lr_scheduler=null",
                                "--optimizer", "null", "--trainer.enable_checkpointing=false"}));
  ASSERT_EQ(cleared.code(), 0) << cleared.err;
  EXPECT_TRUE(cleared.cli->config().at("optimizer").is_none());
  EXPECT_TRUE(cleared.cli->config().at("lr_scheduler").is_none());
  EXPECT_DOUBLE_EQ(L::get_lr(*cleared.cli->trainer().optimizers()[0]), 0.05);  // TinyModel's SGD
}

TEST(LightningCLIOptimizer, ReduceLROnPlateauMonitorsTheGivenMetric) {
  L::testing::TempDir dir;
  auto r = run_cli(
      quiet("fit", dir,
            {"--trainer.max_epochs=3", "--optimizer=SGD", "--optimizer.lr=0.1", "--lr_scheduler",
             "ReduceLROnPlateau", "--lr_scheduler.monitor", "val_loss", "--lr_scheduler.patience=0",
             "--lr_scheduler.factor=0.5", "--lr_scheduler.mode=max"}));
  ASSERT_EQ(r.code(), 0) << r.err;
  const auto& configs = r.cli->trainer().lr_scheduler_configs();
  ASSERT_EQ(configs.size(), 1u);
  EXPECT_EQ(configs[0].config.monitor(), std::optional<std::string>("val_loss"));
  // mode max on a falling val_loss: every epoch after the first is a plateau.
  EXPECT_DOUBLE_EQ(L::get_lr(*r.cli->trainer().optimizers()[0]), 0.1 * 0.25);
  EXPECT_EQ(section(*r.cli, "lr_scheduler").get<std::string>("class_path"),
            "lightning.pytorch.cli.ReduceLROnPlateau");
}

TEST(LightningCLIOptimizer, SWALRFromTorchSwaUtils) {
  L::testing::TempDir dir;
  auto r =
      run_cli(quiet("fit", dir,
                    {"--trainer.max_epochs=2", "--optimizer=SGD", "--optimizer.lr=0.1",
                     "--lr_scheduler", "SWALR", "--lr_scheduler.swa_lr=0.05",
                     "--lr_scheduler.anneal_epochs=2", "--lr_scheduler.anneal_strategy=linear"}));
  ASSERT_EQ(r.code(), 0) << r.err;
  const auto& configs = r.cli->trainer().lr_scheduler_configs();
  ASSERT_EQ(configs.size(), 1u);
  EXPECT_EQ(configs[0].scheduler->name(), "SWALR");
  // Two linear annealing steps from 0.1 reach swa_lr.
  EXPECT_DOUBLE_EQ(L::get_lr(*r.cli->trainer().optimizers()[0]), 0.05);
  EXPECT_EQ(section(*r.cli, "lr_scheduler").get<std::string>("class_path"),
            "torch.optim.swa_utils.SWALR");
}

TEST(LightningCLIOptimizer, RunsPythonLightningCLIsOptimizerAndSchedulerSections) {
  L::testing::TempDir dir;
  auto r = run_cli({"fit", "--config", kDir + "/python_lightning_config_optim.yaml",
                    "--trainer.default_root_dir", dir.str()});
  ASSERT_EQ(r.code(), 0) << r.err;
  const auto& opt = *r.cli->trainer().optimizers().at(0);
  EXPECT_EQ(L::optimizer_name(opt), "AdamW");
  EXPECT_DOUBLE_EQ(L::weight_decay_of(opt.param_groups()[0].options()), 0.05);
  EXPECT_EQ(r.cli->trainer().lr_scheduler_configs().at(0).config.monitor(),
            std::optional<std::string>("train_loss"));
  EXPECT_EQ(r.cli->trainer().global_step(), 12);
  // Python-only arguments at their defaults (maximize, foreach, ...) are dropped.
  EXPECT_EQ(section(*r.cli, "optimizer").get<L::HParams>("init_args").keys(),
            (std::vector<std::string>{"lr", "betas", "eps", "weight_decay", "amsgrad"}));
}

TEST(LightningCLIOptimizer, PrintConfigRoundTripsTheSections) {
  L::testing::TempDir dir;
  auto first = run_cli({"fit", "--optimizer", "RMSprop", "--lr_scheduler", "OneCycleLR",
                        "--lr_scheduler.max_lr", "[0.1]", "--lr_scheduler.total_steps", "100",
                        "--print_config"});
  ASSERT_EQ(first.code(), 0) << first.err;
  EXPECT_THAT(first.out,
              HasSubstr("optimizer:\n  class_path: \"torch.optim.RMSprop\"\n  init_args:\n"
                        "    lr: 0.01\n    alpha: 0.99\n"));
  EXPECT_THAT(first.out, HasSubstr("    anneal_strategy: \"cos\"\n"));
  write(dir.file("printed.yaml"), first.out);
  auto second = run_cli({"fit", "--config", dir.file("printed.yaml"), "--print_config"});
  ASSERT_EQ(second.code(), 0) << second.err;
  EXPECT_EQ(second.out, first.out);

  // skip_null leaves out every null value, and reads back to the same config.
  auto skipped = run_cli({"fit", "--config", dir.file("printed.yaml"), "--print_config=skip_null"});
  ASSERT_EQ(skipped.code(), 0) << skipped.err;
  EXPECT_THAT(skipped.out, Not(HasSubstr("null")));
  EXPECT_THAT(skipped.out, HasSubstr("    total_steps: 100\n"));
  write(dir.file("skipped.yaml"), skipped.out);
  auto third = run_cli({"fit", "--config", dir.file("skipped.yaml"), "--print_config"});
  EXPECT_EQ(third.out, first.out);
  auto bad = run_cli({"fit", "--print_config=all"});
  EXPECT_EQ(bad.code(), 2);
  EXPECT_THAT(bad.err, HasSubstr("error: --print_config=all: the one flag is skip_null"));
}

// A registered optimizer and scheduler: the factories get the module's
// parameters, the optimizer and the init_args.
class CountingSGD : public torch::optim::SGD {
 public:
  CountingSGD(std::vector<at::Tensor> params, const L::HParams& a)
      : torch::optim::SGD(std::move(params), torch::optim::SGDOptions(a.get<double>("lr", 0.5))) {}
};

TEST(LightningCLIOptimizer, RegisteredClassesComeFromTheConfig) {
  L::register_optimizer<CountingSGD>("CountingSGD");
  size_t params_seen = 0;
  L::register_optimizer("my_project.optim.Plain",
                        [&](std::vector<at::Tensor> params, const L::HParams& a) {
                          params_seen = params.size();
                          return std::make_shared<torch::optim::SGD>(
                              params, torch::optim::SGDOptions(a.get<double>("lr")));
                        });
  L::register_lr_scheduler("Halving",
                           [](std::shared_ptr<torch::optim::Optimizer> opt,
                              const L::HParams& a) -> std::shared_ptr<L::LRScheduler> {
                             return std::make_shared<L::StepLR>(
                                 opt, L::StepLROptions(a.get<int64_t>("every")));
                           });
  L::testing::TempDir dir;
  auto r = run_cli(quiet("fit", dir,
                         {"--optimizer",
                          "{class_path: my_project.optim.Plain, init_args: {lr: "
                          "0.3}}",
                          "--lr_scheduler", "{class_path: pkg.Halving, init_args: {every: 1}}",
                          "--trainer.max_epochs=2"}));
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_EQ(params_seen, 4u);  // l1 and l2, weight and bias
  EXPECT_DOUBLE_EQ(L::get_lr(*r.cli->trainer().optimizers()[0]), 0.3 * 0.01);
  EXPECT_EQ(section(*r.cli, "lr_scheduler").get<std::string>("class_path"), "pkg.Halving");

  L::testing::TempDir dir2;
  auto c = run_cli(quiet("fit", dir2, {"--optimizer", "CountingSGD"}));
  ASSERT_EQ(c.code(), 0) << c.err;
  EXPECT_DOUBLE_EQ(L::get_lr(*c.cli->trainer().optimizers()[0]), 0.5);
}

TEST(LightningCLIOptimizer, HelpListsTheSectionsAndEachClassesArguments) {
  auto r = run_cli({"fit", "--help"});
  ASSERT_EQ(r.code(), 0);
  EXPECT_THAT(r.out, HasSubstr("--optimizer OPTIMIZER\n"));
  EXPECT_THAT(r.out, HasSubstr("torch.optim.AdamW"));
  EXPECT_THAT(r.out, HasSubstr("--lr_scheduler LR_SCHEDULER\n"));
  EXPECT_THAT(r.out, HasSubstr("torch.optim.lr_scheduler.OneCycleLR"));
  auto adam = run_cli({"fit", "--optimizer.help", "Adam"});
  ASSERT_EQ(adam.code(), 0) << adam.err;
  EXPECT_THAT(adam.out, HasSubstr("torch.optim.Adam (--optimizer.init_args):\n"));
  EXPECT_THAT(adam.out, HasSubstr("  --optimizer.betas\n      coefficients of the running averages "
                                  "of the gradient and its square (type: tuple[float, float], "
                                  "default: [0.9, 0.999])\n"));
  auto step = run_cli({"fit", "--lr_scheduler.help", "torch.optim.lr_scheduler.StepLR"});
  EXPECT_THAT(step.out,
              HasSubstr("  --lr_scheduler.step_size\n      period of the decay, in epochs "
                        "(type: int, required)\n"));
}

// ---- errors ---------------------------------------------------------------------

// Runs `args`, expects exit code 2 and "error: <text...>" on stderr.
std::string error_for(std::vector<std::string> args, L::LightningCLIOptions options = {}) {
  auto r = run_cli(std::move(args), options);
  EXPECT_EQ(r.code(), 2) << r.out;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  return r.err;
}

TEST(LightningCLIErrors, UnknownOrMissingSubcommand) {
  EXPECT_THAT(error_for({"fitt"}), HasSubstr("error: unknown subcommand 'fitt', did you mean "
                                             "'fit'? Choose from fit, validate, test, predict."));
  EXPECT_THAT(error_for({"train"}),
              HasSubstr("unknown subcommand 'train'. Choose from fit, validate, test, predict."));
  const std::string none = error_for({});
  EXPECT_THAT(none, HasSubstr("expected a subcommand: one of fit, validate, test, predict."));
  EXPECT_THAT(none, HasSubstr("usage: tiny_cli [-h] [-c CONFIG] {fit,validate,test,predict}"));
  EXPECT_THAT(error_for({"--trainer.max_epochs=3"}),
              HasSubstr("expected a subcommand (fit, validate, test, predict) before "
                        "'--trainer.max_epochs=3'"));
}

TEST(LightningCLIErrors, MalformedYamlNamesFileLineAndColumn) {
  EXPECT_THAT(error_for({"fit", "--config", kDir + "/malformed.yaml"}),
              HasSubstr("error: config file " + kDir +
                        "/malformed.yaml is not valid YAML at line 4, column 8: end of sequence "
                        "flow not found."));
  EXPECT_THAT(error_for({"fit", "--config", kDir + "/no_such_file.yaml"}),
              HasSubstr("cannot read config file " + kDir + "/no_such_file.yaml: No such file"));
}

TEST(LightningCLIErrors, UnknownKeysListTheClosestNames) {
  L::testing::TempDir dir;
  write(dir.file("top.yaml"), "modle:\n  hidden: 3\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("top.yaml")}),
              HasSubstr(dir.file("top.yaml") + ": unknown key 'modle', did you mean 'model'?"));
  write(dir.file("model.yaml"), "model:\n  learning_rat: 0.1\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("model.yaml")}),
              HasSubstr(": unknown key 'model.learning_rat', did you mean 'learning_rate'? "
                        "TinyModel takes: learning_rate, hidden, name, use_bias, widths, extra."));
  write(dir.file("trainer.yaml"), "trainer:\n  max_epoch: 3\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("trainer.yaml")}),
              HasSubstr(dir.file("trainer.yaml") +
                        ": trainer.max_epoch: unknown Trainer option 'max_epoch', did you mean "
                        "'max_epochs' or 'min_epochs'?"));
  EXPECT_THAT(error_for({"fit", "--data.batchsize", "3"}),
              HasSubstr("the command line (--data.batchsize): unknown key 'data.batchsize', did "
                        "you mean 'batch_size'?"));
  EXPECT_THAT(error_for({"fit", "--trainer.max_epoch=3"}),
              HasSubstr("error: the command line (--trainer.max_epoch): trainer.max_epoch: "
                        "unknown Trainer option 'max_epoch', did you mean 'max_epochs' or "
                        "'min_epochs'?"));
  EXPECT_THAT(error_for({"fit", "--modle.hidden", "3"}),
              HasSubstr("unknown option '--modle.hidden', did you mean '--model.hidden'?"));
  EXPECT_THAT(error_for({"fit", "--print-config"}),
              HasSubstr("unknown option '--print-config', did you mean '--print_config'?"));
}

TEST(LightningCLIErrors, WrongTypesNameKeyValueAndExpectedType) {
  EXPECT_THAT(error_for({"fit", "--model.hidden", "abc"}),
              HasSubstr("error: the command line (--model.hidden): model.hidden = 'abc' (str): "
                        "expected int (width of the hidden layer)."));
  EXPECT_THAT(error_for({"fit", "--model.learning_rate=fast"}),
              HasSubstr("model.learning_rate = 'fast' (str): expected float"));
  EXPECT_THAT(error_for({"fit", "--model.use_bias", "maybe"}),
              HasSubstr("model.use_bias = 'maybe' (str): expected bool"));
  EXPECT_THAT(error_for({"fit", "--model.widths", "3"}),
              HasSubstr("model.widths = 3 (int): expected list"));
  EXPECT_THAT(error_for({"fit", "--model.hidden", "null"}),
              HasSubstr("model.hidden = None (None): expected int"));
  EXPECT_THAT(error_for({"fit", "--seed_everything", "soon"}),
              HasSubstr("seed_everything = 'soon' (str): expected an int seed or a bool"));
  EXPECT_THAT(error_for({"fit", "--ckpt_path", "[1]"}),
              HasSubstr("ckpt_path = [1] (list): expected a path (str) or null."));
  // Trainer values are checked by the trainer section, with the source named.
  EXPECT_THAT(error_for({"fit", "--trainer.max_epochs", "many"}),
              HasSubstr("error: the command line (--trainer.max_epochs): trainer.max_epochs"));
  EXPECT_THAT(error_for({"fit", "--trainer.precision=bf17-mixed"}),
              HasSubstr("error: the command line (--trainer.precision): trainer.precision"));
  L::testing::TempDir dir;
  write(dir.file("t.yaml"), "model:\n  hidden: 2.5\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("t.yaml")}),
              HasSubstr(dir.file("t.yaml") + ": model.hidden = 2.5 (float): expected int"));
  write(dir.file("w.yaml"), "weights_only: maybe\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("w.yaml")}),
              HasSubstr("weights_only = 'maybe' (str): expected a bool or null"));
  write(dir.file("m.yaml"), "model: 3\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("m.yaml")}),
              HasSubstr("model = 3 (int): expected a mapping of TinyModel's arguments."));
}

TEST(LightningCLIErrors, ARequiredArgumentWithoutAValue) {
  const char* argv[] = {"prog", "fit"};
  ::testing::internal::CaptureStderr();
  L::LightningCLI<NeedsClasses> cli(2, argv);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(cli.exit_code(), 2);
  EXPECT_THAT(err, HasSubstr("error: model.num_classes is required: NeedsClasses needs int (how "
                             "many classes). Give it in a config file (model: {num_classes: ...}) "
                             "or as --model.num_classes VALUE."));
  EXPECT_EQ(cli.model(), nullptr);
}

TEST(LightningCLIErrors, PythonOnlyKeysAndAnotherClassPath) {
  L::testing::TempDir dir;
  write(dir.file("p.yaml"), "trainer:\n  plugins: [foo]\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("p.yaml")}),
              HasSubstr(dir.file("p.yaml") +
                        ": trainer.plugins: 'plugins' is a Python Lightning Trainer argument "
                        "that lightning.cpp does not have (no plugins); only None or [] is "
                        "accepted (and ignored) here, got ['foo']."));
  write(dir.file("c.yaml"), "model:\n  class_path: pkg.OtherModel\n  init_args: {hidden: 3}\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("c.yaml")}),
              HasSubstr("model.class_path = 'pkg.OtherModel' names OtherModel, but this program "
                        "is built for TinyModel. Use class_path: TinyModel."));
  write(dir.file("k.yaml"), "model:\n  class_path: TinyModel\n  init_arg: {hidden: 3}\n");
  EXPECT_THAT(error_for({"fit", "--config", dir.file("k.yaml")}),
              HasSubstr("unknown key 'model.init_arg', did you mean 'init_args'?"));
}

TEST(LightningCLIErrors, OptimizerAndSchedulerMistakes) {
  EXPECT_THAT(error_for({"fit", "--optimizer", "Adamm"}),
              HasSubstr("error: the command line (--optimizer): optimizer.class_path: unknown "
                        "optimizer 'Adamm', did you mean 'Adam' or 'AdamW'? Available: SGD, Adam, "
                        "AdamW, Adagrad, RMSprop, LBFGS"));
  EXPECT_THAT(error_for({"fit", "--optimizer", "torch.optim.NAdam"}),
              HasSubstr("optimizer.class_path: 'torch.optim.NAdam' cannot come from a config "
                        "here: a PyTorch optimizer that libtorch's C++ API does not have"));
  EXPECT_THAT(error_for({"fit", "--lr_scheduler", "LambdaLR"}),
              HasSubstr("'LambdaLR' cannot come from a config here: it takes a Python function; "
                        "build L::LambdaLR with a C++ lambda in the model's "
                        "configure_optimizers."));
  EXPECT_THAT(error_for({"fit", "--optimizer", "Adam", "--optimizer.lrr", "0.1"}),
              HasSubstr("the command line (--optimizer.lrr): optimizer.init_args.lrr: Adam has "
                        "no argument 'lrr', did you mean 'lr'? Its arguments: lr, betas, eps, "
                        "weight_decay, amsgrad."));
  EXPECT_THAT(error_for({"fit", "--optimizer", "Adam", "--optimizer.lr", "fast"}),
              HasSubstr("optimizer.init_args.lr: expected float, got str 'fast'."));
  EXPECT_THAT(error_for({"fit", "--optimizer", "Adam", "--optimizer.betas", "[0.9]"}),
              HasSubstr("optimizer.init_args.betas: expected tuple[float, float], got list "
                        "[0.9]."));
  EXPECT_THAT(error_for({"fit", "--optimizer", "SGD", "--optimizer.maximize", "true"}),
              HasSubstr("optimizer.init_args.maximize: SGD's 'maximize' exists in PyTorch but "
                        "not in lightning.cpp (libtorch's optimizers minimize: negate the loss "
                        "instead); only False is accepted here, got True."));
  EXPECT_THAT(error_for({"fit", "--optimizer", "Adam", "--optimizer.lr", "-1"}),
              HasSubstr("error: optimizer (Adam): Invalid learning rate: -1"));
  EXPECT_THAT(error_for({"fit", "--optimizer.lr", "0.1"}),
              HasSubstr("optimizer = {'lr': 0.1}: no optimizer class given before these "
                        "arguments. Give the class first (--optimizer Adam, or optimizer: "
                        "{class_path: ..., init_args: {...}} in a config file)."));
  EXPECT_THAT(error_for({"fit", "--optimizer", "SGD", "--lr_scheduler", "StepLR"}),
              HasSubstr("error: lr_scheduler.init_args.step_size: StepLR requires this argument "
                        "(int: period of the decay, in epochs), it is missing. Give it in a "
                        "config file (lr_scheduler: {class_path: StepLR, init_args: {step_size: "
                        "...}}) or as --lr_scheduler.step_size VALUE."));
  EXPECT_THAT(error_for({"fit", "--lr_scheduler", "ExponentialLR", "--lr_scheduler.gamma", "0.9"}),
              HasSubstr("error: lr_scheduler = 'torch.optim.lr_scheduler.ExponentialLR' needs an "
                        "optimizer to schedule: give optimizer too"));
  EXPECT_THAT(error_for({"fit", "--optimizer", "SGD", "--lr_scheduler", "ReduceLROnPlateau",
                         "--lr_scheduler.mode", "maximum", "--lr_scheduler.monitor", "val_loss"}),
              HasSubstr("error: lr_scheduler (ReduceLROnPlateau): "));
  EXPECT_THAT(error_for({"fit", "--optimizer", "my.pkg.Adam"}),
              HasSubstr("optimizer.class_path: 'my.pkg.Adam' is not a registered optimizer; the "
                        "built-in 'Adam' is found as 'torch.optim.Adam' or 'Adam'."));
}

TEST(LightningCLIErrors, NoErrorTextOnSuccessAndNothingThrownOutOfTheConstructor) {
  L::testing::TempDir dir;
  auto ok = run_cli(quiet("validate", dir));
  EXPECT_EQ(ok.code(), 0);
  EXPECT_THAT(ok.err, Not(HasSubstr("error:")));
  EXPECT_NO_THROW(run_cli({"fit", "--model.hidden", "abc"}));
}

}  // namespace
