// Internal: "did you mean" for unknown keys and names.
#pragma once

#include <string>
#include <vector>

namespace lightning::detail {

/// Up to `most` of `candidates` closest to `name` (edit distance, ties in
/// the candidates' order), only those within about a third of its length;
/// empty when none is close.
std::vector<std::string> closest_names(const std::string& name,
                                       const std::vector<std::string>& candidates, size_t most = 3);

/// ", did you mean 'a' or 'b'?" — or "" when there is nothing close.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace lightning::detail
