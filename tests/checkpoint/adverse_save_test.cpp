// Saving under adverse conditions: a full disk, a file system made read-only
// and a folder that vanishes in the middle of a save. Each is a
// lightning::Error naming the path and the cause; the checkpoints saved
// before stay loadable, no temporary file is left, and ModelCheckpoint's state
// still describes the files on disk, so that the next save succeeds.
//
// The file systems are real: a small tmpfs mounted in a mount namespace of
// this test process (needs root, or unprivileged user namespaces).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/save_hook.h"
#include "lightning/lightning.h"
#include "support/boring.h"
#include "support/errors.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;
using L::testing::loader;
using L::testing::quiet;
using L::testing::TempDir;
using ::testing::HasSubstr;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

/// Enters a mount namespace of this process, before main starts threads
/// (unshare(CLONE_NEWNS) needs a single-threaded process). Empty when it
/// worked, else why not.
std::string enter_mount_namespace() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWNS) != 0) {
    const std::string as_root = std::strerror(errno);
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return "unshare(CLONE_NEWNS) failed (" + as_root + ") and so did a user namespace (" +
             std::strerror(errno) + "): run as root or allow unprivileged user namespaces";
    }
    write_text("/proc/self/setgroups", "deny");
    write_text("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n");
    write_text("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
  }
  // Mounts made here must not propagate to the rest of the machine.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("making / private in the mount namespace failed: ") + std::strerror(errno);
  }
  return "";
}

const std::string namespace_problem = enter_mount_namespace();

