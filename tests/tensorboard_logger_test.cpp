// TensorBoardLogger: the event file is decoded by a reader written here,
// independent of src/loggers/event_file_writer.cpp (its own varint/fixed
// decoding and a bitwise CRC-32C), and cross-checked with the real protobuf
// runtime by tests/tools/tfevents_read.py.
#include "lightning/loggers/tensorboard_logger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lightning/hparams.h"
#include "support/errors.h"
#include "support/python.h"
#include "support/temp_dir.h"

namespace L = lightning;
namespace fs = std::filesystem;

namespace {

// ---- The test's own reader --------------------------------------------------

uint32_t bitwise_crc32c(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint64_t little_endian(const std::string& bytes, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[pos + i])) << (8 * i);
  return v;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every TFRecord's data; a failed CRC or a truncated record fails the test.
std::vector<std::string> read_records(const std::string& path) {
  const std::string file = read_file(path);
  std::vector<std::string> records;
  size_t pos = 0;
  while (pos < file.size()) {
    if (file.size() - pos < 12) {
      ADD_FAILURE() << "truncated record header at byte " << pos;
      break;
    }
    const uint64_t length = little_endian(file, pos, 8);
    EXPECT_EQ(masked(bitwise_crc32c(file.substr(pos, 8))), little_endian(file, pos + 8, 4))
        << "length CRC of record " << records.size();
    pos += 12;
    if (file.size() - pos < length + 4) {
      ADD_FAILURE() << "truncated record data at byte " << pos;
      break;
    }
    std::string data = file.substr(pos, length);
    EXPECT_EQ(masked(bitwise_crc32c(data)), little_endian(file, pos + length, 4))
        << "data CRC of record " << records.size();
    pos += length + 4;
    records.push_back(std::move(data));
  }
  return records;
}

// One protobuf field: the varint/fixed bits, or the bytes of a length-delimited one.
struct Field {
  uint32_t number = 0;
  int wire = 0;
  uint64_t bits = 0;
  std::string bytes;
  double as_double() const {
    EXPECT_EQ(wire, 1) << "field " << number;
    double d;
    std::memcpy(&d, &bits, 8);
    return d;
  }
  float as_float() const {
    EXPECT_EQ(wire, 5) << "field " << number;
    const uint32_t b = static_cast<uint32_t>(bits);
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
};

using Message = std::vector<Field>;

uint64_t read_varint(const std::string& s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= s.size()) throw std::runtime_error("truncated varint");
    const uint8_t byte = static_cast<uint8_t>(s[pos++]);
    v |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return v;
  }
  throw std::runtime_error("varint longer than 10 bytes");
}

