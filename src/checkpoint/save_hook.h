// Internal: a point inside save_checkpoint_file where tests make the file
// system misbehave (the folder vanishing while a save is under way).
#pragma once

#include <functional>
#include <string>

#include "lightning/export.h"

namespace lightning::detail {

/// Called with the target path after the temporary file of a save is
/// complete and synced, just before it is renamed over the target. An empty
/// function (the default) removes the hook. Not thread-safe: set it while no
/// save runs.
LIGHTNING_INTERNAL_API void set_checkpoint_before_rename_hook(
    std::function<void(const std::string&)> hook);

}  // namespace lightning::detail
