#include "lightning/datamodule.h"

#include <typeinfo>

#include "util/type_name.h"

namespace lightning {

DataLoaders LightningDataModule::train_dataloader() { return {}; }
DataLoaders LightningDataModule::val_dataloader() { return {}; }
DataLoaders LightningDataModule::test_dataloader() { return {}; }
DataLoaders LightningDataModule::predict_dataloader() { return {}; }

std::string LightningDataModule::state_key() const {
  return detail::unqualified_type_name(typeid(*this));
}

}  // namespace lightning
