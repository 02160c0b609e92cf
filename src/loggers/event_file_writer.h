// Private: TensorBoard event files (TFRecord files of tensorflow.Event protos)
// for TensorBoardLogger.
//
//   detail::EventFileWriter w("runs/lightning_logs/version_0", /*flush_secs=*/120);
//   w.write_scalars({{"loss", 0.5}, {"epoch", 0}}, /*step=*/10);
//   w.write_session_end(/*success=*/true);
//   w.close();
//
// The protobuf wire format and the CRC-32C of the TFRecord framing are written
// by hand here, on purpose:
// - protobuf: Debian's libprotobuf would need protoc-generated code for
//   event.proto/summary.proto/the hparams protos, and would add a compiled
//   (not header-only) dependency that machines using pip's libtorch do not
//   have (the library keeps its dependencies few). The messages written here are
//   a handful of fields of five wire types, about 40 lines of encoder.
// - CRC-32C: Debian has no CRC-32C library package (zlib's crc32 is the other
//   polynomial); the table-driven version is 20 lines.
// The encoding is cross-checked against the real protobuf runtime by
// tests/tools/tfevents_read.py (run by tests/tensorboard_logger_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lightning::detail {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `n` bytes.
uint32_t crc32c(const char* data, size_t n);
/// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const char* data, size_t n);

/// Appends protobuf wire-format fields to a byte string. Field order is the
/// caller's (write in field-number order to match protobuf's own output).
class ProtoWriter {
 public:
  /// int32/int64/uint64/enum/bool: a varint (negative values as 10 bytes).
  ProtoWriter& varint(int field, uint64_t value);
  /// double: fixed64, little-endian IEEE-754.
  ProtoWriter& fixed_double(int field, double value);
  /// float: fixed32, little-endian IEEE-754.
  ProtoWriter& fixed_float(int field, float value);
  /// string, bytes or an embedded message: length-delimited.
  ProtoWriter& bytes(int field, const std::string& value);
  ProtoWriter& message(int field, const ProtoWriter& value) { return bytes(field, value.str()); }
  const std::string& str() const { return out_; }

 private:
  void tag(int field, int wire_type);
  void raw_varint(uint64_t value);
  void raw_fixed(uint64_t bits, int n_bytes);
  std::string out_;
};

/// One flattened hyperparameter: a number (ints as doubles), a bool or a string.
struct HParamEntry {
  std::string name;
  std::variant<double, bool, std::string> value;
};

/// Writes `<dir>/events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n>`
/// (n counts the writers of this process, as TensorFlow/tensorboardX do).
/// Records go through stdio's buffer and are flushed by `flush()`, by
/// `close()`, and by the first write at least `flush_secs` after the last
/// flush. Not copyable: it owns the open file.
class EventFileWriter {
 public:
  /// Creates `dir` (and its parents) and the event file, and writes the
  /// file_version record. `lightning::Error` naming the folder and the OS
  /// reason when either cannot be created.
  EventFileWriter(const std::string& dir, double flush_secs);
  /// Closes the file; errors are ignored here (call `close()` to see them).
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  const std::string& path() const { return path_; }

  /// One Event at `step` whose Summary holds one `simple_value` per entry.
  void write_scalars(const std::vector<std::pair<std::string, double>>& scalars, int64_t step);
  /// The hparams plugin's "_hparams_/experiment" and
  /// "_hparams_/session_start_info" records, as PyTorch's
  /// `torch.utils.tensorboard.summary.hparams()` builds them; `metrics` are the
  /// metric tags the HParams tab shows next to the hyperparameters.
  void write_hparams(const std::vector<HParamEntry>& hparams,
                     const std::vector<std::string>& metrics);
  /// The "_hparams_/session_end_info" record: STATUS_SUCCESS or STATUS_FAILURE.
  void write_session_end(bool success);

  void flush();
  /// Flushes and closes; later writes are an internal error.
  void close();

 private:
  void write_event(const std::string& event);
  void write_bytes(const char* data, size_t n);

  std::string path_;
  std::FILE* file_ = nullptr;
  double flush_secs_;
  double last_flush_;
};

}  // namespace lightning::detail
