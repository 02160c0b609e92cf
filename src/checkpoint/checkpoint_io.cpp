// .ckpt files: the torch.save zip container (written by libtorch's
// PyTorchStreamWriter, read by zip_reader.h) around the pickle of pickle_writer.cpp /
// pickle_reader.cpp. Records, as torch.save writes them: `data.pkl`,
// `data/<key>` per storage, `version` ("3"), plus `byteorder` ("little", as
// torch >= 2.1 writes; older versions ignore it).
#include "lightning/checkpoint/checkpoint_io.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/versions.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "checkpoint/pickle.h"
#include "checkpoint/save_hook.h"
#include "checkpoint/zip_reader.h"
#include "lightning/error.h"

namespace lightning {
namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

std::string errno_text(int err) { return std::strerror(err); }

// The process umask without changing it (Linux >= 4.7 reports it).
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Umask:", 0) == 0) {
      try {
        return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
      } catch (const std::exception&) {
        break;
      }
    }
  }
  return 022;
}

// The temporary file of an atomic save; removed unless committed.
class TempFile {
 public:
  TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  /// Closes the descriptor; returns errno or 0.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }
  void commit() { committed_ = true; }

 private:
  int fd_;
  std::string path_;
  bool committed_ = false;
};

void fsync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some filesystems cannot
  ::fsync(fd);
  ::close(fd);
}

[[noreturn]] void fail_save(const std::string& path, const std::string& what) {
  LIGHTNING_FAIL("cannot save checkpoint ", quoted(path), ": ", what);
}

/// A file-system call of the save failed with `err`: says so, what to do, and
/// that nothing changed at `path` (the save writes a temporary file and
/// renames it over the target only when it is complete).
[[noreturn]] void fail_save_io(const std::string& path, const std::string& what, int err) {
  std::string advice;
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      advice = " The file system is full: free space on it, or save somewhere else.";
      break;
    case EROFS:
      advice = " The file system is mounted read-only: save somewhere else.";
      break;
    case EACCES:
    case EPERM:
      advice =
          " This process may not write there: fix the folder's permissions, or save "
          "somewhere else.";
      break;
    case ENOENT:
      advice = " The folder disappeared during the save; the next save creates it again.";
      break;
    default:
      break;
  }
  fail_save(path, what + ": " + errno_text(err) + "." + advice +
                      " Nothing was written at that path: a file that was there stays as it was.");
}

std::function<void(const std::string&)>& before_rename_hook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

[[noreturn]] void fail_load(const std::string& path, const std::string& what) {
  LIGHTNING_FAIL("cannot load checkpoint ", quoted(path), ": ", what);
}

/// What libtorch's PyTorchStreamReader checks when it opens an archive, done
/// here: constructing that reader on a damaged file leaks its zip state when
/// it throws (libtorch 1.13), and our reader has checked the rest already.
void check_archive_version(const detail::ZipReader& zip, const std::string& path) {
  const std::vector<std::string> names = zip.record_names();
  if (names.empty()) fail_load(path, "it is not a torch.save zip archive (it holds no records).");
  if (names.front().find('/') == std::string::npos) {
    fail_load(path, "it is not a torch.save zip archive (its first record, \"" + names.front() +
                        "\", is not inside a folder).");
  }
  const std::string name = zip.has_record(".data/version") ? ".data/version" : "version";
  if (!zip.has_record(name)) {
    fail_load(path, "it is not a torch.save zip archive (it has no version record).");
  }
  size_t size = 0;
  const at::DataPtr data = zip.read_record(name, &size);
  const std::string text(static_cast<const char*>(data.get()), size);
  uint64_t version = 0;
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9' && version < 1000000) {
    version = version * 10 + static_cast<uint64_t>(text[digits++] - '0');
  }
  const bool only_space = text.find_first_not_of(" \t\r\n", digits) == std::string::npos;
  if (digits == 0 || !only_space) {
    fail_load(path, "its version record holds \"" + text.substr(0, 40) +
                        "\", not a number; the file is corrupt.");
  }
  if (version < caffe2::serialize::kMinSupportedFileFormatVersion ||
      version > caffe2::serialize::kMaxSupportedFileFormatVersion) {
    fail_load(path, "it has file format version " + std::to_string(version) +
                        ", but this libtorch reads versions " +
                        std::to_string(caffe2::serialize::kMinSupportedFileFormatVersion) + " to " +
                        std::to_string(caffe2::serialize::kMaxSupportedFileFormatVersion) +
                        "; save it again with an older PyTorch, or build against a newer "
                        "libtorch.");
  }
}

