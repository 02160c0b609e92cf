// Seed corpus for checkpoint_reader_fuzz, part 1: small valid checkpoints
// written by save_checkpoint_file (part 2, written by Python's torch.save, is
// make_corpus.py). Linked into the fuzzer itself (the writer is compiled in
// anyway, so no separate program has to be built) and run by tests/fuzz/run.sh
// at test time:
//
//   checkpoint_reader_fuzz --write-seeds <folder>
//
// Each seed is kept small (a few KB): libFuzzer's speed and its default
// max_len follow the size of the seeds.
#include <ATen/ATen.h>

#include <cstdint>
#include <exception>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/state_dict.h"

namespace L = lightning;

namespace {

c10::IValue list_of(std::vector<c10::IValue> items) {
  c10::impl::GenericList list(c10::AnyType::get());
  for (auto& i : items) list.push_back(std::move(i));
  return list;
}

c10::IValue tuple_of(std::vector<c10::IValue> items) {
  return c10::ivalue::Tuple::create(std::move(items));
}

L::StateDict nested(const std::string& key, c10::IValue value) {
  L::StateDict d = L::make_state_dict();
  d.insert(key, std::move(value));
  return d;
}

// Lightning's keys: a model state_dict (with views sharing a storage), loops,
// an Adam state keyed by int, hyper-parameters and a callback state.
L::StateDict lightning_like() {
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{3});
  ckpt.insert("global_step", int64_t{1} << 40);
  ckpt.insert("pytorch-lightning_version", std::string("1.8.6"));
  L::StateDict sd = L::make_state_dict();
  const at::Tensor base = at::arange(6, at::kFloat).reshape({2, 3});
  sd.insert("layer.weight", base);
  sd.insert("layer.weight_t", base.t());
  sd.insert("layer.bias", base.narrow(1, 1, 2).select(0, 1));
  sd.insert("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  ckpt.insert("state_dict", sd);
  L::StateDict progress = L::make_state_dict();
  progress.insert("ready", int64_t{4});
  progress.insert("completed", int64_t{3});
  ckpt.insert("loops", nested("fit_loop", nested("epoch_progress", nested("total", progress))));
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  L::StateDict s = L::make_state_dict();
  s.insert("step", at::scalar_tensor(5.0, at::kFloat));
  s.insert("exp_avg", at::full({3}, 0.5, at::kFloat));
  state.insert(int64_t{0}, s);
  L::StateDict group = L::make_state_dict();
  group.insert("lr", 0.001);
  group.insert("betas", tuple_of({0.9, 0.999}));
  group.insert("amsgrad", false);
  group.insert("foreach", c10::IValue());
  group.insert("params", list_of({int64_t{0}}));
  L::StateDict opt = L::make_state_dict();
  opt.insert("state", state);
  opt.insert("param_groups", list_of({group}));
  ckpt.insert("optimizer_states", list_of({opt}));
  L::StateDict hparams = L::make_state_dict();
  hparams.insert("lr", 0.1);
  hparams.insert("layers", list_of({int64_t{3}, int64_t{4}}));
  hparams.insert("name", std::string("net"));
  ckpt.insert("hyper_parameters", hparams);
  L::StateDict mc = L::make_state_dict();
  mc.insert("best_model_score", at::scalar_tensor(0.25, at::kFloat));
  mc.insert("best_model_path", std::string("/tmp/épochs/best.ckpt"));
  ckpt.insert("callbacks", nested("ModelCheckpoint{'monitor': 'val_loss'}", mc));
  return ckpt;
}

// One small tensor of every dtype the writer supports, plus odd layouts.
L::StateDict dtypes() {
  L::StateDict ckpt = L::make_state_dict();
  const at::Tensor values = at::tensor({-3.25, 0.0, 7.5, 100.0}, at::kDouble);
  for (at::ScalarType t : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong, at::kInt,
                           at::kShort, at::kChar}) {
    ckpt.insert(std::string(c10::toString(t)), values.to(t).reshape({2, 2}));
  }
  ckpt.insert("uint8", at::tensor({0, 1, 255}, at::kInt).to(at::kByte));
  ckpt.insert("bool", at::tensor({1, 0, 1}, at::kInt).to(at::kBool));
  ckpt.insert("scalar", at::scalar_tensor(2.5, at::kDouble));
  ckpt.insert("empty", at::zeros({0, 3}));
  ckpt.insert("expanded", at::arange(2, at::kFloat).expand({3, 2}));  // stride 0
  ckpt.insert("requires_grad", at::ones({2}).requires_grad_(true));
  ckpt.insert("undefined", at::Tensor());  // written as None
  return ckpt;
}

// Scalars and containers without tensors.
L::StateDict scalars() {
  L::StateDict ckpt = L::make_state_dict();
  std::vector<c10::IValue> ints;
  for (int64_t v :
       {int64_t{0}, int64_t{255}, int64_t{256}, int64_t{65536}, int64_t{-1}, int64_t{INT32_MIN} - 1,
        std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    ints.emplace_back(v);
  }
  ckpt.insert("ints", list_of(ints));
  ckpt.insert("floats", list_of({-0.0, 0.1, 5e-324, std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::quiet_NaN()}));
  ckpt.insert("strings",
              list_of({std::string(""), std::string("ünï ✓ 🚀"), std::string("a\nb\"c\\")}));
  ckpt.insert("tuples", list_of({tuple_of({}), tuple_of({int64_t{1}}),
                                 tuple_of({int64_t{1}, std::string("x")}),
                                 tuple_of({true, false, c10::IValue()}),
                                 tuple_of({int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}})}));
  c10::impl::GenericDict by_int(c10::IntType::get(), c10::AnyType::get());
  by_int.insert(int64_t{-5}, std::string("minus five"));
  by_int.insert(int64_t{1} << 40, list_of({}));
  ckpt.insert("int_keys", by_int);
  ckpt.insert("empty_dict", L::make_state_dict());
  std::vector<c10::IValue> many;
  for (int64_t i = 0; i < 40; ++i) many.emplace_back(i * 37);
  ckpt.insert("many", list_of(many));
  return ckpt;
}

// Containers nested 40 deep.
L::StateDict deep() {
  c10::IValue v(int64_t{1});
  for (int i = 0; i < 40; ++i) {
    v = i % 3 == 0 ? c10::IValue(nested("d", v)) : i % 3 == 1 ? list_of({v}) : tuple_of({v});
  }
  return nested("deep", v);
}

}  // namespace

namespace lightning_fuzz {

/// Writes the seeds into `dir` (which exists); 0 on success.
int write_seeds(const std::string& dir) {
  try {
    L::save_checkpoint_file(lightning_like(), dir + "/cpp_lightning.ckpt");
    L::save_checkpoint_file(dtypes(), dir + "/cpp_dtypes.ckpt");
    L::save_checkpoint_file(scalars(), dir + "/cpp_scalars.ckpt");
    L::save_checkpoint_file(deep(), dir + "/cpp_deep.ckpt");
    L::save_checkpoint_file(L::make_state_dict(), dir + "/cpp_empty.ckpt");
  } catch (const std::exception& e) {
    std::cerr << "checkpoint_reader_fuzz --write-seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace lightning_fuzz
