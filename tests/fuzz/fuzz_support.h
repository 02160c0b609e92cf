// What the libFuzzer targets of tests/fuzz/ share: the verdict on one input
// (it loads, or raises a lightning::Error whose message names the input;
// anything else aborts, which libFuzzer reports as a crash), the seed writing
// of `<target> --write-seeds DIR`, and the temporary folder inputs are written
// to. Header-only: each target is linked from its own objects
// (tests/fuzz/CMakeLists.txt).
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lightning/error.h"

namespace lightning_fuzz {

// The target's name, for messages ("hparams_yaml_fuzz").
extern const char* const kTarget;

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", kTarget, what.c_str());
  std::abort();
}

// LIGHTNING_FUZZ_EXPECT_LOAD=1 (run.sh, over the seeds): every input must load.
inline bool expect_load() {
  const char* expect = std::getenv("LIGHTNING_FUZZ_EXPECT_LOAD");
  return expect != nullptr && std::strcmp(expect, "1") == 0;
}

// Runs `load` on one input of `size` bytes: returns whether it loaded. A
// lightning::Error is the one acceptable failure, and its message must hold
// `origin` (the path or name of what was read); with expect_load() set it is
// a failure too (libFuzzer always runs one empty input first, which may fail).
template <typename Load>
bool loads(size_t size, const std::string& origin, Load&& load) {
  static const bool expected = expect_load();
  try {
    load();
    return true;
  } catch (const lightning::Error& e) {
    if (std::strstr(e.what(), origin.c_str()) == nullptr) {
      die("lightning::Error without '" + origin + "': " + e.what());
    }
    if (expected && size > 0) die(std::string("a seed does not load: ") + e.what());
  } catch (const std::exception& e) {
    die(std::string("an exception other than lightning::Error escaped: ") + e.what());
  } catch (...) {
    die("a non-std exception escaped");
  }
  return false;
}

// Writes texts[i] to DIR/seed_<i><suffix>; the exit status of --write-seeds.
inline int write_seeds(const std::string& dir, const std::vector<std::string>& texts,
                       const std::string& suffix) {
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string path = dir + "/seed_" + std::to_string(i) + suffix;
    std::ofstream out(path, std::ios::binary);
    out << texts[i];
    if (!out.good()) {
      std::fprintf(stderr, "%s: cannot write %s\n", kTarget, path.c_str());
      return 1;
    }
  }
  return 0;
}

// `<target> --write-seeds DIR` (run.sh; libFuzzer has not looked at the
// arguments yet, in LLVMFuzzerInitialize): writes texts() and exits.
template <typename Texts>
void write_seeds_if_asked(int argc, char** argv, Texts&& texts, const std::string& suffix) {
  if (argc == 3 && std::strcmp(argv[1], "--write-seeds") == 0) {
    std::exit(write_seeds(argv[2], texts(), suffix));
  }
}

// A new folder under $LIGHTNING_FUZZ_TMPDIR (run.sh), else $TMPDIR or /tmp,
// removed at exit.
inline std::string make_temp_dir() {
  static std::string made;
  const char* base = std::getenv("LIGHTNING_FUZZ_TMPDIR");
  if (base == nullptr || *base == '\0') base = std::getenv("TMPDIR");
  if (base == nullptr || *base == '\0') base = "/tmp";
  std::string dir = std::string(base) + "/" + kTarget + ".XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) die("mkdtemp(" + dir + ") failed: " + std::strerror(errno));
  made = dir;
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(made, ignored);
  });
  return dir;
}

// Writes one input to `path`.
inline void write_file(const std::string& path, const void* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) die("cannot open " + path + ": " + std::strerror(errno));
  if (size > 0 && std::fwrite(data, 1, size, f) != size) die("cannot write " + path);
  if (std::fclose(f) != 0) die("cannot close " + path);
}

}  // namespace lightning_fuzz