/// A tmpfs of `bytes` at a fresh temporary folder, unmounted at the end.
class SmallDisk {
 public:
  explicit SmallDisk(int64_t bytes) : dir_("lightning_adverse") {
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, options.c_str()) != 0) {
      problem_ = std::string("mount tmpfs: ") + std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (problem_.empty()) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  const std::string& problem() const { return problem_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  /// Writes `name` until the file system is full.
  void fill(const std::string& name) const {
    const int fd = ::open(file(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    std::vector<char> block(1 << 16, 'x');
    int err = 0;
    while (err == 0) {
      if (::write(fd, block.data(), block.size()) < 0) err = errno;
    }
    ::close(fd);
    ASSERT_EQ(err, ENOSPC) << std::strerror(err);
  }
  /// Remounts read-only (true) or read-write (false).
  void set_read_only(bool read_only) const {
    const unsigned long flags = MS_REMOUNT | (read_only ? MS_RDONLY : 0);
    ASSERT_EQ(::mount(nullptr, dir_.path().c_str(), nullptr, flags, nullptr), 0)
        << std::strerror(errno);
  }

 private:
  TempDir dir_;
  std::string problem_;
};

#define REQUIRE_SMALL_DISK(disk)                                                               \
  if (!namespace_problem.empty()) GTEST_SKIP() << "no mount namespace: " << namespace_problem; \
  if (!(disk).problem().empty()) GTEST_SKIP() << (disk).problem()

/// Runs `action` when the second training epoch starts.
class AtSecondEpoch : public L::Callback {
 public:
  explicit AtSecondEpoch(std::function<void()> action) : action_(std::move(action)) {}
  void on_train_epoch_start(L::Trainer& trainer, L::LightningModule&) override {
    if (trainer.current_epoch() == 1) action_();
  }

 private:
  std::function<void()> action_;
};

/// Every file in `dir` (not recursive).
std::set<std::string> files_in(const std::string& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

int64_t epoch_of(const std::string& path) {
  return L::load_checkpoint_file(path).at("epoch").toInt();
}

struct FitRun {
  std::shared_ptr<L::ModelCheckpoint> checkpoint;
  std::unique_ptr<L::Trainer> trainer;
  std::shared_ptr<L::testing::BoringModule> model;
  std::string error;  // of fit
};

/// Two epochs of 4 steps with ModelCheckpoint (every epoch, last.ckpt) in
/// `dirpath`; `trouble` runs when the second epoch starts, so its end-of-epoch
/// save meets it.
FitRun fit_with_trouble(const std::string& dirpath, std::function<void()> trouble) {
  FitRun run;
  run.checkpoint = std::make_shared<L::ModelCheckpoint>(
      L::ModelCheckpointOptions().dirpath(dirpath).save_last(true));
  run.trainer = std::make_unique<L::Trainer>(
      quiet().max_epochs(2).callbacks({run.checkpoint, std::make_shared<AtSecondEpoch>(trouble)}));
  run.model = std::make_shared<L::testing::BoringModule>();
  run.error = L::testing::error_of([&] { run.trainer->fit(run.model, loader(8, 2)); });
  return run;
}

/// What every failed ModelCheckpoint save must leave: epoch 0's checkpoint
/// and last.ckpt loadable, no temporary file, the callback's state as before.
void expect_epoch_zero_intact(const FitRun& run, const std::string& dirpath) {
  const std::string first = (fs::path(dirpath) / "epoch=0-step=4.ckpt").string();
  const std::string last = (fs::path(dirpath) / "last.ckpt").string();
  EXPECT_EQ(files_in(dirpath), (std::set<std::string>{"epoch=0-step=4.ckpt", "last.ckpt"}));
  EXPECT_EQ(epoch_of(first), 0);
  EXPECT_EQ(epoch_of(last), 0);
  EXPECT_EQ(run.checkpoint->best_model_path(), first);
  EXPECT_EQ(run.checkpoint->last_model_path(), last);
}

TEST(AdverseSave, FullDiskIsAnErrorAndKeepsThePreviousCheckpoints) {
  SmallDisk disk(1 << 20);
  REQUIRE_SMALL_DISK(disk);
  const std::string dirpath = disk.file("ckpts");
  FitRun run = fit_with_trouble(dirpath, [&] { disk.fill("filler"); });

  const std::string second = (fs::path(dirpath) / "epoch=1-step=8.ckpt").string();
  EXPECT_THAT(run.error, HasSubstr("cannot save checkpoint \"" + second + "\""));
  EXPECT_THAT(run.error, HasSubstr("No space left on device"));
  EXPECT_THAT(run.error, HasSubstr("The file system is full: free space on it"));
  expect_epoch_zero_intact(run, dirpath);

  // With space again, the same trainer saves, and the file loads.
  fs::remove(disk.file("filler"));
  run.trainer->save_checkpoint(second);
  EXPECT_EQ(epoch_of(second), 1);
}

TEST(AdverseSave, ReadOnlyFileSystemIsAnErrorAndKeepsThePreviousCheckpoints) {
  SmallDisk disk(4 << 20);
  REQUIRE_SMALL_DISK(disk);
  const std::string dirpath = disk.file("ckpts");
  FitRun run = fit_with_trouble(dirpath, [&] { disk.set_read_only(true); });

  const std::string second = (fs::path(dirpath) / "epoch=1-step=8.ckpt").string();
  EXPECT_THAT(run.error, HasSubstr("cannot save checkpoint \"" + second + "\""));
  EXPECT_THAT(run.error, HasSubstr("Read-only file system"));
  EXPECT_THAT(run.error, HasSubstr("mounted read-only: save somewhere else"));
  expect_epoch_zero_intact(run, dirpath);

  disk.set_read_only(false);
  run.trainer->save_checkpoint(second);
  EXPECT_EQ(epoch_of(second), 1);
}

TEST(AdverseSave, FolderVanishingDuringTheSaveIsAnError) {
  TempDir dir;
  const std::string dirpath = dir.file("ckpts");
  const std::string kept = dir.file("kept.ckpt");
  const std::string doomed = (fs::path(dirpath) / "epoch=1-step=8.ckpt").string();
  FitRun run = fit_with_trouble(dirpath, [&] {
    // Something outside removes the folder while epoch 1's checkpoint is
    // being written into it (after its temporary file is complete).
    L::detail::set_checkpoint_before_rename_hook([&](const std::string& path) {
      if (path == doomed) fs::remove_all(dirpath);
    });
  });
  L::detail::set_checkpoint_before_rename_hook({});
  EXPECT_THAT(run.error, HasSubstr("cannot save checkpoint \"" + doomed + "\""));
  EXPECT_THAT(run.error, HasSubstr("No such file or directory"));
  EXPECT_THAT(run.error, HasSubstr("The folder disappeared during the save"));
  // Nothing is left behind anywhere, and the callback still points at the
  // files it saved (gone with their folder), not at the failed one.
  EXPECT_EQ(files_in(dir.path().string()), std::set<std::string>{});
  EXPECT_EQ(run.checkpoint->best_model_path(),
            (fs::path(dirpath) / "epoch=0-step=4.ckpt").string());
  EXPECT_EQ(run.checkpoint->last_model_path(), (fs::path(dirpath) / "last.ckpt").string());

  // The next save creates the folder again.
  run.trainer->save_checkpoint(doomed);
  EXPECT_EQ(epoch_of(doomed), 1);
  run.trainer->save_checkpoint(kept);
  EXPECT_EQ(epoch_of(kept), 1);
}

TEST(AdverseSave, ManualSaveOnAFullDiskLeavesTheOldFileAndNoTemporaryFile) {
  SmallDisk disk(1 << 20);
  REQUIRE_SMALL_DISK(disk);
  L::Trainer trainer(quiet().max_epochs(1));
  auto model = std::make_shared<L::testing::BoringModule>();
  trainer.fit(model, loader(8, 2));
  const std::string path = disk.file("model.ckpt");
  trainer.save_checkpoint(path);
  const auto size = fs::file_size(path);
  const int64_t epoch = epoch_of(path);
  disk.fill("filler");
  EXPECT_LIGHTNING_ERROR(trainer.save_checkpoint(path), "No space left on device");
  EXPECT_LIGHTNING_ERROR(trainer.save_checkpoint(path),
                         "Nothing was written at that path: a file that was there stays as it "
                         "was.");
  EXPECT_EQ(files_in(disk.file("")), (std::set<std::string>{"filler", "model.ckpt"}));
  EXPECT_EQ(fs::file_size(path), size);
  EXPECT_EQ(epoch_of(path), epoch);
}

}  // namespace
