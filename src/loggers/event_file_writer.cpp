#include "loggers/event_file_writer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "lightning/error.h"

namespace lightning::detail {
namespace {

// Why these are hand-written rather than taken from a library: see the header.

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// Field numbers of TensorFlow's event.proto / summary.proto / tensor.proto and
// TensorBoard's hparams plugin_data.proto / api.proto, and google.protobuf.Value.
namespace event_pb {
constexpr int kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5;
}
namespace summary_pb {
constexpr int kValue = 1;
}
namespace value_pb {
constexpr int kTag = 1, kSimpleValue = 2, kTensor = 8, kMetadata = 9;
}
namespace metadata_pb {
constexpr int kPluginData = 1;
constexpr int kPluginName = 1, kContent = 2;  // PluginData
}  // namespace metadata_pb
namespace tensor_pb {
constexpr int kDtype = 1, kTensorShape = 2;
constexpr int kShapeDim = 2;
constexpr uint64_t kDtFloat = 1;
}  // namespace tensor_pb
namespace hparams_pb {
constexpr int kExperiment = 2, kSessionStartInfo = 3, kSessionEndInfo = 4;  // HParamsPluginData
constexpr int kHParamInfos = 4, kMetricInfos = 5;                           // Experiment
constexpr int kInfoName = 1, kInfoType = 4;                                 // HParamInfo
constexpr int kMetricName = 1, kMetricTag = 2;                        // MetricInfo, MetricName
constexpr int kHParams = 1, kStartTimeSecs = 5;                       // SessionStartInfo
constexpr int kStatus = 1, kEndTimeSecs = 2;                          // SessionEndInfo
constexpr int kMapKey = 1, kMapValue = 2;                             // map entry
constexpr uint64_t kTypeString = 1, kTypeBool = 2, kTypeFloat64 = 3;  // DataType
constexpr uint64_t kStatusSuccess = 1, kStatusFailure = 2;            // Status
}  // namespace hparams_pb
namespace struct_pb {
constexpr int kNumber = 2, kString = 3, kBool = 4;  // google.protobuf.Value
}

double unix_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

double monotonic_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return "localhost";
  return buffer;
}

// The hparams plugin wants a tensor in each of its values; this is
// TensorBoard's own NULL_TENSOR (plugins/hparams/metadata.py, a length-0 float
// vector), which TensorBoard also substitutes when PyTorch's records lack one.
std::string null_tensor() {
  ProtoWriter dim;  // TensorShapeProto.Dim{size: 0}: no fields set
  ProtoWriter shape;
  shape.message(tensor_pb::kShapeDim, dim);
  ProtoWriter t;
  t.varint(tensor_pb::kDtype, tensor_pb::kDtFloat).message(tensor_pb::kTensorShape, shape);
  return t.str();
}

// An Event holding the Summary.Value
// {tag, tensor: NULL_TENSOR, metadata{plugin_data{"hparams", HParamsPluginData}}}
// whose HParamsPluginData has `message` as its field `field`. Its `version`
// (PLUGIN_DATA_VERSION) is 0, which protobuf does not write.
std::string hparams_event(const std::string& tag, int field, const ProtoWriter& message) {
  ProtoWriter content;
  content.message(field, message);
  ProtoWriter plugin_data;
  plugin_data.bytes(metadata_pb::kPluginName, "hparams").message(metadata_pb::kContent, content);
  ProtoWriter meta;
  meta.message(metadata_pb::kPluginData, plugin_data);
  ProtoWriter value;
  value.bytes(value_pb::kTag, tag)
      .bytes(value_pb::kTensor, null_tensor())
      .message(value_pb::kMetadata, meta);
  ProtoWriter summary;
  summary.message(summary_pb::kValue, value);
  ProtoWriter event;
  event.fixed_double(event_pb::kWallTime, unix_seconds()).message(event_pb::kSummary, summary);
  return event.str();
}

}  // namespace