Message decode(const std::string& s) {
  Message fields;
  size_t pos = 0;
  while (pos < s.size()) {
    const uint64_t key = read_varint(s, pos);
    Field f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.bits = read_varint(s, pos);
    } else if (f.wire == 1 || f.wire == 5) {
      const int n = f.wire == 1 ? 8 : 4;
      if (s.size() - pos < static_cast<size_t>(n)) throw std::runtime_error("truncated fixed");
      f.bits = little_endian(s, pos, n);
      pos += n;
    } else if (f.wire == 2) {
      const uint64_t n = read_varint(s, pos);
      if (s.size() - pos < n) throw std::runtime_error("truncated bytes");
      f.bytes = s.substr(pos, n);
      pos += n;
    } else {
      throw std::runtime_error("unexpected wire type " + std::to_string(f.wire));
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

const Field* find(const Message& m, uint32_t number) {
  const Field* last = nullptr;
  for (const Field& f : m) {
    if (f.number == number) last = &f;
  }
  return last;
}

std::vector<const Field*> find_all(const Message& m, uint32_t number) {
  std::vector<const Field*> all;
  for (const Field& f : m) {
    if (f.number == number) all.push_back(&f);
  }
  return all;
}

std::string string_field(const Message& m, uint32_t number) {
  const Field* f = find(m, number);
  return f ? f->bytes : "";
}

// tensorflow.Summary.Value, as far as the logger writes it.
struct SummaryValue {
  std::string tag;
  std::optional<float> simple_value;
  std::string plugin_name;
  std::string plugin_content;
  std::optional<std::string> tensor;
};

// tensorflow.Event.
struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::optional<std::string> file_version;
  std::vector<SummaryValue> values;
};

std::vector<Event> read_events(const std::string& path) {
  std::vector<Event> events;
  for (const std::string& record : read_records(path)) {
    const Message m = decode(record);
    Event e;
    if (const Field* f = find(m, 1)) e.wall_time = f->as_double();
    if (const Field* f = find(m, 2)) e.step = static_cast<int64_t>(f->bits);
    if (const Field* f = find(m, 3)) e.file_version = f->bytes;
    if (const Field* summary = find(m, 5)) {
      const Message values = decode(summary->bytes);
      for (const Field* v : find_all(values, 1)) {
        const Message value = decode(v->bytes);
        SummaryValue sv;
        sv.tag = string_field(value, 1);
        if (const Field* f = find(value, 2)) sv.simple_value = f->as_float();
        if (const Field* f = find(value, 8)) sv.tensor = f->bytes;
        if (const Field* meta = find(value, 9)) {
          const Message plugin = decode(string_field(decode(meta->bytes), 1));
          sv.plugin_name = string_field(plugin, 1);
          sv.plugin_content = string_field(plugin, 2);
        }
        e.values.push_back(std::move(sv));
      }
    }
    events.push_back(std::move(e));
  }
  return events;
}

// A google.protobuf.Value: which `kind` and its value.
struct StructValue {
  uint32_t kind = 0;  // 2 number, 3 string, 4 bool
  double number = 0;
  std::string text;
  bool flag = false;
};

// tensorboard.hparams.HParamsPluginData, decoded.
struct PluginData {
  int64_t version = 0;
  uint32_t which = 0;  // 2 experiment, 3 session_start_info, 4 session_end_info
  std::vector<std::pair<std::string, int64_t>> hparam_infos;  // name, DataType
  std::vector<std::string> metric_tags;
  std::map<std::string, StructValue> hparams;
  double start_time_secs = 0;
  int64_t status = 0;
  double end_time_secs = 0;
};

PluginData decode_plugin(const std::string& content) {
  PluginData p;
  const Message m = decode(content);
  if (const Field* f = find(m, 1)) p.version = static_cast<int64_t>(f->bits);
  for (uint32_t which : {2u, 3u, 4u}) {
    const Field* f = find(m, which);
    if (!f) continue;
    p.which = which;
    const Message body = decode(f->bytes);
    if (which == 2) {
      for (const Field* info : find_all(body, 4)) {
        const Message i = decode(info->bytes);
        const Field* type = find(i, 4);
        p.hparam_infos.emplace_back(string_field(i, 1), type ? type->bits : 0);
      }
      for (const Field* info : find_all(body, 5)) {
        p.metric_tags.push_back(string_field(decode(string_field(decode(info->bytes), 1)), 2));
      }
    } else if (which == 3) {
      for (const Field* entry : find_all(body, 1)) {
        const Message e = decode(entry->bytes);
        const Message v = decode(string_field(e, 2));
        EXPECT_EQ(v.size(), 1u) << "google.protobuf.Value sets exactly one kind";
        StructValue sv;
        if (!v.empty()) {
          sv.kind = v[0].number;
          if (sv.kind == 2) sv.number = v[0].as_double();
          if (sv.kind == 3) sv.text = v[0].bytes;
          if (sv.kind == 4) sv.flag = v[0].bits != 0;
        }
        p.hparams[string_field(e, 1)] = sv;
      }
      if (const Field* t = find(body, 5)) p.start_time_secs = t->as_double();
    } else {
      if (const Field* s = find(body, 1)) p.status = static_cast<int64_t>(s->bits);
      if (const Field* t = find(body, 2)) p.end_time_secs = t->as_double();
    }
  }
  return p;
}

// The only event file under `dir` (recursively); fails the test if not exactly one.
std::string only_event_file(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) {
      found.push_back(entry.path().string());
    }
  }
  EXPECT_EQ(found.size(), 1u) << "event files under " << dir;
  return found.empty() ? "" : found[0];
}

struct Scalar {
  std::string tag;
  int64_t step;
  float value;
  bool operator==(const Scalar& o) const {
    return tag == o.tag && step == o.step &&
           (value == o.value || (std::isnan(value) && std::isnan(o.value)));
  }
};

std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  return os << "{" << s.tag << " @" << s.step << " = " << s.value << "}";
}

