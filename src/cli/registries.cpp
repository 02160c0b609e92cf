// The registries of user classes for LightningCLI configs (lightning/cli_registry.h).
#include "cli/registries.h"

namespace lightning {

namespace detail {

Registry<CallbackFactory>& callback_registry() {
  static Registry<CallbackFactory> registry;
  return registry;
}
Registry<LoggerFactory>& logger_registry() {
  static Registry<LoggerFactory> registry;
  return registry;
}
Registry<OptimizerFactory>& optimizer_registry() {
  static Registry<OptimizerFactory> registry;
  return registry;
}
Registry<LRSchedulerFactory>& lr_scheduler_registry() {
  static Registry<LRSchedulerFactory> registry;
  return registry;
}

}  // namespace detail

void register_callback(const std::string& name, CallbackFactory factory) {
  detail::callback_registry().add("callback", name, std::move(factory));
}
void register_logger(const std::string& name, LoggerFactory factory) {
  detail::logger_registry().add("logger", name, std::move(factory));
}
void register_optimizer(const std::string& name, OptimizerFactory factory) {
  detail::optimizer_registry().add("optimizer", name, std::move(factory));
}
void register_lr_scheduler(const std::string& name, LRSchedulerFactory factory) {
  detail::lr_scheduler_registry().add("lr_scheduler", name, std::move(factory));
}
std::vector<std::string> registered_callbacks() { return detail::callback_registry().names(); }
std::vector<std::string> registered_loggers() { return detail::logger_registry().names(); }
std::vector<std::string> registered_optimizers() { return detail::optimizer_registry().names(); }
std::vector<std::string> registered_lr_schedulers() {
  return detail::lr_scheduler_registry().names();
}

}  // namespace lightning
