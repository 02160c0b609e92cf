#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <sstream>

#include "support/boring.h"

namespace L = lightning;

TEST(HParams, TypedAccess) {
  L::HParams hp{{"learning_rate", 1e-3},
                {"hidden", 128},
                {"name", "mlp"},
                {"flag", true},
                {"layers", L::HParamValue::List{64, 32}},
                {"nested", L::HParams{{"a", 1}}},
                {"none", nullptr}};
  EXPECT_DOUBLE_EQ(hp.get<double>("learning_rate"), 1e-3);
  EXPECT_EQ(hp.get<int64_t>("hidden"), 128);
  EXPECT_EQ(hp.get<int>("hidden"), 128);
  EXPECT_DOUBLE_EQ(hp.get<double>("hidden"), 128.0);  // int widens to float, as in Python
  EXPECT_EQ(hp.get<std::string>("name"), "mlp");
  EXPECT_TRUE(hp.get<bool>("flag"));
  EXPECT_EQ(hp.get<L::HParamValue::List>("layers").size(), 2u);
  EXPECT_EQ(hp.get<L::HParams>("nested").get<int64_t>("a"), 1);
  EXPECT_TRUE(hp.at("none").is_none());
  EXPECT_EQ(hp.get<int64_t>("missing", 5), 5);
  EXPECT_EQ(hp.keys(), (std::vector<std::string>{"learning_rate", "hidden", "name", "flag",
                                                 "layers", "nested", "none"}));
  std::ostringstream s;
  s << L::HParams{{"lr", 0.5}, {"layers", L::HParamValue::List{1, 2}}, {"on", false}};
  EXPECT_EQ(s.str(), "{'lr': 0.5, 'layers': [1, 2], 'on': False}");
}

TEST(HParams, ErrorsNameTheKeyAndTheTypes) {
  L::HParams hp{{"learning_rate", 1e-3}, {"name", "mlp"}};
  EXPECT_LIGHTNING_ERROR(hp.get<double>("lr"),
                         "hparams has no key 'lr'. Available keys: ['learning_rate', 'name']");
  EXPECT_LIGHTNING_ERROR(hp.get<int64_t>("learning_rate"),
                         "hparams['learning_rate'] is float (0.001), not int");
  EXPECT_LIGHTNING_ERROR(hp.get<double>("name"), "hparams['name'] is str ('mlp'), not float");
  L::HParams negative{{"n", -7}, {"min", std::numeric_limits<int64_t>::min()}};
  EXPECT_EQ(negative.get<int>("n"), -7);
  EXPECT_EQ(negative.get<int64_t>("min"), std::numeric_limits<int64_t>::min());
  EXPECT_LIGHTNING_ERROR(negative.get<unsigned>("n"), "does not fit the requested integer type");
  L::HParams big{{"n", int64_t{1} << 40}};
  EXPECT_LIGHTNING_ERROR(big.get<int>("n"), "does not fit the requested integer type");
}

TEST(HParams, SetUpdateEraseKeepOrder) {
  L::HParams hp{{"a", 1}, {"b", 2}};
  hp.set("a", 10).set("c", 3);
  hp.update(L::HParams{{"b", 20}, {"d", 4}});
  EXPECT_EQ(hp.keys(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(hp.get<int64_t>("b"), 20);
  EXPECT_TRUE(hp.erase("c"));
  EXPECT_FALSE(hp.erase("c"));
  EXPECT_EQ(hp, (L::HParams{{"a", 10}, {"b", 20}, {"d", 4}}));
}

TEST(HParams, ModuleSavesThem) {
  struct M : L::LightningModule {
    explicit M(L::HParams hp) { save_hyperparameters(hp); }
  };
  M m({{"learning_rate", 1e-3}});
  EXPECT_DOUBLE_EQ(m.hparams().get<double>("learning_rate"), 1e-3);
  EXPECT_LIGHTNING_ERROR(m.hparams().get<double>("momentum"), "hparams has no key 'momentum'");
}

TEST(Stage, PrintsLightningNames) {
  std::ostringstream s;
  s << L::Stage::Fit << " " << L::Stage::Validate << " " << L::Stage::Test << " "
    << L::Stage::Predict;
  EXPECT_EQ(s.str(), "fit validate test predict");
}
