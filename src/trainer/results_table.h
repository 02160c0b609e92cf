// Internal: the table validate() and test() print at their end (Lightning's
// _EvaluationLoop._print_results, the plain-text form).
#pragma once

#include <string>
#include <vector>

#include "lightning/export.h"
#include "lightning/logging.h"

namespace lightning::detail {

/// One column per dataloader, one row per metric (sorted by name, the
/// "/dataloader_idx_N" suffix removed), values as Python prints floats;
/// `stage` is "validate" or "test"; `columns` the terminal width. Empty when
/// nothing was logged.
LIGHTNING_INTERNAL_API std::string results_table(const std::vector<Metrics>& results,
                                                 const std::string& stage, int columns);

/// The terminal width as Python's shutil.get_terminal_size(fallback=(120, 30))
/// finds it: $COLUMNS, then standard output's terminal, then 120.
int terminal_columns();

}  // namespace lightning::detail
