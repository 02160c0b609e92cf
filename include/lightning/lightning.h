// lightning/lightning.h — the whole public API of lightning.cpp.
//
//   #include <lightning/lightning.h>
//   namespace L = lightning;
//
// Include the narrower headers (lightning/trainer.h, lightning/module.h, ...)
// where compile time matters.
#pragma once

#include "lightning/callbacks/callback.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/learning_rate_monitor.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/checkpoint/checkpoint.h"
#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/checkpoint/optimizer_state.h"
#include "lightning/data/batch.h"
#include "lightning/data/dataloader.h"
#include "lightning/data/dataset.h"
#include "lightning/data/datasets/fashion_mnist.h"
#include "lightning/data/step_output.h"
#include "lightning/datamodule.h"
#include "lightning/error.h"
#include "lightning/hparams.h"
#include "lightning/loggers/csv_logger.h"
#include "lightning/loggers/logger.h"
#include "lightning/loggers/report.h"
#include "lightning/loggers/tensorboard_logger.h"
#include "lightning/logging.h"
#include "lightning/loop_state.h"
#include "lightning/metrics/metric.h"
#include "lightning/metrics/metric_collection.h"
#include "lightning/metrics/stat_scores.h"
#include "lightning/module.h"
#include "lightning/optim/lightning_optimizer.h"
#include "lightning/optim/lr_schedulers.h"
#include "lightning/optim/optimizer_config.h"
#include "lightning/optim/param_groups.h"
#include "lightning/precision.h"
#include "lightning/seed.h"
#include "lightning/stage.h"
#include "lightning/state_dict.h"
#include "lightning/strategies/ddp.h"
#include "lightning/strategies/strategy.h"
#include "lightning/trainer.h"