std::vector<Scalar> scalars_of(const std::vector<Event>& events) {
  std::vector<Scalar> out;
  for (const Event& e : events) {
    for (const SummaryValue& v : e.values) {
      if (v.simple_value) out.push_back({v.tag, e.step, *v.simple_value});
    }
  }
  return out;
}

// The hparams plugin payloads, by tag.
std::map<std::string, PluginData> plugin_records(const std::vector<Event>& events) {
  std::map<std::string, PluginData> out;
  for (const Event& e : events) {
    for (const SummaryValue& v : e.values) {
      if (v.simple_value) continue;
      EXPECT_EQ(v.plugin_name, "hparams") << v.tag;
      // TensorBoard's NULL_TENSOR: DT_FLOAT, shape [0].
      EXPECT_EQ(v.tensor, std::string("\x08\x01\x12\x02\x12\x00", 6)) << v.tag;
      out[v.tag] = decode_plugin(v.plugin_content);
    }
  }
  return out;
}

const L::HParams kHParams{{"lr", 0.001},
                          {"hidden", 128},
                          {"name", "mlp"},
                          {"flag", true},
                          {"layers", L::HParamValue::List{64, 32}},
                          {"none", nullptr},
                          {"optim", L::HParams{{"beta", 0.9}, {"kind", "adam"}}}};

// A typical run: hyperparameters, two step rows, one epoch row, finalize.
std::string write_run(const std::string& save_dir, const std::string& status = "success") {
  L::TensorBoardLogger logger{L::TensorBoardLoggerOptions(save_dir)};
  logger.log_hyperparams(kHParams);
  logger.log_metrics({{"loss", 0.5}, {"epoch", 0}}, 3);
  logger.log_metrics({{"loss", 0.25}, {"acc", 1.0 / 3.0}, {"epoch", 1}}, 7);
  logger.log_epoch_metrics({{"loss", 0.25}, {"acc", 1.0 / 3.0}, {"epoch", 1}}, 1);
  logger.save();
  logger.finalize(status);
  return logger.event_file();
}

const std::vector<Scalar> kRunScalars{{"hp_metric", 0, -1.0f},
                                      {"epoch", 3, 0.0f},
                                      {"loss", 3, 0.5f},
                                      {"acc", 7, static_cast<float>(1.0 / 3.0)},
                                      {"epoch", 7, 1.0f},
                                      {"loss", 7, 0.25f},
                                      {"by_epoch/acc", 1, static_cast<float>(1.0 / 3.0)},
                                      {"by_epoch/loss", 1, 0.25f}};

// ---- A minimal JSON reader for tfevents_read.py's output --------------------

struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool flag = false;
  double number = 0;
  std::string text;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json& operator[](const std::string& key) const {
    for (const auto& [k, v] : members) {
      if (k == key) return v;
    }
    throw std::runtime_error("JSON object has no key '" + key + "'");
  }
  const Json& operator[](size_t i) const { return items.at(i); }
};

class JsonParser {
 public:
  explicit JsonParser(std::string s) : s_(std::move(s)) {}
  Json parse() {
    Json v = value();
    skip();
    if (pos_ != s_.size()) fail("trailing text");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("JSON: " + what + " at byte " + std::to_string(pos_));
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool take(const std::string& word) {
    if (s_.compare(pos_, word.size(), word) != 0) return false;
    pos_ += word.size();
    return true;
  }
  std::string string() {
    if (!take("\"")) fail("expected a string");
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) fail("bad escape");
        const char e = s_[pos_++];
        if (e == 'u') {  // json.dumps escapes non-ASCII; the tests use ASCII only
          out += static_cast<char>(std::stoi(s_.substr(pos_, 4), nullptr, 16));
          pos_ += 4;
          continue;
        }
        c = e == 'n'   ? '\n'
            : e == 't' ? '\t'
            : e == 'r' ? '\r'
            : e == 'b' ? '\b'
            : e == 'f' ? '\f'
                       : e;
      }
      out += c;
    }
    if (!take("\"")) fail("unterminated string");
    return out;
  }
  Json value() {
    skip();
    Json v;
    if (pos_ >= s_.size()) fail("unexpected end");
    const char c = s_[pos_];
    if (c == '{') {
      v.kind = Json::kObject;
      ++pos_;
      skip();
      if (take("}")) return v;
      do {
        skip();
        std::string key = string();
        skip();
        if (!take(":")) fail("expected ':'");
        v.members.emplace_back(std::move(key), value());
        skip();
      } while (take(","));
      if (!take("}")) fail("expected '}'");
    } else if (c == '[') {
      v.kind = Json::kArray;
      ++pos_;
      skip();
      if (take("]")) return v;
      do {
        v.items.push_back(value());
        skip();
      } while (take(","));
      if (!take("]")) fail("expected ']'");
    } else if (c == '"') {
      v.kind = Json::kString;
      v.text = string();
    } else if (take("true")) {
      v.kind = Json::kBool;
      v.flag = true;
    } else if (take("false")) {
      v.kind = Json::kBool;
    } else if (take("null")) {
      v.kind = Json::kNull;
    } else if (take("NaN")) {  // Python's json writes non-finite floats so
      v.kind = Json::kNumber;
      v.number = std::numeric_limits<double>::quiet_NaN();
    } else if (take("Infinity")) {
      v.kind = Json::kNumber;
      v.number = std::numeric_limits<double>::infinity();
    } else if (take("-Infinity")) {
      v.kind = Json::kNumber;
      v.number = -std::numeric_limits<double>::infinity();
    } else {
      v.kind = Json::kNumber;
      char* end = nullptr;
      v.number = std::strtod(s_.c_str() + pos_, &end);
      if (end == s_.c_str() + pos_) fail("unexpected character");
      pos_ = end - s_.c_str();
    }
    return v;
  }

  std::string s_;
  size_t pos_ = 0;
};

}  // namespace

