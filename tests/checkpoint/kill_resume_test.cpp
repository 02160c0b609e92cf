// Crashes for real: resume_worker processes are SIGKILLed (no unwinding, no
// destructors, no flush), then a fresh process resumes.
//
// - Kill and resume: a fit checkpointing every optimizer step (shuffled loader
//   with 2 workers, dropout, momentum, schedulers, accumulation over 2
//   batches) is killed before a chosen batch; a new process with another seed
//   resumes with ckpt_path="last" and must end with weights bit-identical to
//   an uninterrupted process's, having trained the same batches with the same
//   losses and learning rates, and having logged the same metrics.csv rows
//   after the checkpoint (step and epoch values, training and validation).
// - Crash during save: a process saving a 4 MiB checkpoint to one path in a
//   loop is killed at random moments; the file must always load, whole.
//
// Every child runs under a watchdog: one that hangs is killed and the test FAILs.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/lightning.h"
#include "support/temp_dir.h"

extern char** environ;

namespace L = lightning;
namespace fs = std::filesystem;
using L::testing::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kWatchdog = std::chrono::seconds(60);

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// A resume_worker process, stdout and stderr into `log`. The destructor
/// kills and reaps it if it is still running: no process outlives a test.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    std::vector<std::string> strings = {LIGHTNING_RESUME_WORKER};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int err = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) {
      pid_ = -1;
      ADD_FAILURE() << "posix_spawn(" << argv[0] << "): " << std::strerror(err);
    }
  }
  ~Child() {
    if (running()) kill();
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool running() const { return pid_ > 0 && !reaped_; }
  /// True when it exited (status in `status()`); false when it ran past the
  /// watchdog, after which it is killed.
  bool wait(std::chrono::steady_clock::duration timeout = kWatchdog) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
      if (poll()) return true;
      if (Clock::now() > deadline) {
        kill();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return reaped_;
  }
  /// Reaps it if it exited; true then.
  bool poll() {
    if (!running()) return reaped_;
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) reaped_ = true;
    return reaped_;
  }
  void kill() {
    if (!running()) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  int status() const { return status_; }
  bool exited_with(int code) const {
    return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == code;
  }
  bool killed_by(int sig) const {
    return reaped_ && WIFSIGNALED(status_) && WTERMSIG(status_) == sig;
  }
  std::string describe() const {
    std::string how = !reaped_               ? "still running"
                      : WIFEXITED(status_)   ? "exit " + std::to_string(WEXITSTATUS(status_))
                      : WIFSIGNALED(status_) ? "signal " + std::to_string(WTERMSIG(status_))
                                             : "status " + std::to_string(status_);
    return how + ", output:\n" + read_file(log_);
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

/// Runs a worker to the end; FAILs (returns false) on a timeout or an exit
/// other than 0.
::testing::AssertionResult run_to_end(const std::vector<std::string>& args,
                                      const std::string& log) {
  Child child(args, log);
  if (!child.wait()) {
    return ::testing::AssertionFailure()
           << "resume_worker " << args[0] << " ran past " << kWatchdog.count()
           << " s and was killed; " << child.describe();
  }
  if (!child.exited_with(0)) {
    return ::testing::AssertionFailure()
           << "resume_worker " << args[0] << " failed: " << child.describe();
  }
  return ::testing::AssertionSuccess();
}

/// metrics.csv as rows of column name -> cell (empty cells left out).
using CsvRow = std::map<std::string, std::string>;
std::vector<CsvRow> csv_rows(const std::string& path) {
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream in(line);
    while (std::getline(in, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    return cells;
  };
  const auto lines = lines_of(path);
  std::vector<CsvRow> rows;
  if (lines.empty()) return rows;
  const auto header = split(lines[0]);
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto cells = split(lines[i]);
    CsvRow row;
    for (size_t c = 0; c < cells.size() && c < header.size(); ++c) {
      if (!cells[c].empty()) row[header[c]] = cells[c];
    }
    rows.push_back(row);
  }
  return rows;
}

std::string describe(const CsvRow& row) {
  std::string out;
  for (const auto& [k, v] : row) out += (out.empty() ? "" : ", ") + k + "=" + v;
  return "{" + out + "}";
}

/// The uninterrupted run, once per test process.
struct Reference {
  std::string weights;
  std::vector<std::string> losses;
  std::vector<CsvRow> metrics;  // its metrics.csv
};
const Reference& reference() {
  static const Reference ref = [] {
    TempDir dir("kill_resume_ref");
    Reference r;
    EXPECT_TRUE(run_to_end({"train", dir.str()}, dir.file("log.txt")));
    r.weights = read_file(dir.file("weights.txt"));
    r.losses = lines_of(dir.file("losses.txt"));
    r.metrics = csv_rows(dir.file("csv/train/metrics.csv"));
    // Bit-equal NaNs would prove nothing: the run must stay finite.
    for (const char* bad : {"nan", "inf"}) {
      EXPECT_EQ(r.weights.find(bad), std::string::npos) << "the reference run diverged";
      EXPECT_EQ(read_file(dir.file("losses.txt")).find(bad), std::string::npos);
    }
    return r;
  }();
  return ref;
}

/// "epoch batch_idx" of a losses.txt line (its key).
std::string batch_of(const std::string& line) {
  std::istringstream in(line);
  std::string epoch, batch;
  in >> epoch >> batch;
  return epoch + " " + batch;
}

/// Kills a run before its `kill_at`-th batch, resumes it in a new process and
/// compares with the uninterrupted run.
void kill_and_resume(int64_t kill_at) {
  const Reference& ref = reference();
  ASSERT_FALSE(ref.weights.empty());
  ASSERT_EQ(ref.losses.size(), 30u);  // 3 epochs of 10 batches
  TempDir dir("kill_resume");
  {
    Child child({"kill", dir.str(), std::to_string(kill_at)}, dir.file("log.txt"));
    ASSERT_TRUE(child.wait()) << "the run to kill ran past the watchdog; " << child.describe();
    ASSERT_TRUE(child.killed_by(SIGKILL)) << child.describe();
  }
  // It trained exactly the batches before `kill_at`, as the reference did.
  const auto killed = lines_of(dir.file("losses.txt"));
  ASSERT_EQ(killed.size(), static_cast<size_t>(kill_at));
  for (size_t i = 0; i < killed.size(); ++i) {
    ASSERT_EQ(killed[i], ref.losses[i]) << "killed run, batch " << i << " (epoch, batch_idx, "
                                        << "global_step, lr, loss)";
  }
  // The last checkpoint is the step before the kill (accumulation over 2
  // batches of 10 per epoch: a step after every odd batch_idx).
  const std::string last = dir.file("ckpts/last.ckpt");
  ASSERT_TRUE(fs::exists(last));
  const int64_t saved_step = L::load_checkpoint_file(last).at("global_step").toInt();
  EXPECT_EQ(saved_step, kill_at / 2);

  ASSERT_TRUE(run_to_end({"resume", dir.str()}, dir.file("log.txt")));
  // The resumed process re-trains from the first batch after the checkpoint.
  const auto all = lines_of(dir.file("losses.txt"));
  ASSERT_GT(all.size(), killed.size());
  const std::vector<std::string> resumed(all.begin() + static_cast<long>(killed.size()), all.end());
  const size_t first = static_cast<size_t>(saved_step * 2);  // first batch not in the checkpoint
  ASSERT_EQ(first + resumed.size(), ref.losses.size())
      << "the resumed run started at batch " << batch_of(resumed.front()) << ", expected batch "
      << batch_of(ref.losses[first]);
  for (size_t i = 0; i < resumed.size(); ++i) {
    ASSERT_EQ(resumed[i], ref.losses[first + i])
        << "resumed run, first difference at batch " << first + i
        << " of the uninterrupted run (epoch, batch_idx, global_step, lr, loss)";
  }
  const std::string weights = read_file(dir.file("weights.txt"));
  EXPECT_EQ(weights, ref.weights) << "final weights differ (hex floats, one line per tensor)";

  // The logged numbers: every row the uninterrupted run logged after the
  // checkpoint (from the step row of the checkpoint's own step, which is
  // logged after on_train_batch_end saved), every column, in the resumed
  // process's metrics.csv. The epoch values of the resumed epoch cover the
  // batches before the kill too.
  std::vector<CsvRow> expected;
  for (const auto& row : ref.metrics) {
    if (std::stoll(row.at("step")) >= saved_step - 1) expected.push_back(row);
  }
  ASSERT_FALSE(expected.empty());
  const auto got = csv_rows(dir.file("csv/resume/metrics.csv"));
  ASSERT_EQ(got.size(), expected.size())
      << "rows logged after the resume; the first one expected: " << describe(expected.front())
      << ", got: " << (got.empty() ? "none" : describe(got.front()));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], expected[i])
        << "metrics.csv row " << i << " after the resume:\n  resumed:       " << describe(got[i])
        << "\n  uninterrupted: " << describe(expected[i]);
  }
}

}  // namespace

