#include "lightning/logging.h"

namespace lightning {

Metrics to_numbers(const TensorMetrics& metrics) {
  Metrics out;
  for (const auto& [name, value] : metrics) out[name] = value.item<double>();
  return out;
}

}  // namespace lightning
