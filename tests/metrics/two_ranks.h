// Test support: two ranks of a distributed run in one process, to check how a
// metric's states merge in compute(). Rank 1 syncs first against a
// RecordingRank, which keeps every tensor it was given; rank 0 then syncs
// against a ReplayingRank that answers each collective with rank 1's tensor
// (both ranks make the same calls in the same order).
//
//   RecordingRank rank1_strategy;  rank1.set_strategy(&rank1_strategy);  rank1.compute();
//   ReplayingRank rank0_strategy(rank1_strategy.sent);  rank0.set_strategy(&rank0_strategy);
//   rank0.compute();   // the value over both ranks' updates
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "lightning/strategies/strategy.h"

namespace lightning::metrics::testing {

class RecordingRank : public Strategy {
 public:
  std::string name() const override { return "recording"; }
  ProcessInfo process() const override { return {2, 1, 1, 0}; }
  at::Tensor all_reduce(const at::Tensor& tensor, const std::string& /*op*/) override {
    sent.push_back(tensor.clone());
    return tensor;
  }
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) override {
    sent.push_back(tensor.clone());
    return {tensor, tensor};
  }
  std::vector<at::Tensor> sent;
};

class ReplayingRank : public Strategy {
 public:
  explicit ReplayingRank(std::vector<at::Tensor> peer) : peer_(std::move(peer)) {}
  std::string name() const override { return "replaying"; }
  ProcessInfo process() const override { return {2, 0, 0, 0}; }
  at::Tensor all_reduce(const at::Tensor& tensor, const std::string& op) override {
    const at::Tensor other = next();
    if (op == "max") return at::maximum(tensor, other);
    if (op == "min") return at::minimum(tensor, other);
    if (op == "mean") return (tensor + other) / 2;
    return tensor + other;
  }
  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) override { return {tensor, next()}; }

 private:
  at::Tensor next() {
    if (used_ >= peer_.size()) throw std::runtime_error("ReplayingRank: rank 1 made fewer calls");
    return peer_[used_++];
  }
  std::vector<at::Tensor> peer_;
  size_t used_ = 0;
};

}  // namespace lightning::metrics::testing
