// BasePredictionWriter and PredictionWriter: hook timing, batch indices,
// the shape of the epoch predictions, and files Python's torch.load reads.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/epoch_order.h"
#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
using L::testing::quiet;
using L::testing::TempDir;

namespace {

// x[i] = i: a prediction names the samples it came from.
std::shared_ptr<L::TensorDataset> index_dataset(int64_t n) {
  return std::make_shared<L::TensorDataset>(
      std::vector<at::Tensor>{at::arange(n, at::kFloat).unsqueeze(1)});
}

L::DataLoader index_loader(int64_t n, int64_t batch_size, bool shuffle, uint64_t seed = 7) {
  return L::DataLoader(
      index_dataset(n),
      L::DataLoaderOptions().batch_size(batch_size).shuffle(shuffle).generator_seed(seed));
}

// predict_step: 10 * x + dataloader_idx, as int64.
class IndexModule : public L::LightningModule {
 public:
  IndexModule() { register_module("layer", torch::nn::Linear(1, 1)); }
  using L::LightningModule::predict_step;
  c10::IValue predict_step(L::Batch& batch, int64_t, int64_t dataloader_idx) override {
    return (batch[0].flatten() * 10 + static_cast<double>(dataloader_idx)).to(at::kLong);
  }
};

std::vector<int64_t> longs(const at::Tensor& t) {
  const at::Tensor c = t.contiguous().to(at::kLong);
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

std::vector<int64_t> times_ten(const std::vector<int64_t>& v, int64_t plus = 0) {
  std::vector<int64_t> out;
  for (int64_t x : v) out.push_back(10 * x + plus);
  return out;
}

// A list of ints as the checkpoint reader returns it (a generic list).
std::vector<int64_t> ints(const c10::IValue& list) {
  std::vector<int64_t> out;
  for (const c10::IValue& v : list.toListRef()) out.push_back(v.toInt());
  return out;
}

struct BatchCall {
  std::vector<int64_t> prediction, indices;
  int64_t batch_idx, dataloader_idx;
};

class RecordingWriter : public L::BasePredictionWriter {
 public:
  using BasePredictionWriter::BasePredictionWriter;
  void write_on_batch_end(L::Trainer&, L::LightningModule&, const c10::IValue& prediction,
                          const std::vector<int64_t>& batch_indices, const L::Batch& batch,
                          int64_t batch_idx, int64_t dataloader_idx) override {
    EXPECT_EQ(longs(batch[0]), batch_indices);  // the batch is made of those samples
    batch_calls.push_back({longs(prediction.toTensor()), batch_indices, batch_idx, dataloader_idx});
    events.push_back("batch");
  }
  void write_on_epoch_end(L::Trainer&, L::LightningModule&,
                          const std::vector<c10::IValue>& predictions,
                          const L::EpochBatchIndices& batch_indices) override {
    epoch_predictions = predictions;
    epoch_indices = batch_indices;
    events.push_back("epoch");
  }
  void on_predict_epoch_end(L::Trainer& trainer, L::LightningModule& module) override {
    events.push_back("on_predict_epoch_end");
    BasePredictionWriter::on_predict_epoch_end(trainer, module);
  }
  std::vector<BatchCall> batch_calls;
  std::vector<c10::IValue> epoch_predictions;
  L::EpochBatchIndices epoch_indices;
  std::vector<std::string> events;
};

}  // namespace

TEST(PredictionWriter, RejectsUnknownInterval) {
  EXPECT_LIGHTNING_ERROR(RecordingWriter("step"),
                         "write_interval should be one of [\"batch\", \"epoch\", "
                         "\"batch_and_epoch\"], got \"step\"");
  EXPECT_LIGHTNING_ERROR(L::PredictionWriter("", "batch"), "output_dir is empty");
}

TEST(PredictionWriter, BatchIntervalGetsTheShuffledSampleIndices) {
  auto writer = std::make_shared<RecordingWriter>("batch");
  L::Trainer trainer(quiet().callbacks({writer}));
  auto loader = index_loader(10, 4, /*shuffle=*/true);
  const auto outputs = trainer.predict(std::make_shared<IndexModule>(), loader);

  ASSERT_EQ(writer->batch_calls.size(), 3u);  // 4 + 4 + 2
  std::vector<int64_t> all;
  for (size_t b = 0; b < 3; ++b) {
    const BatchCall& call = writer->batch_calls[b];
    EXPECT_EQ(call.batch_idx, static_cast<int64_t>(b));
    EXPECT_EQ(call.dataloader_idx, 0);
    EXPECT_EQ(call.prediction, times_ten(call.indices));
    EXPECT_EQ(call.prediction, longs(outputs[b].toTensor()));
    all.insert(all.end(), call.indices.begin(), call.indices.end());
  }
  EXPECT_EQ(writer->batch_calls[2].indices.size(), 2u);
  // A permutation of the dataset, and not the identity (the loader shuffles).
  std::vector<int64_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_NE(all, sorted);
  // Nothing for the epoch with the "batch" interval.
  EXPECT_EQ(writer->events,
            (std::vector<std::string>{"batch", "batch", "batch", "on_predict_epoch_end"}));
}

TEST(PredictionWriter, EpochIntervalGetsWhatPredictReturnsAndIndicesPerLoader) {
  auto writer = std::make_shared<RecordingWriter>("epoch");
  L::Trainer trainer(quiet().callbacks({writer}).limit_predict_batches(2));
  L::DataLoaders loaders({index_loader(10, 3, false), index_loader(6, 4, true)});
  const auto outputs = trainer.predict(std::make_shared<IndexModule>(), loaders);

  EXPECT_TRUE(writer->batch_calls.empty());
  EXPECT_EQ(writer->events, (std::vector<std::string>{"on_predict_epoch_end", "epoch"}));
  // Two loaders: one list of batch outputs per loader, as Trainer::predict returns.
  ASSERT_EQ(writer->epoch_predictions.size(), 2u);
  ASSERT_EQ(outputs.size(), 2u);
  ASSERT_EQ(writer->epoch_indices.size(), 2u);
  EXPECT_EQ(writer->epoch_indices[0],
            (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5}}));  // limit: 2 batches
  ASSERT_EQ(writer->epoch_indices[1].size(), 2u);
  for (size_t dl = 0; dl < 2; ++dl) {
    const auto& written = writer->epoch_predictions[dl].toListRef();
    const auto& returned = outputs[dl].toListRef();
    ASSERT_EQ(written.size(), 2u);
    for (size_t b = 0; b < 2; ++b) {
      EXPECT_EQ(longs(written[b].toTensor()), longs(returned[b].toTensor()));
      EXPECT_EQ(longs(written[b].toTensor()),
                times_ten(writer->epoch_indices[dl][b], static_cast<int64_t>(dl)));
    }
  }
}