uint32_t crc32c(const char* data, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc = kCrc32cTable[(crc ^ static_cast<uint8_t>(data[i])) & 0xFFu] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const char* data, size_t n) {
  const uint32_t crc = crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

void ProtoWriter::tag(int field, int wire_type) {
  raw_varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

void ProtoWriter::raw_varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void ProtoWriter::raw_fixed(uint64_t bits, int n_bytes) {
  for (int i = 0; i < n_bytes; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

ProtoWriter& ProtoWriter::varint(int field, uint64_t value) {
  tag(field, 0);
  raw_varint(value);
  return *this;
}

ProtoWriter& ProtoWriter::fixed_double(int field, double value) {
  uint64_t bits;
  static_assert(sizeof(bits) == sizeof(value));
  std::memcpy(&bits, &value, sizeof(bits));
  tag(field, 1);
  raw_fixed(bits, 8);
  return *this;
}

ProtoWriter& ProtoWriter::fixed_float(int field, float value) {
  uint32_t bits;
  static_assert(sizeof(bits) == sizeof(value));
  std::memcpy(&bits, &value, sizeof(bits));
  tag(field, 5);
  raw_fixed(bits, 4);
  return *this;
}

ProtoWriter& ProtoWriter::bytes(int field, const std::string& value) {
  tag(field, 2);
  raw_varint(value.size());
  out_ += value;
  return *this;
}

EventFileWriter::EventFileWriter(const std::string& dir, double flush_secs)
    : flush_secs_(flush_secs), last_flush_(monotonic_seconds()) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec && !fs::is_directory(dir, ec) && !ec) {
    ec = std::make_error_code(std::errc::not_a_directory);
  }
  LIGHTNING_CHECK(!ec, "cannot create the TensorBoard log folder '", dir, "': ", ec.message(),
                  ". Pass a writable save_dir/default_root_dir.");

  static std::atomic<int64_t> writers_in_process{0};
  char name[64];
  std::snprintf(name, sizeof(name), "events.out.tfevents.%010lld.",
                static_cast<long long>(unix_seconds()));
  path_ = (fs::path(dir) / (name + hostname() + "." + std::to_string(getpid()) + "." +
                            std::to_string(writers_in_process++)))
              .string();
  file_ = std::fopen(path_.c_str(), "wb");
  LIGHTNING_CHECK(file_ != nullptr, "cannot create the TensorBoard event file '", path_,
                  "': ", std::strerror(errno), ". Pass a writable save_dir/default_root_dir.");

  ProtoWriter first;
  first.fixed_double(event_pb::kWallTime, unix_seconds())
      .bytes(event_pb::kFileVersion, "brain.Event:2");
  write_event(first.str());
  flush();
}

EventFileWriter::~EventFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EventFileWriter::write_scalars(const std::vector<std::pair<std::string, double>>& scalars,
                                    int64_t step) {
  ProtoWriter summary;
  for (const auto& [tag, number] : scalars) {
    // simple_value is a member of a oneof: written even when 0, unlike the
    // proto3 scalars below that protobuf omits at their default value.
    ProtoWriter v;
    v.bytes(value_pb::kTag, tag).fixed_float(value_pb::kSimpleValue, static_cast<float>(number));
    summary.message(summary_pb::kValue, v);
  }
  ProtoWriter e;
  e.fixed_double(event_pb::kWallTime, unix_seconds());
  if (step != 0) e.varint(event_pb::kStep, static_cast<uint64_t>(step));
  e.message(event_pb::kSummary, summary);
  write_event(e.str());
}

void EventFileWriter::write_hparams(const std::vector<HParamEntry>& entries,
                                    const std::vector<std::string>& metrics) {
  ProtoWriter experiment;
  for (const HParamEntry& entry : entries) {
    const uint64_t type = std::holds_alternative<double>(entry.value) ? hparams_pb::kTypeFloat64
                          : std::holds_alternative<bool>(entry.value) ? hparams_pb::kTypeBool
                                                                      : hparams_pb::kTypeString;
    ProtoWriter info;
    info.bytes(hparams_pb::kInfoName, entry.name).varint(hparams_pb::kInfoType, type);
    experiment.message(hparams_pb::kHParamInfos, info);
  }
  for (const std::string& metric : metrics) {
    ProtoWriter name;
    name.bytes(hparams_pb::kMetricTag, metric);
    ProtoWriter info;
    info.message(hparams_pb::kMetricName, name);
    experiment.message(hparams_pb::kMetricInfos, info);
  }

  // Map entries in key order, as protobuf's deterministic serialization
  // writes them (the Python cross-check compares bytes).
  std::vector<const HParamEntry*> by_key;
  for (const HParamEntry& entry : entries) by_key.push_back(&entry);
  std::stable_sort(by_key.begin(), by_key.end(),
                   [](const HParamEntry* a, const HParamEntry* b) { return a->name < b->name; });
  ProtoWriter start;
  for (const HParamEntry* entry : by_key) {
    ProtoWriter v;  // google.protobuf.Value: `kind` is a oneof, always written
    if (const auto* number = std::get_if<double>(&entry->value)) {
      v.fixed_double(struct_pb::kNumber, *number);
    } else if (const auto* flag = std::get_if<bool>(&entry->value)) {
      v.varint(struct_pb::kBool, *flag ? 1 : 0);
    } else {
      v.bytes(struct_pb::kString, std::get<std::string>(entry->value));
    }
    ProtoWriter map_entry;
    map_entry.bytes(hparams_pb::kMapKey, entry->name).message(hparams_pb::kMapValue, v);
    start.message(hparams_pb::kHParams, map_entry);
  }
  start.fixed_double(hparams_pb::kStartTimeSecs, unix_seconds());

  // PyTorch's order: experiment, then session start.
  write_event(hparams_event("_hparams_/experiment", hparams_pb::kExperiment, experiment));
  write_event(hparams_event("_hparams_/session_start_info", hparams_pb::kSessionStartInfo, start));
}

void EventFileWriter::write_session_end(bool success) {
  ProtoWriter end;
  end.varint(hparams_pb::kStatus, success ? hparams_pb::kStatusSuccess : hparams_pb::kStatusFailure)
      .fixed_double(hparams_pb::kEndTimeSecs, unix_seconds());
  write_event(hparams_event("_hparams_/session_end_info", hparams_pb::kSessionEndInfo, end));
}

void EventFileWriter::write_event(const std::string& event) {
  LIGHTNING_CHECK(file_ != nullptr, "internal error: the TensorBoard event file '", path_,
                  "' was written after close().");
  // TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data.
  char header[12];
  const uint64_t length = event.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  const uint32_t length_crc = masked_crc32c(header, 8);
  for (int i = 0; i < 4; ++i) header[8 + i] = static_cast<char>((length_crc >> (8 * i)) & 0xFF);
  char footer[4];
  const uint32_t data_crc = masked_crc32c(event.data(), event.size());
  for (int i = 0; i < 4; ++i) footer[i] = static_cast<char>((data_crc >> (8 * i)) & 0xFF);
  write_bytes(header, sizeof(header));
  write_bytes(event.data(), event.size());
  write_bytes(footer, sizeof(footer));
  if (monotonic_seconds() - last_flush_ >= flush_secs_) flush();
}

void EventFileWriter::write_bytes(const char* data, size_t n) {
  LIGHTNING_CHECK(std::fwrite(data, 1, n, file_) == n, "cannot write the TensorBoard event file '",
                  path_, "': ", std::strerror(errno), ". Is the disk full?");
}

void EventFileWriter::flush() {
  if (file_ == nullptr) return;
  LIGHTNING_CHECK(std::fflush(file_) == 0, "cannot write the TensorBoard event file '", path_,
                  "': ", std::strerror(errno), ". Is the disk full?");
  last_flush_ = monotonic_seconds();
}

void EventFileWriter::close() {
  if (file_ == nullptr) return;
  std::FILE* file = file_;
  file_ = nullptr;
  LIGHTNING_CHECK(std::fclose(file) == 0, "cannot write the TensorBoard event file '", path_,
                  "': ", std::strerror(errno), ". Is the disk full?");
}

}  // namespace lightning::detail