// ---- The reader itself -------------------------------------------------------

TEST(TfEvents, TestReaderCrc32cMatchesTheStandardCheckValues) {
  // RFC 3720 (iSCSI) B.4 check values of CRC-32C.
  EXPECT_EQ(bitwise_crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(bitwise_crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(bitwise_crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
}

// ---- The event file ---------------------------------------------------------

TEST(TensorBoardLogger, FileVersionScalarsAndEpochTags) {
  L::testing::TempDir dir("lightning_tensorboard");
  // The writer's clock (system_clock), not std::time: glibc's time() reads a
  // coarse clock that can still be in the previous second when system_clock
  // has crossed into the next one.
  auto now = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const double before = now();
  const std::string path = write_run(dir.str());
  const double after = now();
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(path, only_event_file(dir.path()));

  const std::vector<Event> events = read_events(path);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].file_version, std::optional<std::string>("brain.Event:2"));
  EXPECT_TRUE(events[0].values.empty());
  for (const Event& e : events) {
    EXPECT_GE(e.wall_time, before);
    EXPECT_LE(e.wall_time, after);
  }
  EXPECT_EQ(scalars_of(events), kRunScalars);
  // One Event per log_metrics call, holding all of its scalars.
  int scalar_events = 0;
  for (const Event& e : events) scalar_events += !e.values.empty() && e.values[0].simple_value;
  EXPECT_EQ(scalar_events, 4);  // hp_metric, two rows, one epoch row
}

TEST(TensorBoardLogger, HParamsPluginRecords) {
  L::testing::TempDir dir("lightning_tensorboard");
  const std::string path = write_run(dir.str());
  const std::map<std::string, PluginData> records = plugin_records(read_events(path));
  ASSERT_EQ(records.size(), 3u);

  const PluginData& experiment = records.at("_hparams_/experiment");
  EXPECT_EQ(experiment.which, 2u);
  EXPECT_EQ(experiment.version, 0);
  // Lightning flattens nested maps with "/"; None and lists become strings.
  // DataType: 1 STRING, 2 BOOL, 3 FLOAT64.
  EXPECT_EQ(experiment.hparam_infos,
            (std::vector<std::pair<std::string, int64_t>>{{"lr", 3},
                                                          {"hidden", 3},
                                                          {"name", 1},
                                                          {"flag", 2},
                                                          {"layers", 1},
                                                          {"none", 1},
                                                          {"optim/beta", 3},
                                                          {"optim/kind", 1}}));
  EXPECT_EQ(experiment.metric_tags, std::vector<std::string>{"hp_metric"});

  const PluginData& start = records.at("_hparams_/session_start_info");
  EXPECT_EQ(start.which, 3u);
  ASSERT_EQ(start.hparams.size(), 8u);
  EXPECT_EQ(start.hparams.at("lr").kind, 2u);
  EXPECT_EQ(start.hparams.at("lr").number, 0.001);
  EXPECT_EQ(start.hparams.at("hidden").kind, 2u);
  EXPECT_EQ(start.hparams.at("hidden").number, 128.0);
  EXPECT_EQ(start.hparams.at("name").kind, 3u);
  EXPECT_EQ(start.hparams.at("name").text, "mlp");
  EXPECT_EQ(start.hparams.at("flag").kind, 4u);
  EXPECT_TRUE(start.hparams.at("flag").flag);
  EXPECT_EQ(start.hparams.at("layers").text, "[64, 32]");
  EXPECT_EQ(start.hparams.at("none").text, "None");
  EXPECT_EQ(start.hparams.at("optim/beta").number, 0.9);
  EXPECT_EQ(start.hparams.at("optim/kind").text, "adam");
  EXPECT_GT(start.start_time_secs, 1.5e9);

  const PluginData& end = records.at("_hparams_/session_end_info");
  EXPECT_EQ(end.which, 4u);
  EXPECT_EQ(end.status, 1);  // STATUS_SUCCESS
  EXPECT_GE(end.end_time_secs, start.start_time_secs);

  // hparams.yaml beside the event file holds the same (unflattened) values.
  const fs::path yaml = dir.path() / "lightning_logs" / "version_0" / "hparams.yaml";
  ASSERT_TRUE(fs::is_regular_file(yaml));
  EXPECT_EQ(L::load_hparams_from_yaml(yaml.string()), kHParams);
}

TEST(TensorBoardLogger, FailedRunEndsWithStatusFailure) {
  L::testing::TempDir dir("lightning_tensorboard");
  const auto records = plugin_records(read_events(write_run(dir.str(), "failed")));
  ASSERT_EQ(records.count("_hparams_/session_end_info"), 1u);
  EXPECT_EQ(records.at("_hparams_/session_end_info").status, 2);  // STATUS_FAILURE
}

TEST(TensorBoardLogger, NoHpMetricAndEmptyHParams) {
  L::testing::TempDir dir("lightning_tensorboard");
  {
    L::TensorBoardLogger logger(L::TensorBoardLoggerOptions(dir.str()).default_hp_metric(false));
    logger.log_hyperparams({{"lr", 0.1}});
    logger.finalize("success");
    const std::vector<Event> events = read_events(logger.event_file());
    EXPECT_TRUE(scalars_of(events).empty());
    const auto records = plugin_records(events);
    ASSERT_EQ(records.count("_hparams_/experiment"), 1u);
    EXPECT_TRUE(records.at("_hparams_/experiment").metric_tags.empty());
    EXPECT_EQ(records.at("_hparams_/session_start_info").hparams.at("lr").number, 0.1);
  }
  {
    // No hyperparameters: the run folder, an event file with only its header
    // record and an empty hparams.yaml (Lightning logs no hparams records then).
    L::TensorBoardLogger logger(L::TensorBoardLoggerOptions(dir.str()));
    logger.log_hyperparams({});
    logger.finalize("success");
    EXPECT_EQ(logger.version(), "version_1");
    const std::vector<Event> events = read_events(logger.event_file());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].file_version, std::optional<std::string>("brain.Event:2"));
    const fs::path yaml = fs::path(logger.log_dir()) / "hparams.yaml";
    ASSERT_TRUE(fs::is_regular_file(yaml));
    EXPECT_TRUE(L::load_hparams_from_yaml(yaml.string()).empty());
  }
}

