// checkpoint_crc — what verifying the CRC-32 of every record costs when
// L::load_checkpoint_file reads a checkpoint.
//
//   ./checkpoint_crc [--mb N] [--tensors N] [--rounds N] [--path FILE]
//
// Writes a checkpoint of about N MB (default 100) in `--tensors` float
// tensors (default 40) with L::save_checkpoint_file, reads it once to have
// it in the page cache, then loads it with the check on and off (the
// internal switch detail::set_verify_record_crc, which only this program
// turns off). Timings drift on shared machines, so each round is a
// palindrome (on off off on) and the figure of merit is the median over
// rounds of the round's on/off ratio. Also printed: the CRC-32 throughput of
// the code in use and of the portable table-driven code alone, and the CPU
// time of the loads: the CRC of tensor storages runs on a helper thread while
// later records are read, so on a machine with a free core the wall-clock
// cost is smaller than the CPU-time cost.
#include <ATen/ATen.h>
#include <lightning/checkpoint/checkpoint_io.h>
#include <lightning/state_dict.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "checkpoint/zip_reader.h"

namespace L = lightning;

namespace {

struct Settings {
  int64_t mb = 100;
  int64_t tensors = 40;
  int rounds = 15;
  std::string path;
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--mb") {
      s.mb = std::atoll(value().c_str());
    } else if (a == "--tensors") {
      s.tensors = std::atoll(value().c_str());
    } else if (a == "--rounds") {
      s.rounds = std::atoi(value().c_str());
    } else if (a == "--path") {
      s.path = value();
    } else {
      std::fprintf(stderr, "usage: %s [--mb N] [--tensors N] [--rounds N] [--path FILE]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  if (s.mb < 1 || s.tensors < 1 || s.rounds < 1) {
    std::fprintf(stderr, "--mb, --tensors and --rounds must be >= 1\n");
    std::exit(2);
  }
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Seconds for one load (wall clock; `cpu` gets the CPU time of all threads);
// checks a value so that nothing is optimized away.
double timed_load(const std::string& path, bool verify, float expected, double* cpu = nullptr) {
  L::detail::set_verify_record_crc(verify);
  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  const L::StateDict ckpt = L::load_checkpoint_file(path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (cpu != nullptr) *cpu = cpu_seconds() - cpu_start;
  const float got = ckpt.at("state_dict").toGenericDict().at("t0").toTensor()[1].item<float>();
  if (got != expected) {
    std::fprintf(stderr, "wrong value loaded: %g, expected %g\n", got, expected);
    std::exit(1);
  }
  return seconds;
}

double crc_gbps(uint32_t (*crc)(uint32_t, const void*, size_t), const std::vector<char>& buffer) {
  std::vector<double> times;
  uint32_t sink = 0;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    sink ^= crc(0, buffer.data(), buffer.size());
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  if (sink == 0x12345678) std::printf(" ");
  return static_cast<double>(buffer.size()) / median(times) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s = parse(argc, argv);
  if (s.path.empty()) s.path = "/tmp/checkpoint_crc_" + std::to_string(::getpid()) + ".ckpt";

  const int64_t per_tensor = s.mb * 1000 * 1000 / 4 / s.tensors;
  L::StateDict sd = L::make_state_dict();
  for (int64_t i = 0; i < s.tensors; ++i) {
    sd.insert("t" + std::to_string(i), at::rand({per_tensor}) + static_cast<double>(i));
  }
  const float expected = sd.at("t0").toTensor()[1].item<float>();
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{1});
  ckpt.insert("state_dict", sd);
  L::save_checkpoint_file(ckpt, s.path);
  sd = L::make_state_dict();
  ckpt = L::make_state_dict();

  std::printf("checkpoint_crc: load_checkpoint_file of %lld float tensors, %.1f MB in all (%s)\n",
              static_cast<long long>(s.tensors),
              static_cast<double>(per_tensor * 4 * s.tensors) / 1e6, s.path.c_str());
  std::printf("%d rounds of on,off,off,on after one warm-up each (file in the page cache)\n",
              s.rounds);
  std::fflush(stdout);

  timed_load(s.path, true, expected);
  timed_load(s.path, false, expected);
  std::vector<double> on, off, ratio, cpu_on, cpu_off, cpu_ratio;
  for (int r = 0; r < s.rounds; ++r) {
    double ca, cb, cc, cd;
    const double a = timed_load(s.path, true, expected, &ca);
    const double b = timed_load(s.path, false, expected, &cb);
    const double c = timed_load(s.path, false, expected, &cc);
    const double d = timed_load(s.path, true, expected, &cd);
    on.insert(on.end(), {a, d});
    off.insert(off.end(), {b, c});
    ratio.push_back((a + d) / (b + c));
    cpu_on.insert(cpu_on.end(), {ca, cd});
    cpu_off.insert(cpu_off.end(), {cb, cc});
    cpu_ratio.push_back((ca + cd) / (cb + cc));
  }
  L::detail::set_verify_record_crc(true);
  ::unlink(s.path.c_str());

  std::printf("load, CRC check on : median %.1f ms (min %.1f)\n", 1e3 * median(on),
              1e3 * *std::min_element(on.begin(), on.end()));
  std::printf("load, CRC check off: median %.1f ms (min %.1f)\n", 1e3 * median(off),
              1e3 * *std::min_element(off.begin(), off.end()));
  std::printf("on/off: median of per-round ratios %.3f (min %.3f, max %.3f); target <= 1.10\n",
              median(ratio), *std::min_element(ratio.begin(), ratio.end()),
              *std::max_element(ratio.begin(), ratio.end()));

  std::printf(
      "CPU time (all threads), on: median %.1f ms; off: median %.1f ms; on/off median %.3f\n",
      1e3 * median(cpu_on), 1e3 * median(cpu_off), median(cpu_ratio));

  std::vector<char> buffer(static_cast<size_t>(64) << 20);
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<char>(i * 2654435761u >> 13);
  std::printf("CRC-32 throughput: %.2f GB/s in use, %.2f GB/s portable (table-driven)\n",
              crc_gbps(&L::detail::crc32, buffer), crc_gbps(&L::detail::crc32_portable, buffer));
  return 0;
}