TEST(PredictionWriter, BatchAndEpochCallsBothAndOneLoaderIsFlat) {
  auto writer = std::make_shared<RecordingWriter>("batch_and_epoch");
  L::Trainer trainer(quiet().callbacks({writer}));
  trainer.predict(std::make_shared<IndexModule>(), index_loader(5, 2, false));
  EXPECT_EQ(writer->events,
            (std::vector<std::string>{"batch", "batch", "batch", "on_predict_epoch_end", "epoch"}));
  ASSERT_EQ(writer->epoch_predictions.size(), 3u);  // flat: one output per batch
  EXPECT_EQ(longs(writer->epoch_predictions[2].toTensor()), (std::vector<int64_t>{40}));
  EXPECT_EQ(writer->epoch_indices, (L::EpochBatchIndices{{{0, 1}, {2, 3}, {4}}}));
}

TEST(PredictionWriter, MissingOverrideIsAnError) {
  auto writer = std::make_shared<L::BasePredictionWriter>("epoch");
  L::Trainer trainer(quiet().callbacks({writer}));
  EXPECT_LIGHTNING_ERROR(
      trainer.predict(std::make_shared<IndexModule>(), index_loader(4, 2, false)),
      "write_on_epoch_end is not overridden");
}

TEST(PredictionWriter, WritesFilesThatTorchLoadReads) {
  TempDir dir("prediction_writer");
  const std::string out = dir.file("preds");
  auto per_batch = std::make_shared<L::PredictionWriter>(out, "batch");
  auto per_epoch = std::make_shared<L::PredictionWriter>(out, "epoch");
  L::Trainer trainer(quiet().callbacks({per_batch, per_epoch}));
  trainer.predict(std::make_shared<IndexModule>(), index_loader(5, 2, /*shuffle=*/true));

  // Read back here.
  std::vector<std::vector<int64_t>> batch_indices;
  for (int b = 0; b < 3; ++b) {
    const std::string path = out + "/predictions_0_0_" + std::to_string(b) + ".pt";
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    L::StateDict file = L::load_checkpoint_file(path);
    const auto indices = ints(file.at("batch_indices"));
    EXPECT_EQ(longs(file.at("prediction").toTensor()), times_ten(indices));
    batch_indices.push_back(indices);
  }
  L::StateDict epoch = L::load_checkpoint_file(out + "/predictions_0.pt");
  const auto& preds = epoch.at("predictions").toListRef();
  ASSERT_EQ(preds.size(), 3u);
  const auto& loaders = epoch.at("batch_indices").toListRef();
  ASSERT_EQ(loaders.size(), 1u);
  const auto& batches = loaders[0].toListRef();
  ASSERT_EQ(batches.size(), 3u);
  for (size_t b = 0; b < 3; ++b) {
    EXPECT_EQ(ints(batches[b]), batch_indices[b]);
    EXPECT_EQ(longs(preds[b].toTensor()), times_ten(batch_indices[b]));
  }

  // And with Python's torch.load (weights_only=True: only allow-listed globals).
  const std::string script = dir.file("read.py");
  std::ofstream(script) << R"(import sys, torch
for path in sys.argv[1:]:
    d = torch.load(path, weights_only=True)
    if "prediction" in d:
        p = d["prediction"]
        assert p.dtype == torch.int64, p.dtype
        print("batch", p.tolist(), d["batch_indices"])
    else:
        print("epoch", [p.tolist() for p in d["predictions"]], d["batch_indices"])
)";
  const auto result = L::testing::run_python(
      script,
      {out + "/predictions_0_0_0.pt", out + "/predictions_0_0_2.pt", out + "/predictions_0.pt"});
  ASSERT_EQ(result.status, 0) << result.describe() << "\n" << L::testing::kPythonSetup;
  auto list = [](const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  };
  std::string preds_text, indices_text;
  for (size_t b = 0; b < 3; ++b) {
    preds_text += (b ? ", " : "") + list(times_ten(batch_indices[b]));
    indices_text += (b ? ", " : "") + list(batch_indices[b]);
  }
  const std::string expected = "batch " + list(times_ten(batch_indices[0])) + " " +
                               list(batch_indices[0]) + "\n" + "batch " +
                               list(times_ten(batch_indices[2])) + " " + list(batch_indices[2]) +
                               "\n" + "epoch [" + preds_text + "] [[" + indices_text + "]]\n";
  EXPECT_EQ(result.out, expected);
}

TEST(PredictionWriter, EpochOrderIsWhatTheLoaderYieldsAlsoForAShard) {
  // What batch_indices are computed from: the order of the epoch a loader
  // started last, here for rank 1 of 3 of a shuffled loader (as under DDP).
  L::DataLoader shard = index_loader(10, 2, /*shuffle=*/true).with_shard(3, 1, /*pad=*/false);
  std::vector<int64_t> yielded;
  for (L::Batch& batch : shard) {
    const auto samples = longs(batch[0]);
    yielded.insert(yielded.end(), samples.begin(), samples.end());
  }
  EXPECT_EQ(yielded.size(), 3u);  // samples 1, 4, 7 of the epoch's order
  EXPECT_EQ(L::detail::current_epoch_order(shard), yielded);
}
