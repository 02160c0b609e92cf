// lightning/stage.h — which entry point of the Trainer is running.
//
//   void setup(L::Stage stage) override {
//     if (stage == L::Stage::Fit) { ... }
//   }
//   std::cout << stage;  // prints "fit", as Lightning's TrainerFn does
#pragma once

#include <ostream>
#include <string>

namespace lightning {

/// The Trainer entry point: `fit`, `validate`, `test` or `predict`.
enum class Stage { Fit, Validate, Test, Predict };

/// Lightning's spelling: "fit", "validate", "test", "predict".
std::string to_string(Stage stage);
std::ostream& operator<<(std::ostream& os, Stage stage);

}  // namespace lightning