TEST(TensorBoardLogger, FlattenedKeysAreUniqueAndEmptyMapsVanish) {
  L::testing::TempDir dir("lightning_tensorboard");
  L::TensorBoardLogger logger(L::TensorBoardLoggerOptions(dir.str()));
  logger.log_hyperparams({{"a/b", 1}, {"a", L::HParams{{"b", 2}}}, {"empty", L::HParams{}}});
  logger.finalize("success");
  const auto records = plugin_records(read_events(logger.event_file()));
  EXPECT_EQ(records.at("_hparams_/experiment").hparam_infos,
            (std::vector<std::pair<std::string, int64_t>>{{"a/b", 3}}));
  const auto& hparams = records.at("_hparams_/session_start_info").hparams;
  ASSERT_EQ(hparams.size(), 1u);
  EXPECT_EQ(hparams.at("a/b").number, 2.0);  // the last value, as Python's dict
}

TEST(TensorBoardLogger, ZeroNaNAndInfAreWritten) {
  L::testing::TempDir dir("lightning_tensorboard");
  L::TensorBoardLogger logger(L::TensorBoardLoggerOptions(dir.str()));
  const double inf = std::numeric_limits<double>::infinity();
  logger.log_metrics({{"zero", 0.0}, {"nan", std::nan("")}, {"inf", inf}, {"ninf", -inf}}, 0);
  logger.finalize("success");
  EXPECT_EQ(scalars_of(read_events(logger.event_file())),
            (std::vector<Scalar>{{"inf", 0, static_cast<float>(inf)},
                                 {"nan", 0, std::nanf("")},
                                 {"ninf", 0, static_cast<float>(-inf)},
                                 {"zero", 0, 0.0f}}));
}

