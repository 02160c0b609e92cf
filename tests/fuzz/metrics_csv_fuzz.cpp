// libFuzzer target for what lightning-report does with a metrics.csv: each
// input is written as <run>/metrics.csv and write_run_report draws it into
// <run>/report.html (read_metrics_csv, then the charts, axes and tables). It
// must write the page or raise lightning::Error naming the file, never crash,
// never throw anything else, never hang and never trip AddressSanitizer or
// UBSan.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined together with the
// report's own sources (tests/fuzz/CMakeLists.txt). Run by tests/fuzz/run.sh
// (ctest metrics_csv_fuzz) over seeds written by `metrics_csv_fuzz
// --write-seeds DIR`: metrics.csv files as CSVLogger and Lightning write them.
// The run folder lives under $LIGHTNING_FUZZ_TMPDIR, else $TMPDIR or /tmp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "lightning/loggers/report.h"

namespace L = lightning;

const char* const lightning_fuzz::kTarget = "metrics_csv_fuzz";

namespace {

std::string g_dir;  // the run folder
std::string g_csv;  // g_dir/metrics.csv, where each input is written

std::vector<std::string> seed_texts() {
  std::string trainer = "epoch,step,train_loss,train_loss_epoch,val_acc\n";
  for (int step = 0; step < 12; ++step) {
    trainer += std::to_string(step / 4) + "," + std::to_string(step) + "," +
               std::to_string(1.0 / (1 + step)) + ",,\n";
    if (step % 4 == 3)
      trainer += std::to_string(step / 4) + "," + std::to_string(step) + ",,0.5,0.9\n";
  }
  return {
      trainer,
      "step,loss\n0,1.0\n1,nan\n2,inf\n3,-inf\n4,1e308\n5,-1e-308\n6,+2.5\n7, 3 \n",
      "\xEF\xBB\xBF\"epoch\",\"step\",\"a,b\",\"say "
      "\"\"hi\"\"\"\r\n0,0,1,2\r\n0,1,,\r\n\r\n1,2,3,\r\n",
      "fit-epoch,step,x\n0,0,1\n0,1,1\n1,2,1\n",
      "lr-Adam,step\n0.1,0\n0.01,1000000000\n0.001,9007199254740993\n",
      "only_header\n",
      "epoch,val_loss\n0,0.5\n0,0.4\n1,0.3\n",
  };
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  lightning_fuzz::write_seeds_if_asked(*argc, *argv, seed_texts, ".csv");
  g_dir = lightning_fuzz::make_temp_dir();
  g_csv = g_dir + "/metrics.csv";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lightning_fuzz::write_file(g_csv, data, size);
  // The page is written, or a lightning::Error names the file.
  lightning_fuzz::loads(size, g_csv, [] { L::write_run_report({g_dir}, g_dir + "/report.html"); });
  return 0;
}