StateDict load_archive(const std::string& path, const std::optional<c10::Device>& map_location) {
  // Our own reader of the zip headers comes first: it rejects any record
  // whose claimed size or position lies outside the file before anything is
  // allocated, and checks the CRC-32 of every record it reads.
  detail::ZipReader zip(path, "cannot load checkpoint " + quoted(path));
  check_archive_version(zip, path);
  if (zip.has_record("constants.pkl")) {
    fail_load(path,
              "it is a TorchScript archive (torch.jit.save), not a checkpoint; load it with "
              "torch::jit::load.");
  }
  if (!zip.has_record("data.pkl")) {
    fail_load(path, "the archive has no data.pkl record; it was not written by torch.save.");
  }
  if (zip.has_record("byteorder")) {
    size_t size = 0;
    const at::DataPtr ptr = zip.read_record("byteorder", &size);
    const std::string order(static_cast<const char*>(ptr.get()), size);
    LIGHTNING_CHECK(order == "little", "cannot load checkpoint ", quoted(path),
                    ": its tensors are stored in \"", order,
                    "\" byte order; only little-endian checkpoints are supported.");
  }
  size_t pickle_size = 0;
  const at::DataPtr pickle = zip.read_record("data.pkl", &pickle_size);

  const detail::StorageLoader loader = [&](const std::string& key, at::ScalarType dtype,
                                           int64_t numel) {
    const std::string name = "data/" + key;
    LIGHTNING_CHECK(zip.has_record(name), "cannot load checkpoint ", quoted(path),
                    ": data.pkl refers to storage \"", key, "\" but the archive has no ", name,
                    " record; the file is corrupt.");
    const size_t itemsize = c10::elementSize(dtype);
    LIGHTNING_CHECK(static_cast<uint64_t>(numel) <= std::numeric_limits<int64_t>::max() / itemsize,
                    "cannot load checkpoint ", quoted(path), ": storage \"", key, "\" claims ",
                    numel, " elements; the file is corrupt.");
    const size_t nbytes = static_cast<size_t>(numel) * itemsize;
    c10::Storage storage = zip.read_storage(name);
    const size_t size = storage.nbytes();
    LIGHTNING_CHECK(size >= nbytes, "cannot load checkpoint ", quoted(path), ": record ", name,
                    " holds ", size, " bytes but its storage needs ", nbytes,
                    "; the file is corrupt.");
    storage.set_nbytes(nbytes);
    at::Tensor flat =
        at::empty({0}, at::TensorOptions().dtype(dtype)).set_(storage, 0, {numel}, {1});
    if (map_location.has_value() && flat.device() != *map_location) flat = flat.to(*map_location);
    return flat;
  };

  const c10::IValue value = detail::unpickle_checkpoint(
      static_cast<const char*>(pickle.get()), pickle_size, loader, "checkpoint " + quoted(path));
  // The CRC-32 of the tensor storages, computed while later records were read.
  zip.finish_checks();
  if (!value.isGenericDict()) {
    fail_load(path,
              "it holds a " +
                  (is_python_object(value) ? "Python object (" + python_object_name(value) + ")"
                                           : value.tagKind()) +
                  ", not a dict; a Lightning checkpoint is a dict.");
  }
  return value.toGenericDict();
}

}  // namespace

namespace detail {
void set_checkpoint_before_rename_hook(std::function<void(const std::string&)> hook) {
  before_rename_hook() = std::move(hook);
}
}  // namespace detail