TEST(TensorBoardLogger, PrefixAndSubDir) {
  L::testing::TempDir dir("lightning_tensorboard");
  L::TensorBoardLogger logger(
      L::TensorBoardLoggerOptions(dir.str()).name("exp").prefix("train").sub_dir("tb"));
  logger.log_hyperparams({{"lr", 0.1}});
  logger.log_metrics({{"loss", 2.0}, {"epoch", 0}}, 5);
  logger.log_epoch_metrics({{"loss", 2.0}, {"epoch", 0}}, 0);
  logger.finalize("success");

  const fs::path run = dir.path() / "exp" / "version_0";
  EXPECT_EQ(logger.log_dir(), run.string());
  EXPECT_EQ(fs::path(logger.event_file()).parent_path(), run / "tb");
  EXPECT_TRUE(fs::is_regular_file(run / "hparams.yaml"));
  const std::vector<Event> events = read_events(logger.event_file());
  EXPECT_EQ(scalars_of(events), (std::vector<Scalar>{{"train-hp_metric", 0, -1.0f},
                                                     {"train-epoch", 5, 0.0f},
                                                     {"train-loss", 5, 2.0f},
                                                     {"by_epoch/train-loss", 0, 2.0f}}));
  EXPECT_EQ(plugin_records(events).at("_hparams_/experiment").metric_tags,
            std::vector<std::string>{"train-hp_metric"});
}

TEST(TensorBoardLogger, FileNamePattern) {
  L::testing::TempDir dir("lightning_tensorboard");
  // The writer's clock (system_clock), not std::time (see FileVersionScalarsAndEpochTags).
  auto unix_seconds = [] {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  };
  const long long before = unix_seconds();
  L::TensorBoardLogger a(L::TensorBoardLoggerOptions(dir.str()));
  L::TensorBoardLogger b(L::TensorBoardLoggerOptions(dir.str()).version("b"));
  EXPECT_EQ(a.event_file(), "");  // nothing written yet
  a.log_hyperparams({});
  b.log_hyperparams({});
  const long long after = unix_seconds();

  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  const std::regex pattern(R"(events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+))");
  std::smatch ma, mb;
  const std::string name_a = fs::path(a.event_file()).filename().string();
  const std::string name_b = fs::path(b.event_file()).filename().string();
  ASSERT_TRUE(std::regex_match(name_a, ma, pattern)) << name_a;
  ASSERT_TRUE(std::regex_match(name_b, mb, pattern)) << name_b;
  EXPECT_GE(std::stoll(ma[1]), before);
  EXPECT_LE(std::stoll(ma[1]), after);
  EXPECT_EQ(ma[2], std::string(host));
  EXPECT_EQ(std::stoll(ma[3]), static_cast<long long>(getpid()));
  // n counts the event files of this process.
  EXPECT_GT(std::stoll(mb[4]), std::stoll(ma[4]));
  EXPECT_EQ(fs::path(a.event_file()).parent_path(), fs::path(a.log_dir()));
}

