// The Python interpreter the tests cross-check against, chosen by the build:
// Debian's /usr/bin/python3 (torch 1.13, PyYAML, protobuf) on the default leg,
// the pinned virtual environment's (torch 2.x, PyTorch Lightning, TensorBoard)
// on the PyPI-wheel leg (scripts/build.sh --torch=pip). tests/CMakeLists.txt
// defines both macros from the LIGHTNING_TEST_PYTHON cache variable.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef LIGHTNING_TEST_PYTHON
#error "LIGHTNING_TEST_PYTHON is defined by tests/CMakeLists.txt"
#endif

namespace lightning::testing {

/// Absolute path of the interpreter.
constexpr const char* kPython = LIGHTNING_TEST_PYTHON;

/// What to run when that interpreter lacks a module, e.g. "run scripts/setup.sh".
constexpr const char* kPythonSetup = LIGHTNING_TEST_PYTHON_SETUP;

/// `s` as one single-quoted shell word.
inline std::string shell_word(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct PythonResult {
  int status = -1;  // exit status; -1 when it did not exit normally
  std::string out;  // stdout
  std::string err;  // stderr
  /// For failure messages: the command, its status and both streams.
  std::string describe() const {
    return "exit status " + std::to_string(status) + "\n--- stdout\n" + out + "--- stderr\n" + err;
  }
};

/// Runs `kPython script args...` and collects its output (stdin closed).
inline PythonResult run_python(const std::string& script, const std::vector<std::string>& args) {
  std::string command = shell_word(kPython) + " " + shell_word(script);
  for (const auto& a : args) command.append(" ").append(shell_word(a));
  char err_path[] = "/tmp/lightning_python_stderr_XXXXXX";
  const int fd = ::mkstemp(err_path);
  if (fd >= 0) ::close(fd);
  PythonResult result;
  FILE* pipe = ::popen((command + " </dev/null 2>" + err_path).c_str(), "r");
  if (pipe == nullptr) {
    result.err = std::string("popen failed: ") + std::strerror(errno);
    ::unlink(err_path);
    return result;
  }
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) result.out.append(buf, n);
  const int rc = ::pclose(pipe);
  result.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  std::ifstream err(err_path);
  std::ostringstream text;
  text << err.rdbuf();
  result.err = text.str();
  ::unlink(err_path);
  return result;
}

}  // namespace lightning::testing
