// LightningDataModule is header-only; this file keeps the header compiling on its own.
#include "lightning/datamodule.h"