TEST(TensorBoardLogger, NewEventFileAfterFinalize) {
  L::testing::TempDir dir("lightning_tensorboard");
  L::TensorBoardLogger logger(L::TensorBoardLoggerOptions(dir.str()));
  logger.log_hyperparams({{"lr", 0.1}});
  logger.log_metrics({{"loss", 1.0}}, 1);
  logger.finalize("success");
  const std::string first = logger.event_file();
  // As a Trainer's fit() then test(): the same folder, a second event file.
  logger.log_hyperparams({{"lr", 0.1}});
  logger.log_metrics({{"test_loss", 0.5}}, 1);
  logger.finalize("success");
  const std::string second = logger.event_file();
  EXPECT_NE(first, second);
  EXPECT_EQ(fs::path(first).parent_path(), fs::path(second).parent_path());
  const std::vector<Event> events = read_events(second);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].file_version, std::optional<std::string>("brain.Event:2"));
  EXPECT_EQ(scalars_of(events),
            (std::vector<Scalar>{{"hp_metric", 0, -1.0f}, {"test_loss", 1, 0.5f}}));
  EXPECT_EQ(plugin_records(events).size(), 3u);
}

TEST(TensorBoardLogger, SaveFlushesWhatWasLogged) {
  L::testing::TempDir dir("lightning_tensorboard");
  L::TensorBoardLogger logger(L::TensorBoardLoggerOptions(dir.str()).flush_secs(3600));
  logger.log_metrics({{"loss", 1.0}}, 1);
  logger.save();
  // Read while the file is still open.
  EXPECT_EQ(scalars_of(read_events(logger.event_file())), (std::vector<Scalar>{{"loss", 1, 1.0f}}));
  EXPECT_TRUE(fs::is_regular_file(fs::path(logger.log_dir()) / "hparams.yaml"));
}

// ---- Version folders and errors -----------------------------------------------

TEST(TensorBoardLogger, VersionFolders) {
  L::testing::TempDir dir("lightning_tensorboard");
  L::TensorBoardLogger first(L::TensorBoardLoggerOptions(dir.str()));
  EXPECT_EQ(first.version(), "version_0");
  first.log_hyperparams({});
  L::TensorBoardLogger second(L::TensorBoardLoggerOptions(dir.str()));
  EXPECT_EQ(second.version(), "version_1");
  second.log_hyperparams({});
  EXPECT_EQ(first.version(), "version_0");  // resolved once
  EXPECT_EQ(first.log_dir(), (dir.path() / "lightning_logs" / "version_0").string());
  EXPECT_EQ(second.log_dir(), (dir.path() / "lightning_logs" / "version_1").string());

  L::TensorBoardLogger explicit_int(L::TensorBoardLoggerOptions(dir.str()).version(7));
  EXPECT_EQ(explicit_int.log_dir(), (dir.path() / "lightning_logs" / "version_7").string());
  L::TensorBoardLogger explicit_string(L::TensorBoardLoggerOptions(dir.str()).version("baseline"));
  explicit_string.log_hyperparams({});
  EXPECT_EQ(explicit_string.version(), "baseline");
  EXPECT_TRUE(fs::is_directory(dir.path() / "lightning_logs" / "baseline"));
  EXPECT_EQ(L::TensorBoardLogger(L::TensorBoardLoggerOptions(dir.str())).version(), "version_2");

  // An empty name puts the versions directly under save_dir, as Lightning.
  L::TensorBoardLogger unnamed(L::TensorBoardLoggerOptions(dir.str()).name(""));
  EXPECT_EQ(unnamed.log_dir(), (dir.path() / "version_0").string());
}

TEST(TensorBoardLogger, UnwritableSaveDirFailsInLogHyperparams) {
  L::testing::TempDir dir("lightning_tensorboard");
  std::ofstream(dir.path() / "file") << "not a folder";
  const std::string save_dir = (dir.path() / "file" / "sub").string();
  L::TensorBoardLogger logger{L::TensorBoardLoggerOptions(save_dir)};
  const std::string message = L::testing::error_of([&] { logger.log_hyperparams({}); });
  EXPECT_THAT(message, ::testing::HasSubstr("cannot create the TensorBoard log folder '" +
                                            logger.log_dir() + "': "));
  EXPECT_THAT(message, ::testing::HasSubstr("Not a directory"));
  EXPECT_THAT(message, ::testing::HasSubstr("Pass a writable save_dir/default_root_dir."));
  EXPECT_LIGHTNING_ERROR(logger.log_metrics({{"loss", 1.0}}, 0),
                         "Pass a writable save_dir/default_root_dir.");
}

TEST(TensorBoardLogger, OptionsAreValidated) {
  EXPECT_LIGHTNING_ERROR(L::TensorBoardLogger(L::TensorBoardLoggerOptions("x").flush_secs(-1)),
                         "TensorBoardLogger flush_secs must be a finite number >= 0, got -1.");
  EXPECT_LIGHTNING_ERROR(L::TensorBoardLogger(L::TensorBoardLoggerOptions("x").sub_dir("/abs")),
                         "sub_dir is a folder inside the run folder, got the absolute path");
}

