// src/checkpoint/zip_reader.h — private to src/checkpoint: the reading side of
// the torch.save zip container, trusting nothing the file claims.
//
// The central directory is parsed here (not by libtorch) so that every
// record's claimed size is checked against the file's length before anything
// is allocated, and every record read is checked against its CRC-32. Only
// what torch.save writes is accepted: records stored uncompressed, zip64
// sizes and offsets for files past 4 GiB, one disk.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/Storage.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lightning/export.h"

namespace lightning::detail {

/// CRC-32 of the zip format (polynomial 0x04C11DB7, reflected), continuing
/// from `crc` (0 for a fresh start), as zlib's crc32().
LIGHTNING_INTERNAL_API uint32_t crc32(uint32_t crc, const void* data, size_t size);
/// The same with the portable table-driven code only (for the tests).
LIGHTNING_INTERNAL_API uint32_t crc32_portable(uint32_t crc, const void* data, size_t size);

/// Whether load_checkpoint_file verifies the CRC-32 of every record it reads
/// (default: yes). Only benchmarks/checkpoint_crc.cpp turns it off, to
/// measure what the check costs.
LIGHTNING_INTERNAL_API void set_verify_record_crc(bool on);
LIGHTNING_INTERNAL_API bool verify_record_crc();

/// A torch.save zip archive opened for reading. Every failure is a
/// lightning::Error starting with `context` (e.g. `cannot load checkpoint
/// "x.ckpt"`).
class ZipReader {
 public:
  /// Opens `path` and reads its central directory; rejects any record whose
  /// claimed size or position lies outside the file.
  ZipReader(const std::string& path, std::string context);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  /// The folder every record is under (torch.save writes "archive").
  const std::string& prefix() const { return prefix_; }
  /// The records' full names, in the order of the central directory.
  std::vector<std::string> record_names() const;
  /// Whether the record `<prefix>/<name>` exists.
  bool has_record(const std::string& name) const;
  /// Reads the record `<prefix>/<name>` into a new CPU buffer of `*size`
  /// bytes, checking its CRC-32 (unless turned off).
  at::DataPtr read_record(const std::string& name, size_t* size) const;
  /// Reads the record `<prefix>/<name>` into a new CPU storage of its size.
  /// Its CRC-32 is computed on a helper thread while later records are
  /// read; finish_checks() waits for those and raises the first mismatch, so
  /// nothing read this way may be handed out before it returns.
  c10::Storage read_storage(const std::string& name);
  void finish_checks();

 private:
  struct Entry {
    std::string name;  // full name in the zip, e.g. "archive/data/0"
    uint64_t size = 0;
    uint64_t header_offset = 0;
    uint32_t crc = 0;
  };
  class Checker;
  const Entry& entry(const std::string& name) const;
  uint64_t data_offset(const Entry& e) const;
  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void fail_crc(const Entry& e, uint32_t crc) const;
  void read_at(uint64_t offset, void* buffer, size_t size) const;
  void read_central_directory();

  std::string path_;
  std::string context_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint64_t directory_offset_ = 0;  // where the records end
  std::string prefix_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
  std::unique_ptr<Checker> checker_;  // while storages are being checked
};

}  // namespace lightning::detail
