#include "lightning/stage.h"

namespace lightning {

std::string to_string(Stage stage) {
  switch (stage) {
    case Stage::Fit:
      return "fit";
    case Stage::Validate:
      return "validate";
    case Stage::Test:
      return "test";
    case Stage::Predict:
      return "predict";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, Stage stage) { return os << to_string(stage); }

}  // namespace lightning