void save_checkpoint_file(const StateDict& checkpoint, const std::string& path,
                          const SaveCheckpointOptions& options) {
  LIGHTNING_CHECK(!path.empty(), "save_checkpoint_file: the path is empty.");

  // Everything that can go wrong with the values goes wrong before any file
  // is touched.
  detail::PickleOutput pickled;
  try {
    pickled = detail::pickle_checkpoint(checkpoint, options);
  } catch (const Error& e) {
    fail_save(path, e.what());
  } catch (const c10::Error& e) {  // e.g. copying a CUDA storage
    fail_save(path, e.what_without_backtrace());
  }

  const fs::path target(path);
  LIGHTNING_CHECK(!target.filename().empty(), "cannot save checkpoint ", quoted(path),
                  ": the path names a folder, not a file.");
  fs::path folder = target.parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) fail_save_io(path, "cannot create the folder " + quoted(folder.string()), ec.value());

  // ".<name>.tmp-XXXXXX", the name shortened to stay within NAME_MAX.
  const std::string stem = target.filename().string().substr(0, 200);
  // A process killed while saving this target left its temporary file behind:
  // remove those first, so repeated crashes do not pile them up. (Two
  // processes saving the same path at once would race anyway: the last
  // rename wins.)
  const std::string stale_prefix = "." + stem + ".tmp-";
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == stale_prefix.size() + 6 && name.rfind(stale_prefix, 0) == 0) {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);
    }
  }
  std::string temp_path = (folder / ("." + stem + ".tmp-XXXXXX")).string();
  const int fd = ::mkostemp(temp_path.data(), O_CLOEXEC);
  if (fd < 0) {
    fail_save_io(path, "cannot create a temporary file in " + quoted(folder.string()), errno);
  }
  TempFile temp(fd, temp_path);

  // The writer function never reports a short write to the zip writer (its
  // destructor would throw); the first error is kept and raised afterwards.
  int write_error = 0;
  const auto write = [&](const void* buffer, size_t n) -> size_t {
    const char* p = static_cast<const char*>(buffer);
    size_t left = n;
    while (left > 0 && write_error == 0) {
      const ssize_t w = ::write(temp.fd(), p, left);
      if (w < 0) {
        if (errno != EINTR) write_error = errno;
        continue;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    return n;
  };
  try {
    caffe2::serialize::PyTorchStreamWriter writer(write);
    writer.writeRecord("data.pkl", pickled.data.data(), pickled.data.size());
    writer.writeRecord("byteorder", "little", 6);
    for (const auto& storage : pickled.storages) {
      writer.writeRecord("data/" + storage.key, storage.bytes.data_ptr(), storage.nbytes);
    }
    writer.writeRecord("version", "3\n", 2);
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    fail_save(path, std::string("writing the zip archive failed: ") + e.what_without_backtrace());
  }
  if (write_error != 0) fail_save_io(path, "cannot write " + quoted(temp.path()), write_error);

  ::fchmod(temp.fd(), 0666 & ~current_umask());  // as open(2) would create it
  if (::fsync(temp.fd()) != 0) fail_save_io(path, "fsync failed", errno);
  if (const int err = temp.close(); err != 0) fail_save_io(path, "close failed", err);
  if (const auto& hook = before_rename_hook()) hook(path);
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    fail_save_io(path, "cannot rename the temporary file " + quoted(temp.path()) + " over it",
                 errno);
  }
  temp.commit();
  fsync_folder(folder);
}

StateDict load_checkpoint_file(const std::string& path,
                               const std::optional<c10::Device>& map_location) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) fail_load(path, "the file does not exist.");
  if (fs::is_directory(status)) fail_load(path, "it is a folder, not a file.");
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_load(path, "the file cannot be opened: " + errno_text(errno) + ".");
    char head[2] = {0, 0};
    in.read(head, 2);
    const std::streamsize got = in.gcount();
    if (got == 0) fail_load(path, "the file is empty; a checkpoint is a torch.save zip archive.");
    if (static_cast<unsigned char>(head[0]) == 0x80) {
      fail_load(path,
                "it is in the legacy (torch < 1.6) torch.save format, which is not supported; "
                "re-save it in Python with torch.save(torch.load(path), path).");
    }
  }
  try {
    return load_archive(path, map_location);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    fail_load(path, e.what_without_backtrace());
  } catch (const std::exception& e) {  // std::bad_alloc, std::invalid_argument from the zip reader
    fail_load(path, std::string("it is corrupt (") + e.what() + ").");
  }
}

bool is_python_object(const c10::IValue& value) {
  return value.isObject() && value.toObjectRef().type() == detail::python_object_type();
}

std::string python_object_name(const c10::IValue& value) {
  LIGHTNING_CHECK(is_python_object(value), "python_object_name: the value is a ", value.tagKind(),
                  ", not a Python-object placeholder from a checkpoint.");
  return value.toObjectRef().getSlot(0).toStringRef();
}

namespace {
std::optional<std::string> find_in(const c10::IValue& value, const std::string& path, int depth) {
  if (is_python_object(value)) {
    const std::string name = python_object_name(value);
    return path.empty() ? name : path + ": " + name;
  }
  if (depth > detail::kMaxPickleDepth) return std::nullopt;
  const auto sub = [&](const std::string& key) { return path.empty() ? key : path + "/" + key; };
  if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      const c10::IValue& k = entry.key();
      const std::string key = k.isString() ? k.toStringRef()
                              : k.isInt()  ? std::to_string(k.toInt())
                                           : c10::str(k);
      if (auto found = find_in(entry.value(), sub(key), depth + 1)) return found;
    }
  } else if (value.isList()) {
    const auto items = value.toListRef();
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto found = find_in(items[i], sub(std::to_string(i)), depth + 1)) return found;
    }
  } else if (value.isTuple()) {
    const auto& items = value.toTupleRef().elements();
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto found = find_in(items[i], sub(std::to_string(i)), depth + 1)) return found;
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> find_python_object(const c10::IValue& value, const std::string& path) {
  return find_in(value, path, 0);
}

}  // namespace lightning
