// lightning/stage.h — which entry point of the Trainer is running.
//
//   void setup(L::Stage stage) override {
//     if (stage == L::Stage::Fit) { ... }
//   }
//   std::cout << stage;  // prints "fit", as Lightning's TrainerFn does
#pragma once

#include <ostream>
#include <string>

#include "lightning/export.h"

namespace lightning {

/// The Trainer entry point: `fit`, `validate`, `test` or `predict`.
enum class Stage { Fit, Validate, Test, Predict };

/// Lightning's spelling: "fit", "validate", "test", "predict".
LIGHTNING_API std::string to_string(Stage stage);
LIGHTNING_API std::ostream& operator<<(std::ostream& os, Stage stage);

}  // namespace lightning