// Batches per epoch: 10; an optimizer step after batch_idx 1, 3, 5, 7, 9;
// validation after batch_idx 4 and 9.
TEST(KillAndResume, MidFirstEpochInsideAnAccumulationWindow) {
  kill_and_resume(7);  // epoch 0, batch_idx 7: batch 6 trained, its gradient lost
}

TEST(KillAndResume, AtAnAccumulationWindowBoundaryInTheSecondEpoch) {
  kill_and_resume(14);  // epoch 1, batch_idx 4: the step after batch 3 was the last
}

TEST(KillAndResume, MidLaterEpochAfterMidEpochValidation) {
  kill_and_resume(25);  // epoch 2, batch_idx 5: batch 4 and the validation after it ran
}

TEST(KillAndResume, AtAnEpochBoundary) {
  kill_and_resume(10);  // epoch 1, batch_idx 0: epoch 0 finished
}

// ---- Crash during save ----------------------------------------------------------

TEST(CrashDuringSave, AKilledSaveLeavesTheLastCompleteCheckpoint) {
  TempDir dir("crash_save");
  const std::string path = dir.file("state.ckpt");
  const std::string temp_prefix = ".state.ckpt.tmp-";
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> delay_ms(1, 50);
  int64_t previous = 0;
  int kills = 0, leftovers = 0;
  for (int round = 0; round < 20; ++round) {
    // The file there now: another inode or mtime means a save of this process
    // completed (each save renames a new file over it).
    struct stat before {};
    const bool existed = ::stat(path.c_str(), &before) == 0;
    Child child({"save-loop", path}, dir.file("log.txt"));
    const auto deadline = Clock::now() + kWatchdog;
    while (true) {
      struct stat now {};
      if (::stat(path.c_str(), &now) == 0 &&
          (!existed || now.st_ino != before.st_ino || now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
           now.st_mtim.tv_nsec != before.st_mtim.tv_nsec)) {
        break;
      }
      ASSERT_FALSE(child.poll()) << "the save loop stopped: " << child.describe();
      ASSERT_LT(Clock::now(), deadline) << "no save within the watchdog; " << child.describe();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ASSERT_FALSE(child.poll()) << "the save loop stopped: " << child.describe();
    child.kill();
    ASSERT_TRUE(child.killed_by(SIGKILL)) << child.describe();
    ++kills;

    // The file loads, and holds one whole save.
    L::StateDict ckpt = L::make_state_dict();
    try {
      ckpt = L::load_checkpoint_file(path);
    } catch (const std::exception& e) {
      FAIL() << "round " << round << ": " << e.what();
    }
    const int64_t iteration = ckpt.at("iteration").toInt();
    EXPECT_GT(iteration, previous) << "round " << round << ": no newer save, or an older one";
    const at::Tensor data = ckpt.at("data").toTensor();
    ASSERT_EQ(data.numel(), int64_t{1} << 20);
    EXPECT_TRUE(data.eq(static_cast<float>(iteration)).all().item<bool>())
        << "round " << round << ": data of another save than iteration " << iteration;
    previous = iteration;

    // Nothing else than the file, and at most the one temporary file a kill
    // between its creation and its rename leaves behind: the next save of the
    // same path removes it, so they never pile up over rounds.
    int temps = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) {
      const std::string name = entry.path().filename().string();
      if (name == "state.ckpt" || name == "log.txt") continue;
      if (name.rfind(temp_prefix, 0) == 0) {
        ++temps;
        continue;
      }
      ADD_FAILURE() << "round " << round << ": unexpected file " << name;
    }
    EXPECT_LE(temps, 1) << "round " << round;
    leftovers += temps;
  }
  std::cout << "[          ] " << kills << " kills, last iteration " << previous << ", "
            << leftovers << " left a temporary file behind\n";
  RecordProperty("kills", kills);
  RecordProperty("leftover_temp_files", leftovers);
}
