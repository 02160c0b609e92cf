// libFuzzer target for the hparams.yaml reader: hparams_from_yaml on
// arbitrary text must return HParams or raise lightning::Error, never crash,
// never throw anything else, never hang and never trip AddressSanitizer or
// UBSan. What it reads must also survive a round trip: to_yaml of the result
// (when it is writable) reads back to the same YAML text.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined together with the
// reader's own sources (tests/fuzz/CMakeLists.txt); yaml-cpp itself is
// Debian's uninstrumented build. Run by tests/fuzz/run.sh (ctest
// hparams_yaml_fuzz) over seeds written by `hparams_yaml_fuzz --write-seeds
// DIR`: to_yaml output and hparams.yaml files as Lightning writes them.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "lightning/error.h"
#include "lightning/hparams.h"

namespace L = lightning;
using lightning_fuzz::die;

const char* const lightning_fuzz::kTarget = "hparams_yaml_fuzz";

namespace {

std::vector<std::string> seed_texts() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  L::HParams nested{{"name", "mlp"}, {"sizes", L::HParamValue::List{64, 32, 16}}};
  L::HParams all{{"learning_rate", 1e-3},
                 {"hidden", 128},
                 {"dropout", 0.25},
                 {"use_bn", true},
                 {"scheduler", nullptr},
                 {"name", "tiny: mlp # yes"},
                 {"on", "on"},
                 {"big", std::numeric_limits<int64_t>::min()},
                 {"not_a_number", nan},
                 {"minus_inf", -inf},
                 {"unicode", "caf\xC3\xA9 \xE2\x80\xA8 \t\n"},
                 {"empty_list", L::HParamValue::List{}},
                 {"empty_map", L::HParams{}},
                 {"model", nested},
                 {"mixed", L::HParamValue::List{1, "two", 3.0, L::HParamValue::List{nullptr}}}};
  return {
      L::to_yaml(all),
      L::to_yaml(nested),
      L::to_yaml(L::HParams{}),
      // As Lightning's save_hparams_to_yaml (PyYAML's yaml.dump) writes them.
      "batch_size: 32\nlr: 0.001\noptimizer: adam\nlayers:\n- 64\n- 32\nmodel:\n  depth: 3\n"
      "  act: relu\n",
      "a: 1_000\nb: 0x1F\nc: 0o17\nd: 017\ne: 0b101\nf: 1:30:00\ng: 1.5e+3\nh: .inf\ni: -.Inf\n"
      "j: .NaN\nk: ~\nl: Yes\nm: off\nn: 2001-12-14\no: '0.5'\np: \"\\x41\\u00e9\\N\\_\"\n",
      "base: &base\n  lr: 0.1\n  momentum: 0.9\nrun:\n  <<: *base\n  lr: 0.01\nlist: [1, 2, {x: "
      "y}]\nflow: {a: [b, c], 'q': \"r\"}\n",
      "? |\n  a long key\n: >\n  folded\n  text\nliteral: |-\n  line 1\n  line 2\nexplicit: !!str "
      "12\nfloat: !!float 3\nint: !!int '7'\nb: !!bool 'true'\nn: !!null ''\n",
      "\xEF\xBB\xBF# comment\n---\nkey: value # trailing\n...\n",
  };
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  lightning_fuzz::write_seeds_if_asked(*argc, *argv, seed_texts, ".yaml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  L::HParams hparams;
  if (!lightning_fuzz::loads(size, "hparams_from_yaml() input",
                             [&] { hparams = L::hparams_from_yaml(text); })) {
    return 0;
  }
  // What was read is printed (the report shows it) and written back.
  try {
    std::ostringstream shown;
    shown << hparams;
    std::string written;
    try {
      written = L::to_yaml(hparams);
    } catch (const L::Error&) {
      return 0;  // e.g. a string that is not UTF-8: refused when writing
    }
    const std::string again = L::to_yaml(L::hparams_from_yaml(written));
    if (again != written)
      die("to_yaml does not read back the same:\n" + written + "\n---\n" + again);
  } catch (const std::exception& e) {
    die(std::string("writing back what was read failed: ") + e.what());
  }
  return 0;
}
