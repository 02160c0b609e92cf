// Internal: the registries behind lightning/cli_registry.h.
#pragma once

#include "cli/config_reading.h"
#include "lightning/cli_registry.h"

namespace lightning::detail {

Registry<CallbackFactory>& callback_registry();
Registry<LoggerFactory>& logger_registry();
Registry<OptimizerFactory>& optimizer_registry();
Registry<LRSchedulerFactory>& lr_scheduler_registry();

}  // namespace lightning::detail
