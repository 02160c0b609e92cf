#include "lightning/strategies/strategy.h"

#include <algorithm>
#include <cstring>

namespace lightning {

Strategy::~Strategy() = default;

at::Device Strategy::root_device(const std::string& accelerator) const {
  if (accelerator == "cuda" || accelerator == "gpu") return at::Device(at::kCUDA, local_rank());
  return at::Device(at::kCPU);
}

std::vector<std::string> Strategy::all_gather_string(const std::string& value) {
  if (world_size() <= 1) return {value};
  // Lengths first, then every string padded to the longest.
  const auto lengths = all_gather(at::full({1}, static_cast<int64_t>(value.size()), at::kLong));
  int64_t longest = 1;
  for (const auto& l : lengths) longest = std::max(longest, l.item<int64_t>());
  at::Tensor bytes = at::zeros({longest}, at::kByte);
  std::memcpy(bytes.data_ptr<uint8_t>(), value.data(), value.size());
  const auto gathered = all_gather(bytes);
  std::vector<std::string> out;
  for (size_t r = 0; r < gathered.size(); ++r) {
    const at::Tensor t = gathered[r].contiguous();
    out.emplace_back(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()),
                     static_cast<size_t>(lengths[r].item<int64_t>()));
  }
  return out;
}

}  // namespace lightning
