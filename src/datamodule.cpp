#include "lightning/datamodule.h"

#include <c10/util/Type.h>

#include <typeinfo>

namespace lightning {

DataLoaders LightningDataModule::train_dataloader() { return {}; }
DataLoaders LightningDataModule::val_dataloader() { return {}; }
DataLoaders LightningDataModule::test_dataloader() { return {}; }
DataLoaders LightningDataModule::predict_dataloader() { return {}; }

std::string LightningDataModule::state_key() const {
  std::string name = c10::demangle(typeid(*this).name());
  auto pos = name.rfind("::");
  return pos == std::string::npos ? name : name.substr(pos + 2);
}

}  // namespace lightning