// ---- Cross-check with the protobuf runtime -------------------------------------

TEST(TfEventsPython, ProtobufRuntimeReadsTheEventFile) {
  const std::string python = lightning::testing::kPython;
  ASSERT_EQ(access(python.c_str(), X_OK), 0)
      << python << " is missing: " << lightning::testing::kPythonSetup << ".";
  L::testing::TempDir dir("lightning_tensorboard");
  const std::string path = write_run(dir.str());
  const std::string script = std::string(LIGHTNING_TEST_TOOLS_DIR) + "/tfevents_read.py";
  const std::string err = (dir.path() / "stderr.txt").string();
  const std::string command = python + " '" + script + "' '" + path + "' 2>'" + err + "'";
  std::FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << command;
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = pclose(pipe);
  ASSERT_EQ(status, 0) << command << "\n"
                       << read_file(err) << "(exit status 3 means google.protobuf is missing: "
                       << lightning::testing::kPythonSetup << ")";

  Json j;
  ASSERT_NO_THROW(j = JsonParser(out).parse()) << out;
  const std::vector<Event> events = read_events(path);
  EXPECT_EQ(j["records"].number, static_cast<double>(events.size()));
  EXPECT_EQ(j["file_version"].text, "brain.Event:2");
  // Protobuf's own serializer writes the same bytes for every record.
  EXPECT_TRUE(j["noncanonical"].items.empty()) << out;

  std::vector<Scalar> scalars;
  for (const Json& s : j["scalars"].items) {
    scalars.push_back({s["tag"].text, static_cast<int64_t>(s["step"].number),
                       static_cast<float>(s["value"].number)});
  }
  EXPECT_EQ(scalars, kRunScalars);

  ASSERT_EQ(j["hparams_values"].items.size(), 3u);
  for (const Json& v : j["hparams_values"].items) {
    EXPECT_EQ(v["plugin_name"].text, "hparams");
    EXPECT_EQ(v["tensor_dtype"].text, "DT_FLOAT");
    ASSERT_EQ(v["tensor_shape"].items.size(), 1u);
    EXPECT_EQ(v["tensor_shape"][0].number, 0.0);
  }
  const Json& experiment = j["experiment"];
  std::vector<std::pair<std::string, std::string>> infos;
  for (const Json& i : experiment["hparam_infos"].items) {
    infos.emplace_back(i["name"].text, i["type"].text);
  }
  EXPECT_EQ(infos,
            (std::vector<std::pair<std::string, std::string>>{{"lr", "DATA_TYPE_FLOAT64"},
                                                              {"hidden", "DATA_TYPE_FLOAT64"},
                                                              {"name", "DATA_TYPE_STRING"},
                                                              {"flag", "DATA_TYPE_BOOL"},
                                                              {"layers", "DATA_TYPE_STRING"},
                                                              {"none", "DATA_TYPE_STRING"},
                                                              {"optim/beta", "DATA_TYPE_FLOAT64"},
                                                              {"optim/kind", "DATA_TYPE_STRING"}}));
  ASSERT_EQ(experiment["metric_tags"].items.size(), 1u);
  EXPECT_EQ(experiment["metric_tags"][0].text, "hp_metric");

  const Json& hp = j["session_start"]["hparams"];
  EXPECT_EQ(hp.members.size(), 8u);
  EXPECT_EQ(hp["lr"]["number_value"].number, 0.001);
  EXPECT_EQ(hp["hidden"]["number_value"].number, 128.0);
  EXPECT_EQ(hp["name"]["string_value"].text, "mlp");
  EXPECT_EQ(hp["flag"]["bool_value"].kind, Json::kBool);
  EXPECT_TRUE(hp["flag"]["bool_value"].flag);
  EXPECT_EQ(hp["layers"]["string_value"].text, "[64, 32]");
  EXPECT_EQ(hp["none"]["string_value"].text, "None");
  EXPECT_EQ(hp["optim/beta"]["number_value"].number, 0.9);
  EXPECT_EQ(hp["optim/kind"]["string_value"].text, "adam");
  EXPECT_EQ(j["session_end"]["status"].text, "STATUS_SUCCESS");
}
