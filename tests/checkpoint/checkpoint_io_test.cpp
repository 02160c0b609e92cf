// .ckpt files in the torch.save zip format: what C++ writes opens in Python
// (torch.load, also with weights_only=True), what Python's torch.save writes
// opens here, round trips, atomic saves and hostile files.
//
// Values are compared through a canonical text (one line per value, tensors
// with dtype, shape, stride, offset, storage sharing and the hex of their
// bytes) that tests/checkpoint/ckpt_tool.py prints the same way in Python.
#include "lightning/checkpoint/checkpoint_io.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "checkpoint/zip_reader.h"
#include "lightning/state_dict.h"
#include "support/errors.h"
#include "support/python.h"
#include "support/same_values.h"
#include "support/temp_dir.h"

namespace L = lightning;
using namespace std::string_literals;
namespace fs = std::filesystem;
using L::testing::TempDir;

namespace {

using lightning::testing::kPython;

// ------------------------------------------------------------- files --

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<std::string> folder_entries(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A zip archive in torch.save's layout ("archive/<name>") with these records.
void write_archive(const std::string& path,
                   const std::vector<std::pair<std::string, std::string>>& records) {
  caffe2::serialize::PyTorchStreamWriter writer(path);
  for (const auto& [name, data] : records) writer.writeRecord(name, data.data(), data.size());
  writer.writeEndOfFile();
}

std::vector<std::pair<std::string, std::string>> read_archive(const std::string& path) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  std::vector<std::pair<std::string, std::string>> records;
  for (const std::string& name : reader.getAllRecords()) {
    auto [ptr, size] = reader.getRecord(name);
    records.emplace_back(name, std::string(static_cast<const char*>(ptr.get()), size));
  }
  return records;
}

// ------------------------------------------------------------ python --

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CommandResult {
  int status;
  std::string out;  // stdout
  std::string err;  // stderr
};

CommandResult run_command(const std::string& command) {
  char err_path[] = "/tmp/ckpt_test_stderr_XXXXXX";
  const int fd = ::mkstemp(err_path);
  if (fd >= 0) ::close(fd);
  FILE* pipe = ::popen((command + " 2>" + err_path).c_str(), "r");
  if (pipe == nullptr) return {-1, "", std::string("popen failed: ") + std::strerror(errno)};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  std::string err = read_bytes(err_path);
  ::unlink(err_path);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out, err};
}

// Empty when the tests' Python can import torch; otherwise what to do. The
// cross-checks fail rather than skip: a missing torch is a broken setup.
std::string python_problem() {
  static const std::string problem = [] {
    const std::string fix = std::string(" The checkpoint cross-checks need torch in it; ") +
                            lightning::testing::kPythonSetup + " and rerun the tests.";
    if (::access(kPython, X_OK) != 0) return std::string(kPython) + " is missing." + fix;
    const CommandResult r = run_command(std::string(kPython) + " -c 'import torch, numpy'");
    if (r.status != 0) return std::string(kPython) + " cannot import torch (" + r.err + ")." + fix;
    return std::string();
  }();
  return problem;
}

CommandResult tool(const std::string& args) {
  return run_command(std::string(kPython) + " " +
                     shell_quote(std::string(LIGHTNING_CHECKPOINT_SCRIPTS_DIR) + "/ckpt_tool.py") +
                     " " + args);
}

// ------------------------------------------------------ canonical text --

std::string quote_bytes(const std::string& s) {
  std::string out = "\"";
  for (unsigned char b : s) {
    if (b >= 0x20 && b <= 0x7E && b != '"' && b != '\\') {
      out += static_cast<char>(b);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", b);
      out += hex;
    }
  }
  return out + "\"";
}

std::string float_hex(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(bits));
  return hex;
}

std::string hex_of(const void* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kLong:
      return "int64";
    case at::kInt:
      return "int32";
    case at::kShort:
      return "int16";
    case at::kChar:
      return "int8";
    case at::kByte:
      return "uint8";
    case at::kBool:
      return "bool";
    default:
      return c10::toString(t);
  }
}

template <typename T>
std::string join(const T& values) {
  std::string out;
  for (const auto& v : values) out.append(out.empty() ? "" : ",").append(std::to_string(v));
  return out;
}

class Dumper {
 public:
  std::string text;

  void value(const c10::IValue& v, const std::string& path) {
    if (v.isNone()) {
      line(path, "None");
    } else if (v.isBool()) {
      line(path, std::string("bool ") + (v.toBool() ? "True" : "False"));
    } else if (v.isInt()) {
      line(path, "int " + std::to_string(v.toInt()));
    } else if (v.isDouble()) {
      line(path, "float " + float_hex(v.toDouble()));
    } else if (v.isString()) {
      line(path, "str " + quote_bytes(v.toStringRef()));
    } else if (v.isTensor()) {
      line(path, tensor(v.toTensor()));
    } else if (v.isGenericDict()) {
      const auto dict = v.toGenericDict();
      line(path, "dict " + std::to_string(dict.size()));
      for (const auto& e : dict) value(e.value(), path + "[" + key(e.key()) + "]");
    } else if (v.isList()) {
      const auto items = v.toListRef();
      line(path, "list " + std::to_string(items.size()));
      for (size_t i = 0; i < items.size(); ++i)
        value(items[i], path + "[" + std::to_string(i) + "]");
    } else if (v.isTuple()) {
      const auto& items = v.toTupleRef().elements();
      line(path, "tuple " + std::to_string(items.size()));
      for (size_t i = 0; i < items.size(); ++i)
        value(items[i], path + "[" + std::to_string(i) + "]");
    } else if (L::is_python_object(v)) {
      const std::string name = L::python_object_name(v);
      const c10::IValue args = v.toObjectRef().getAttr("args");
      if (name == "builtins.int" && args.isTuple() && args.toTupleRef().elements().size() == 1) {
        line(path, "bigint " + args.toTupleRef().elements()[0].toStringRef());
      } else {
        line(path, "pyobject " + name);
      }
    } else {
      line(path, "unsupported " + v.tagKind());
    }
  }

 private:
  void line(const std::string& path, const std::string& rest) { text += path + " " + rest + "\n"; }

  static std::string key(const c10::IValue& k) {
    if (k.isString()) return quote_bytes(k.toStringRef());
    if (k.isBool()) return k.toBool() ? "True" : "False";
    if (k.isInt()) return std::to_string(k.toInt());
    if (k.isDouble()) return "f:" + float_hex(k.toDouble());
    return "<" + k.tagKind() + ">";
  }

  std::string tensor(const at::Tensor& t) {
    const c10::StorageImpl* impl = t.storage().unsafeGetStorageImpl();
    int id;
    if (t.storage().nbytes() == 0) {
      id = next_id_++;
    } else {
      auto it = storages_.find(impl);
      id = it != storages_.end() ? it->second : (storages_[impl] = next_id_++);
    }
    const at::Tensor c = t.detach().cpu().contiguous();
    return "tensor dtype=" + dtype_name(t.scalar_type()) + " shape=[" + join(t.sizes()) +
           "] stride=[" + join(t.strides()) + "] offset=" + std::to_string(t.storage_offset()) +
           " storage=" + std::to_string(id) +
           " requires_grad=" + (t.requires_grad() ? "True" : "False") +
           " data=" + hex_of(c.data_ptr(), c.numel() * c.element_size());
  }

  std::unordered_map<const c10::StorageImpl*, int> storages_;
  int next_id_ = 0;
};

std::string canonical(const c10::IValue& v) {
  Dumper d;
  d.value(v, "$");
  return d.text;
}

using lightning::testing::same_values;

// ---------------------------------------------------------- fixtures --

c10::impl::GenericDict int_dict() {
  return c10::impl::GenericDict(c10::IntType::get(), c10::AnyType::get());
}

c10::IValue list_of(std::vector<c10::IValue> items) {
  c10::impl::GenericList list(c10::AnyType::get());
  for (auto& i : items) list.push_back(std::move(i));
  return list;
}

c10::IValue tuple_of(std::vector<c10::IValue> items) {
  return c10::ivalue::Tuple::create(std::move(items));
}

L::StateDict nested(const std::string& key, c10::IValue value) {
  L::StateDict d = L::make_state_dict();
  d.insert(key, std::move(value));
  return d;
}

at::Tensor seeded(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::randn(shape, gen, at::kFloat);
}

// A checkpoint with Lightning's keys and every kind of value. With
// floats=false it holds no Python float (BINFLOAT), so that torch 1.13's
// weights_only unpickler can read it.
L::StateDict rich_checkpoint(bool floats) {
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{3});
  ckpt.insert("global_step", int64_t{1} << 40);
  ckpt.insert("pytorch-lightning_version", std::string("1.8.6"));

  L::StateDict sd = L::make_state_dict();
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  sd.insert("base", base);
  sd.insert("transposed", base.t());  // non-contiguous view of "base"
  sd.insert("corner", base.narrow(0, 1, 2).narrow(1, 1, 3));
  const at::Tensor shared = at::arange(10, at::kFloat) * 0.5;
  sd.insert("shared_a", shared);
  sd.insert("shared_b", shared.narrow(0, 2, 5));  // same storage, offset 2
  sd.insert("layer.weight", seeded({4, 3}, 1));
  sd.insert("layer.bias", seeded({4}, 2));
  sd.insert("bn.num_batches_tracked", at::scalar_tensor(7, at::kLong));
  ckpt.insert("state_dict", sd);

  L::StateDict progress = L::make_state_dict();
  progress.insert("ready", int64_t{4});
  progress.insert("completed", int64_t{3});
  ckpt.insert("loops", nested("fit_loop", nested("epoch_progress", nested("total", progress))));

  c10::impl::GenericDict state = int_dict();
  for (int64_t p = 0; p < 2; ++p) {
    L::StateDict s = L::make_state_dict();
    s.insert("step", at::scalar_tensor(5.0, at::kFloat));
    s.insert("exp_avg", seeded({3}, 10 + p));
    s.insert("exp_avg_sq", seeded({3}, 20 + p).abs());
    state.insert(p, s);
  }
  L::StateDict group = L::make_state_dict();
  if (floats) {
    group.insert("lr", 0.001);
    group.insert("betas", tuple_of({0.9, 0.999}));
  }
  group.insert("amsgrad", false);
  group.insert("foreach", c10::IValue());
  group.insert("params", list_of({int64_t{0}, int64_t{1}}));
  L::StateDict opt = L::make_state_dict();
  opt.insert("state", state);
  opt.insert("param_groups", list_of({group}));
  ckpt.insert("optimizer_states", list_of({opt}));

  L::StateDict dtypes = L::make_state_dict();
  const at::Tensor values = at::tensor({-3.25, 0.0, 7.5, 100.0, -128.0, 127.0}, at::kDouble);
  for (at::ScalarType t : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16, at::kLong, at::kInt,
                           at::kShort, at::kChar}) {
    dtypes.insert(dtype_name(t), values.to(t).reshape({2, 3}));
  }
  dtypes.insert("uint8", at::tensor({0, 1, 255}, at::kInt).to(at::kByte));
  dtypes.insert("bool", at::tensor({1, 0, 1}, at::kInt).to(at::kBool));
  ckpt.insert("dtypes", dtypes);

  std::vector<c10::IValue> ints;
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{256}, int64_t{65535},
                    int64_t{65536}, int64_t{INT32_MAX}, int64_t{INT32_MAX} + 1, int64_t{-1},
                    int64_t{-255}, int64_t{-256}, int64_t{INT32_MIN}, int64_t{INT32_MIN} - 1,
                    int64_t{1} << 40, -(int64_t{1} << 40), int64_t{0x7F} << 48, int64_t{0x80} << 48,
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    ints.emplace_back(v);
  }
  ckpt.insert("ints", list_of(ints));
  if (floats) {
    ckpt.insert("floats", list_of({0.0, -0.0, 1.5, 0.1, 1e-300, 5e-324, 1e300,
                                   std::numeric_limits<double>::infinity(),
                                   -std::numeric_limits<double>::infinity(), std::nan("")}));
  }
  ckpt.insert("strings", list_of({std::string(""), std::string("plain"),
                                  std::string("ünïcödé ✓ 日本語 🚀"), std::string("a\nb\"c\\")}));
  ckpt.insert("bools", list_of({true, false}));
  ckpt.insert("none", c10::IValue());
  ckpt.insert(
      "tuples",
      list_of(
          {tuple_of({}), tuple_of({int64_t{1}}), tuple_of({int64_t{1}, std::string("x")}),
           tuple_of({int64_t{1}, int64_t{2}, int64_t{3}}),
           tuple_of({int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, tuple_of({c10::IValue()})})}));
  ckpt.insert("empty_tensor", at::zeros({0, 3}));
  ckpt.insert("scalar_tensor", at::scalar_tensor(2.5, at::kDouble));
  ckpt.insert("requires_grad", at::ones({2}).requires_grad_(true));
  ckpt.insert("expanded", at::arange(2, at::kFloat).expand({3, 2}));
  std::vector<c10::IValue> many;
  for (int64_t i = 0; i < 2500; ++i) many.emplace_back(i);  // APPENDS batches of 1000
  ckpt.insert("many", list_of(many));
  L::StateDict empty_dict = L::make_state_dict();
  ckpt.insert("empty_dict", empty_dict);
  ckpt.insert("one_item", nested("a", nested("b", nested("c", int64_t{1}))));
  return ckpt;
}

// A small checkpoint with one of each kind, for fuzzing its pickle.
L::StateDict compact_checkpoint() {
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{3});
  ckpt.insert("global_step", int64_t{1} << 40);
  const at::Tensor base = at::arange(6, at::kFloat).reshape({2, 3});
  L::StateDict sd = L::make_state_dict();
  sd.insert("w", base);
  sd.insert("wt", base.t());
  sd.insert("b", at::ones({2}, at::kHalf));
  ckpt.insert("state_dict", sd);
  c10::impl::GenericDict state = int_dict();
  state.insert(int64_t{0}, nested("step", 1.5));
  ckpt.insert("state", state);
  ckpt.insert("mix", list_of({std::string("\xc3\xbc"), true, c10::IValue(),
                              tuple_of({int64_t{-1}, 0.25, int64_t{70000}})}));
  return ckpt;
}

// Loads `path`; a failure that is not lightning::Error is a test failure.
enum class LoadOutcome { kLoaded, kError, kOther };
LoadOutcome try_load(const std::string& path, std::string* message = nullptr) {
  try {
    L::load_checkpoint_file(path);
    return LoadOutcome::kLoaded;
  } catch (const L::Error& e) {
    if (message) *message = e.what();
    return LoadOutcome::kError;
  } catch (const std::exception& e) {
    if (message) *message = e.what();
    return LoadOutcome::kOther;
  }
}

// ------------------------------------------------------------ pickles --

std::string le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}
std::string uni(const std::string& s) { return "X" + le32(static_cast<uint32_t>(s.size())) + s; }

// A checkpoint file whose data.pkl is `pickle` (plus optional records).
std::string pickle_file(const TempDir& dir, const std::string& name, const std::string& pickle,
                        std::vector<std::pair<std::string, std::string>> extra = {}) {
  const std::string path = dir.file(name);
  extra.insert(extra.begin(), {"data.pkl", pickle});
  write_archive(path, extra);
  return path;
}

}  // namespace

// ===================================================== C++ -> Python ==

TEST(CheckpointPython, TorchLoadReadsWhatWeWrite) {
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  const std::string path = dir.file("rich.ckpt");
  const L::StateDict ckpt = rich_checkpoint(/*floats=*/true);
  L::save_checkpoint_file(ckpt, path);

  const CommandResult dump = tool("dump " + shell_quote(path));
  ASSERT_EQ(dump.status, 0) << dump.err;
  EXPECT_TRUE(same_values(dump.out, canonical(ckpt)));

  const CommandResult check = tool("check-cpp " + shell_quote(path));
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_THAT(check.out, ::testing::HasSubstr("check-cpp ok"));
}

TEST(CheckpointPython, PickleReferencesOnlyAllowListedGlobals) {
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  const std::string path = dir.file("rich.ckpt");
  L::save_checkpoint_file(rich_checkpoint(true), path);
  const CommandResult r = tool("globals " + shell_quote(path));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::set<std::string> allowed = {
      "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
      "torch.FloatStorage",      "torch.DoubleStorage",
      "torch.HalfStorage",       "torch.BFloat16Storage",
      "torch.LongStorage",       "torch.IntStorage",
      "torch.ShortStorage",      "torch.CharStorage",
      "torch.ByteStorage",       "torch.BoolStorage"};
  std::istringstream lines(r.out);
  std::set<std::string> seen;
  for (std::string g; std::getline(lines, g);) {
    EXPECT_TRUE(allowed.count(g) == 1) << "data.pkl references the global " << g
                                       << ", which torch.load(weights_only=True) rejects";
    seen.insert(g);
  }
  EXPECT_EQ(seen.count("torch._utils._rebuild_tensor_v2"), 1u);
  EXPECT_EQ(seen.count("collections.OrderedDict"), 1u);
  EXPECT_EQ(seen.size(), allowed.size()) << "every dtype's storage class should appear";
}

TEST(CheckpointPython, WeightsOnlyLoadReadsAFloatFreeCheckpoint) {
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  const std::string path = dir.file("weights.ckpt");
  const L::StateDict ckpt = rich_checkpoint(/*floats=*/false);
  L::save_checkpoint_file(ckpt, path);
  const CommandResult r = tool("dump " + shell_quote(path) + " --weights-only");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_values(r.out, canonical(ckpt)));
}

// ===================================================== Python -> C++ ==

class TorchSaveProtocol : public ::testing::TestWithParam<int> {};

TEST_P(TorchSaveProtocol, ReadsLightningCheckpointsWrittenByPython) {
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  const std::string path = dir.file("python.ckpt");
  const CommandResult made = tool("make " + shell_quote(path) + " " + std::to_string(GetParam()));
  ASSERT_EQ(made.status, 0) << made.err;
  const std::string expected = read_bytes(path + ".dump");
  ASSERT_FALSE(expected.empty());

  const L::StateDict ckpt = L::load_checkpoint_file(path);
  EXPECT_TRUE(same_values(canonical(ckpt), expected));

  // The Python objects are placeholders with their names, found with their paths.
  const L::StateDict extras = ckpt.at("extras").toGenericDict();
  const auto name = [&](const char* key) { return L::python_object_name(extras.at(key)); };
  EXPECT_EQ(name("optimizer_class"), "torch.optim.adam.Adam");
  EXPECT_EQ(name("bound_method"), "__main__.CustomThing.method");
  EXPECT_EQ(name("partial"), "functools.partial");
  EXPECT_EQ(name("custom"), "__main__.CustomThing");
  EXPECT_EQ(name("device"), "torch.device");
  EXPECT_EQ(name("tuple_keys"), "builtins.dict");
  EXPECT_FALSE(L::is_python_object(extras.at("counter")));
  // The first Python object in the file: torch 1.13's OneCycleLR keeps its
  // annealing function in its state; 2.x keeps only the function's name (a
  // string), so there the first one is an int too big for 64 bits.
  const bool scheduler_keeps_function =
      ckpt.at("lr_schedulers").toListRef()[0].toGenericDict().contains("anneal_func");
  EXPECT_EQ(L::find_python_object(ckpt),
            scheduler_keeps_function
                ? "lr_schedulers/0/anneal_func: torch.optim.lr_scheduler.OneCycleLR._annealing_cos"
                : "extras/bigints/0: builtins.int");
  EXPECT_EQ(L::find_python_object(extras.at("optimizer_class"), "x"), "x: torch.optim.adam.Adam");
  EXPECT_EQ(L::find_python_object(ckpt.at("state_dict"), "state_dict"), std::nullopt);
  EXPECT_EQ(L::find_python_object(ckpt.at("optimizer_states")), std::nullopt);
  EXPECT_EQ(L::find_python_object(ckpt.at("lr_schedulers").toListRef()[1]), std::nullopt);

  // Placeholders keep what built them (here the instance's __dict__).
  const c10::IValue state = extras.at("custom").toObjectRef().getAttr("state");
  ASSERT_TRUE(state.isGenericDict());
  EXPECT_EQ(state.toGenericDict().at("n").toInt(), 5);

  // Views and shared storages stay views into one storage.
  const at::Tensor a = extras.at("shared_a").toTensor();
  const at::Tensor b = extras.at("shared_b").toTensor();
  const at::Tensor again = extras.at("shared_again").toTensor();
  EXPECT_TRUE(a.storage().is_alias_of(b.storage()));
  EXPECT_TRUE(again.is_same(a)) << "the same Python tensor twice is one tensor";
  EXPECT_EQ(b.storage_offset(), 3);
  // The int-keyed optimizer state keeps int keys.
  const auto opt_state =
      ckpt.at("optimizer_states").toListRef()[0].toGenericDict().at("state").toGenericDict();
  EXPECT_EQ(opt_state.keyType()->kind(), c10::TypeKind::IntType);
  EXPECT_TRUE(opt_state.contains(int64_t{0}));
}

TEST_P(TorchSaveProtocol, PythonReadsWhatWeResaveFromAPythonCheckpoint) {
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  const std::string path = dir.file("python.ckpt");
  const CommandResult made = tool("make " + shell_quote(path) + " " + std::to_string(GetParam()));
  ASSERT_EQ(made.status, 0) << made.err;
  L::StateDict ckpt = L::load_checkpoint_file(path);
  // Placeholders cannot be saved: saving says where the first one is (which
  // one that is depends on the torch version: ReadsLightningCheckpointsWrittenByPython).
  const std::optional<std::string> first = L::find_python_object(ckpt);
  ASSERT_TRUE(first.has_value());
  EXPECT_LIGHTNING_ERROR(
      L::save_checkpoint_file(ckpt, dir.file("again.ckpt")),
      "the value at \"" + first->substr(0, first->find(':')) + "\" is a placeholder");
  ASSERT_EQ(ckpt.erase("lr_schedulers"), 1u);
  ASSERT_EQ(ckpt.erase("extras"), 1u);
  ASSERT_EQ(L::find_python_object(ckpt), std::nullopt);
  const std::string again = dir.file("again.ckpt");
  L::save_checkpoint_file(ckpt, again);
  const CommandResult dump = tool("dump " + shell_quote(again));
  ASSERT_EQ(dump.status, 0) << dump.err;
  EXPECT_TRUE(same_values(dump.out, canonical(ckpt)));
}

INSTANTIATE_TEST_SUITE_P(Protocols, TorchSaveProtocol, ::testing::Values(2, 3, 4, 5),
                         [](const auto& info) { return "protocol" + std::to_string(info.param); });

TEST(CheckpointPython, ReadsTextPickleProtocols) {
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  for (int protocol : {0, 1}) {
    SCOPED_TRACE("protocol " + std::to_string(protocol));
    const std::string path = dir.file("plain" + std::to_string(protocol) + ".ckpt");
    const CommandResult made =
        tool("make-plain " + shell_quote(path) + " " + std::to_string(protocol));
    ASSERT_EQ(made.status, 0) << made.err;
    const L::StateDict ckpt = L::load_checkpoint_file(path);
    EXPECT_TRUE(same_values(canonical(ckpt), read_bytes(path + ".dump")));
    EXPECT_EQ(L::find_python_object(ckpt), "ints/6: builtins.int");
  }
}

// ========================================================= C++ -> C++ ==

TEST(CheckpointIo, RoundTripKeepsEveryValue) {
  TempDir dir("ckpt_io");
  const std::string path = dir.file("rich.ckpt");
  L::StateDict ckpt = rich_checkpoint(true);
  ckpt.insert("undefined_tensor", at::Tensor());  // written as None
  L::save_checkpoint_file(ckpt, path);
  const L::StateDict back = L::load_checkpoint_file(path);
  EXPECT_TRUE(back.at("undefined_tensor").isNone());
  ASSERT_EQ(ckpt.erase("undefined_tensor"), 1u);
  L::StateDict back_copy = back.copy();
  ASSERT_EQ(back_copy.erase("undefined_tensor"), 1u);
  EXPECT_TRUE(same_values(canonical(back_copy), canonical(ckpt)));

  // Key order, key types, sharing and views survive.
  std::vector<std::string> keys;
  for (const auto& e : back) keys.push_back(e.key().toStringRef());
  EXPECT_EQ(keys.front(), "epoch");
  EXPECT_EQ(keys.back(), "undefined_tensor");
  EXPECT_EQ(back.keyType()->kind(), c10::TypeKind::StringType);
  const auto sd = back.at("state_dict").toGenericDict();
  EXPECT_TRUE(
      sd.at("base").toTensor().storage().is_alias_of(sd.at("transposed").toTensor().storage()));
  EXPECT_FALSE(sd.at("transposed").toTensor().is_contiguous());
  EXPECT_TRUE(
      sd.at("shared_a").toTensor().storage().is_alias_of(sd.at("shared_b").toTensor().storage()));
  const auto state = back.at("optimizer_states").toListRef()[0].toGenericDict().at("state");
  EXPECT_EQ(state.toGenericDict().keyType()->kind(), c10::TypeKind::IntType);
  EXPECT_TRUE(back.at("requires_grad").toTensor().requires_grad());
  EXPECT_EQ(L::find_python_object(back), std::nullopt);

  // Saving what was loaded gives the same records.
  const std::string again = dir.file("again.ckpt");
  L::save_checkpoint_file(back, again);
  EXPECT_EQ(read_archive(again), read_archive(path));
}

TEST(CheckpointIo, OrderedDictKeysOptionOnlyChangesTheDictClass) {
  TempDir dir("ckpt_io");
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("state_dict", nested("w", at::ones({2})));
  ckpt.insert("other", nested("x", int64_t{1}));
  L::SaveCheckpointOptions options;
  options.ordered_dict_keys = {"other"};
  L::save_checkpoint_file(ckpt, dir.file("a.ckpt"), options);
  const std::string pickle = read_archive(dir.file("a.ckpt"))[0].second;
  EXPECT_EQ(read_archive(dir.file("a.ckpt"))[0].first, "data.pkl");
  // One OrderedDict for "other", one per tensor for its backward hooks.
  size_t count = 0;
  for (size_t p = pickle.find("OrderedDict"); p != std::string::npos;
       p = pickle.find("OrderedDict", p + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 2u);
  EXPECT_TRUE(same_values(canonical(L::load_checkpoint_file(dir.file("a.ckpt"))), canonical(ckpt)));
}

TEST(CheckpointIo, ArchiveHasTorchSaveRecords) {
  TempDir dir("ckpt_io");
  L::save_checkpoint_file(rich_checkpoint(true), dir.file("r.ckpt"));
  std::map<std::string, std::string> records;
  for (auto& [name, data] : read_archive(dir.file("r.ckpt"))) records[name] = data;
  EXPECT_EQ(records.at("version"), "3\n");
  EXPECT_EQ(records.at("byteorder"), "little");
  EXPECT_EQ(records.at("data.pkl").substr(0, 2), std::string("\x80\x02", 2));
  EXPECT_EQ(records.at("data.pkl").back(), '.');
  EXPECT_EQ(records.count("data/0"), 1u);
  // Shared storages are written once: base+views, shared_a+shared_b.
  size_t storages = 0;
  for (const auto& [name, data] : records) storages += name.rfind("data/", 0) == 0;
  EXPECT_EQ(storages, 25u);
  // The file is world-readable as far as the umask allows, like torch.save's.
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("r.ckpt").c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

TEST(CheckpointIo, MapLocationMovesTensorsAndKeepsSharing) {
  TempDir dir("ckpt_io");
  const std::string path = dir.file("rich.ckpt");
  const L::StateDict ckpt = rich_checkpoint(true);
  L::save_checkpoint_file(ckpt, path);
  const L::StateDict cpu = L::load_checkpoint_file(path, c10::Device(c10::kCPU));
  EXPECT_TRUE(same_values(canonical(cpu), canonical(ckpt)));
  if (!torch::cuda::is_available()) {
    GTEST_SKIP() << "no CUDA device: map_location=cuda and saving CUDA tensors not checked";
  }
  const L::StateDict gpu = L::load_checkpoint_file(path, c10::Device(c10::kCUDA, 0));
  const auto sd = gpu.at("state_dict").toGenericDict();
  const at::Tensor a = sd.at("shared_a").toTensor(), b = sd.at("shared_b").toTensor();
  EXPECT_TRUE(a.is_cuda());
  EXPECT_TRUE(a.storage().is_alias_of(b.storage()));
  EXPECT_TRUE(same_values(canonical(gpu), canonical(ckpt)));  // the dump copies to CPU

  // CUDA tensors are saved from a CPU copy with location "cuda:0"; they load on the CPU.
  L::StateDict on_gpu = L::make_state_dict();
  const at::Tensor base = at::arange(6, at::kFloat).to(at::kCUDA);
  on_gpu.insert("w", base);
  on_gpu.insert("view", base.narrow(0, 2, 3));
  L::save_checkpoint_file(on_gpu, dir.file("gpu.ckpt"));
  EXPECT_NE(read_bytes(dir.file("gpu.ckpt")).find("cuda:0"), std::string::npos);
  const L::StateDict loaded = L::load_checkpoint_file(dir.file("gpu.ckpt"));
  EXPECT_TRUE(loaded.at("w").toTensor().device().is_cpu());
  EXPECT_TRUE(same_values(canonical(loaded), canonical(on_gpu)));
}

// ========================================================== saving ==

TEST(CheckpointIo, SaveRejectsValuesItCannotWriteAndKeepsThePreviousFile) {
  TempDir dir("ckpt_io");
  const std::string path = dir.file("last.ckpt");
  L::save_checkpoint_file(rich_checkpoint(false), path);
  const std::string before = read_bytes(path);

  const auto expect_rejected = [&](const std::string& key_path, c10::IValue value,
                                   const std::string& message, std::string reported = "") {
    if (reported.empty()) reported = key_path + "\"";
    SCOPED_TRACE(key_path);
    // Build {"a": {"b": ... value}} following key_path.
    std::vector<std::string> keys;
    std::stringstream ss(key_path);
    for (std::string k; std::getline(ss, k, '/');) keys.push_back(k);
    c10::IValue v = std::move(value);
    for (size_t i = keys.size(); i-- > 0;) v = nested(keys[i], v);
    L::StateDict ckpt = v.toGenericDict();
    ckpt.insert("epoch", int64_t{1});
    const std::string error = L::testing::error_of([&] { L::save_checkpoint_file(ckpt, path); });
    EXPECT_THAT(error, ::testing::HasSubstr(path));
    EXPECT_THAT(error, ::testing::HasSubstr("\"" + reported));
    EXPECT_THAT(error, ::testing::HasSubstr(message));
    EXPECT_EQ(read_bytes(path), before) << "the previous checkpoint was changed";
    EXPECT_EQ(folder_entries(dir.str()), std::vector<std::string>{"last.ckpt"})
        << "a temporary file was left behind";
  };
  expect_rejected("state_dict/z", at::ones({2}, at::kComplexFloat), "ComplexFloat");
  expect_rejected("callbacks/ModelCheckpoint/x", c10::IValue(c10::Device(c10::kCPU)), "Device");
  expect_rejected("name", std::string("bad \xff utf-8"), "UTF-8");
  expect_rejected("sparse", at::ones({2, 2}).to_sparse(), "strided");
  expect_rejected("q", at::quantize_per_tensor(at::ones({2}), 0.1, 0, at::kQInt8), "quantized");
  {
    c10::IValue deep = int64_t{1};
    for (int i = 0; i < 1200; ++i) deep = list_of({deep});
    expect_rejected("deep", deep, "nested more than 1000", "deep/0/0/0/");
  }
  {
    const at::Tensor ints = at::zeros({4}, at::kInt);
    L::StateDict two = L::make_state_dict();
    two.insert("i", ints);
    two.insert("f", ints.view(at::kFloat));
    expect_rejected("pair", two, "shares its storage", "pair/f\"");
  }
  {
    c10::impl::GenericDict float_keys(c10::FloatType::get(), c10::AnyType::get());
    float_keys.insert(0.5, int64_t{1});
    L::StateDict ckpt = L::make_state_dict();
    ckpt.insert("fk", float_keys);
    L::save_checkpoint_file(ckpt, dir.file("fk.ckpt"));  // float keys are fine in Python
    EXPECT_TRUE(
        same_values(canonical(L::load_checkpoint_file(dir.file("fk.ckpt"))), canonical(ckpt)));
    fs::remove(dir.file("fk.ckpt"));
  }
}

TEST(CheckpointIo, SaveCreatesMissingFoldersAndReplacesAtomically) {
  TempDir dir("ckpt_io");
  const std::string path = dir.file("a/b/c/last.ckpt");
  L::StateDict first = L::make_state_dict();
  first.insert("epoch", int64_t{1});
  L::save_checkpoint_file(first, path);
  L::StateDict second = L::make_state_dict();
  second.insert("epoch", int64_t{2});
  L::save_checkpoint_file(second, path);
  EXPECT_EQ(L::load_checkpoint_file(path).at("epoch").toInt(), 2);
  EXPECT_EQ(folder_entries(dir.file("a/b/c")), std::vector<std::string>{"last.ckpt"});

  // A relative path with no folder part.
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path());
  L::save_checkpoint_file(first, "here.ckpt");
  fs::current_path(old_cwd);
  EXPECT_EQ(L::load_checkpoint_file(dir.file("here.ckpt")).at("epoch").toInt(), 1);
}

TEST(CheckpointIo, SaveIntoAnUnwritableFolderFailsNamingThePath) {
  TempDir dir("ckpt_io");
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{1});

  // The parent "folder" is a regular file (fails for root too).
  write_bytes(dir.file("file"), "x");
  const std::string under_file = dir.file("file/last.ckpt");
  EXPECT_LIGHTNING_ERROR(L::save_checkpoint_file(ckpt, under_file), under_file);
  EXPECT_LIGHTNING_ERROR(L::save_checkpoint_file(ckpt, dir.file("file/sub/last.ckpt")),
                         dir.file("file/sub/last.ckpt"));
  EXPECT_LIGHTNING_ERROR(L::save_checkpoint_file(ckpt, dir.str() + "/"), "names a folder");
  // A name as long as the folder allows still gets a temporary file.
  const std::string long_name = dir.file(std::string(250, 'n'));
  L::save_checkpoint_file(ckpt, long_name);
  fs::remove(long_name);
  // The target is a folder.
  fs::create_directory(dir.file("folder"));
  EXPECT_LIGHTNING_ERROR(L::save_checkpoint_file(ckpt, dir.file("folder")), dir.file("folder"));
  EXPECT_EQ(folder_entries(dir.str()), (std::vector<std::string>{"file", "folder"}));

  // A read-only folder (root ignores permissions: then only check it works).
  const std::string ro = dir.file("ro");
  fs::create_directory(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  const bool enforced = ::access(ro.c_str(), W_OK) != 0;
  const std::string target = ro + "/last.ckpt";
  if (enforced) {
    EXPECT_LIGHTNING_ERROR(L::save_checkpoint_file(ckpt, target), target);
    EXPECT_TRUE(folder_entries(ro).empty());
  } else {
    L::save_checkpoint_file(ckpt, target);
  }
  fs::permissions(ro, fs::perms::owner_all);
}

TEST(CheckpointIo, WriteErrorMidwayKeepsThePreviousFile) {
  TempDir dir("ckpt_io");
  const std::string path = dir.file("last.ckpt");
  L::StateDict small = L::make_state_dict();
  small.insert("epoch", int64_t{1});
  L::save_checkpoint_file(small, path);
  const std::string before = read_bytes(path);

  L::StateDict big = L::make_state_dict();
  big.insert("w", at::ones({1 << 18}));  // 1 MiB
  // Files may not grow past 64 KiB: write(2) fails with EFBIG partway.
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = old;
  limited.rlim_cur = 64 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  const std::string error = L::testing::error_of([&] { L::save_checkpoint_file(big, path); });
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);

  EXPECT_THAT(error, ::testing::HasSubstr(path));
  EXPECT_THAT(error, ::testing::HasSubstr(std::strerror(EFBIG)));
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(folder_entries(dir.str()), std::vector<std::string>{"last.ckpt"});
}

// ========================================================= loading ==

TEST(CheckpointIo, LoadRejectsFilesThatAreNotCheckpoints) {
  TempDir dir("ckpt_io");
  const auto expect_error = [&](const std::string& path, const std::string& message) {
    SCOPED_TRACE(path);
    const std::string error = L::testing::error_of([&] { L::load_checkpoint_file(path); });
    EXPECT_THAT(error, ::testing::HasSubstr("\"" + path + "\""));
    EXPECT_THAT(error, ::testing::HasSubstr(message));
  };
  expect_error(dir.file("missing.ckpt"), "does not exist");
  expect_error(dir.str(), "folder");
  write_bytes(dir.file("empty.ckpt"), "");
  expect_error(dir.file("empty.ckpt"), "empty");
  write_bytes(dir.file("text.ckpt"), "epoch: 3\n");
  expect_error(dir.file("text.ckpt"), "not a torch.save zip archive");
  write_bytes(dir.file("legacy.ckpt"), std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20", 10));
  expect_error(dir.file("legacy.ckpt"), "legacy");
  write_archive(dir.file("nodata.ckpt"), {{"other.txt", "hi"}});
  expect_error(dir.file("nodata.ckpt"), "no data.pkl");
  write_archive(dir.file("script.pt"), {{"data.pkl", "\x80\x02}q\x00."s}, {"constants.pkl", "x"}});
  expect_error(dir.file("script.pt"), "TorchScript");
  expect_error(pickle_file(dir, "list.ckpt", "\x80\x02]q\x00."s), "not a dict");
  expect_error(pickle_file(dir, "object.ckpt",
                           "\x80\x02"
                           "cmy.mod\nThing\n)\x81."),
               "Python object (my.mod.Thing)");

  // A tensor whose storage record is missing or too short.
  const std::string tensor_pickle =
      std::string("\x80\x02}") + uni("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" +
      uni("storage") + "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") +
      "K\x04tQK\x00K\x04\x85K\x01\x85\x89"s + "ccollections\nOrderedDict\n)RtRs.";
  const std::string ok_data(16, '\0');
  const std::string ok = pickle_file(dir, "tensor.ckpt", tensor_pickle, {{"data/0", ok_data}});
  EXPECT_EQ(L::load_checkpoint_file(ok).at("w").toTensor().numel(), 4);
  expect_error(pickle_file(dir, "norecord.ckpt", tensor_pickle), "no data/0 record");
  expect_error(pickle_file(dir, "short.ckpt", tensor_pickle, {{"data/0", "abc"}}),
               "holds 3 bytes but its storage needs 16");
  expect_error(
      pickle_file(dir, "big.ckpt", tensor_pickle, {{"data/0", ok_data}, {"byteorder", "big"}}),
      "byte order");
}

TEST(CheckpointIo, MalformedPicklesFailWithTheByteOffset) {
  TempDir dir("ckpt_io");
  const auto expect_error = [&](const std::string& name, const std::string& pickle,
                                const std::string& message,
                                std::vector<std::pair<std::string, std::string>> extra = {}) {
    SCOPED_TRACE(name);
    const std::string path = pickle_file(dir, name, pickle, extra);
    const std::string error = L::testing::error_of([&] { L::load_checkpoint_file(path); });
    EXPECT_THAT(error, ::testing::HasSubstr(path));
    EXPECT_THAT(error, ::testing::HasSubstr("data.pkl is malformed at byte"));
    EXPECT_THAT(error, ::testing::HasSubstr(message));
  };
  expect_error("underflow",
               "\x80\x02"
               "a.",
               "stack underflow");
  expect_error("memo", "\x80\x02h\x05.", "memo entry 5");
  expect_error("opcode", "\x80\x02\xff.", "unknown opcode");
  expect_error("nostop", "\x80\x02}", "before its STOP");
  expect_error("proto", "\x80\x09}.", "protocol 9");
  expect_error("length", "\x80\x02X\xff\xff\xff\x7f", "needs 2147483647 bytes");
  expect_error("self_list",
               "\x80\x02]q\x00h\x00"
               "a."s,
               "self-referencing");
  expect_error("dup_list", "\x80\x02]2a.", "self-referencing");
  expect_error("mark", "\x80\x02}(K\x01u.", "odd number");
  expect_error("nomark", "\x80\x02}u.", "no MARK");
  expect_error("call_int", "\x80\x02K\x01)R.", "calls a Int");
  expect_error("persid", "\x80\x02K\x01Q.", "persistent id");
  expect_error("view",
               std::string("\x80\x02}") + uni("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" +
                   uni("storage") + "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") +
                   "K\x04tQK\x02K\x04\x85K\x01\x85\x89)tRs.",
               "larger than its storage", {{"data/0", std::string(16, '\0')}});
  std::string deep = "\x80\x02";
  for (int i = 0; i < 1100; ++i) deep += "]";
  for (int i = 0; i < 1099; ++i) deep += "a";
  expect_error("deep", deep + ".", "nest more than 1000");
}

TEST(CheckpointIo, UnusualButValidPickles) {
  TempDir dir("ckpt_io");
  // A dict with a None key (no IValue dict holds it) becomes a placeholder.
  const L::StateDict none_key = L::load_checkpoint_file(
      pickle_file(dir, "none_key.ckpt", "\x80\x02}" + uni("d") + "}(NK\x01K\x02K\x03us."));
  EXPECT_EQ(L::python_object_name(none_key.at("d")), "builtins.dict");
  // Memo sharing: the same list twice is one list.
  const L::StateDict shared = L::load_checkpoint_file(pickle_file(dir, "shared.ckpt",
                                                                  "\x80\x02}(" + uni("a") +
                                                                      "]q\x01K\x07"
                                                                      "a" +
                                                                      uni("b") + "h\x01u."));
  EXPECT_TRUE(shared.at("a").is(shared.at("b")));
  // An object whose state refers to itself keeps no state (no cycle).
  const L::StateDict self = L::load_checkpoint_file(
      pickle_file(dir, "self.ckpt",
                  "\x80\x02}" + uni("o") + "cm\nC\nq\x01)\x81q\x02}" + uni("me") + "h\x02sbs."));
  EXPECT_EQ(L::python_object_name(self.at("o")), "m.C");
  EXPECT_EQ(L::find_python_object(self), "o: m.C");
  EXPECT_LIGHTNING_ERROR(L::python_object_name(self), "not a Python-object placeholder");
  EXPECT_FALSE(L::is_python_object(c10::IValue(int64_t{1})));
  // Python 2 names of protocol 0-2 pickles, as Python 3 maps them.
  const L::StateDict py2 = L::load_checkpoint_file(
      pickle_file(dir, "py2.ckpt",
                  "\x80\x02}(" + uni("r") + "c__builtin__\nxrange\nK\x03\x85R" + uni("s") +
                      "c__builtin__\nset\n]K\x01"
                      "a\x85Ru."));
  EXPECT_EQ(L::python_object_name(py2.at("r")), "builtins.range");
  ASSERT_TRUE(py2.at("s").isList());
  EXPECT_EQ(py2.at("s").toListRef().size(), 1u);
  // Text opcodes and protocol 4 framing.
  const L::StateDict text = L::load_checkpoint_file(pickle_file(
      dir, "text.ckpt",
      "(dp0\nVk\\u00e9y\np1\nI12345678901\nsS'b\\x41\\n'\np2\nL-99999999999999999999999L\nsI01\n"
      "F0.25\ns."));
  EXPECT_EQ(text.at("k\xc3\xa9y").toInt(), 12345678901);
  EXPECT_EQ(L::find_python_object(text), "bA\n: builtins.int");
  const L::StateDict framed = L::load_checkpoint_file(
      pickle_file(dir, "framed.ckpt",
                  "\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01k\x94K\x05s."s));
  EXPECT_EQ(framed.at("k").toInt(), 5);
}

// Every truncation and many byte flips of a real checkpoint: lightning::Error
// or a successful load, never a crash or another exception.
TEST(CheckpointIo, TruncatedAndCorruptedFilesNeverCrash) {
  TempDir dir("ckpt_io");
  const std::string good = dir.file("good.ckpt");
  L::StateDict ckpt = rich_checkpoint(true);
  ASSERT_EQ(ckpt.erase("many"), 1u);
  L::save_checkpoint_file(ckpt, good);
  const std::string bytes = read_bytes(good);
  const std::string path = dir.file("bad.ckpt");

  int errors = 0;
  for (size_t n = 0; n < bytes.size(); n += (n < 512 || bytes.size() - n < 512) ? 1 : 11) {
    write_bytes(path, bytes.substr(0, n));
    std::string message;
    const LoadOutcome outcome = try_load(path, &message);
    ASSERT_NE(outcome, LoadOutcome::kOther) << "truncated to " << n << ": " << message;
    EXPECT_EQ(outcome, LoadOutcome::kError) << "truncated to " << n << " bytes loaded";
    EXPECT_THAT(message, ::testing::HasSubstr(path));
    errors += outcome == LoadOutcome::kError;
  }
  int loaded = 0;
  for (size_t i = 0; i < bytes.size(); i += 7) {
    for (unsigned char mask : {0xFF, 0x01}) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      write_bytes(path, flipped);
      std::string message;
      const LoadOutcome outcome = try_load(path, &message);
      ASSERT_NE(outcome, LoadOutcome::kOther)
          << "byte " << i << " ^ " << int(mask) << ": " << message;
      if (outcome == LoadOutcome::kError) {
        EXPECT_THAT(message, ::testing::HasSubstr(path));
      }
      loaded += outcome == LoadOutcome::kLoaded;
    }
  }
  EXPECT_GT(errors, 0);
  std::cout << "[ fuzz ] " << bytes.size() << "-byte file: " << loaded
            << " byte flips still loaded (padding, names, timestamps)\n";
}

// The same for data.pkl itself, repacked with valid CRCs so that the
// unpickler (not the zip reader) sees every mutation.
TEST(CheckpointIo, MutatedPicklesNeverCrash) {
  const std::string problem = python_problem();
  TempDir dir("ckpt_io");
  std::vector<std::string> sources;
  L::save_checkpoint_file(compact_checkpoint(), dir.file("cpp.ckpt"));
  sources.push_back(dir.file("cpp.ckpt"));
  if (problem.empty()) {  // also a pickle written by Python (memo, many globals)
    const CommandResult made = tool("make-plain " + shell_quote(dir.file("py.ckpt")) + " 2");
    ASSERT_EQ(made.status, 0) << made.err;
    sources.push_back(dir.file("py.ckpt"));
  }
  const std::string path = dir.file("mutated.ckpt");
  for (const std::string& source : sources) {
    auto records = read_archive(source);
    size_t pkl = 0;
    while (records[pkl].first != "data.pkl") ++pkl;
    const std::string pickle = records[pkl].second;
    std::vector<std::string> variants;
    for (size_t n = 0; n < pickle.size(); ++n) variants.push_back(pickle.substr(0, n));
    static constexpr unsigned char kValues[] = {0x00, 0xFF, 0x80, 0x7F, 'K', 'X', 'h', 'q', ']',
                                                '}',  't',  'R',  'Q',  'a', 's', '(', '.', 'b'};
    constexpr size_t kCount = sizeof(kValues);
    for (size_t i = 0; i < pickle.size(); ++i) {
      for (size_t j = 0; j < 4; ++j) {
        const unsigned char v = kValues[(i * 5 + j * 7) % kCount];
        if (static_cast<unsigned char>(pickle[i]) == v) continue;
        std::string m = pickle;
        m[i] = static_cast<char>(v);
        variants.push_back(m);
      }
      std::string dropped = pickle;
      dropped.erase(i, 1);
      variants.push_back(dropped);
    }
    int loaded = 0;
    for (size_t k = 0; k < variants.size(); ++k) {
      records[pkl].second = variants[k];
      write_archive(path, records);
      std::string message;
      const LoadOutcome outcome = try_load(path, &message);
      ASSERT_NE(outcome, LoadOutcome::kOther) << source << " variant " << k << ": " << message;
      loaded += outcome == LoadOutcome::kLoaded;
    }
    std::cout << "[ fuzz ] " << source << ": " << variants.size() << " pickles, " << loaded
              << " loaded\n";
  }
}

// ================================================= integrity on load ==

namespace {

uint16_t le16_at(const std::string& bytes, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(bytes[at]) |
                               static_cast<unsigned char>(bytes[at + 1]) << 8);
}

// Where the data of the zip record "<prefix>/<name>" starts in `bytes`
// (found through its local header), and that full name.
std::pair<size_t, std::string> record_data(const std::string& bytes, const std::string& name) {
  const std::string signature = "PK\x03\x04"s;
  for (size_t p = bytes.find(signature); p != std::string::npos && p + 30 <= bytes.size();
       p = bytes.find(signature, p + 1)) {
    const size_t n = le16_at(bytes, p + 26);
    const std::string full = bytes.substr(p + 30, n);
    const std::string suffix = "/" + name;
    if (full.size() > suffix.size() &&
        full.compare(full.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return {p + 30 + n + le16_at(bytes, p + 28), full};
    }
  }
  ADD_FAILURE() << "no record " << name;
  return {0, ""};
}

std::string le16(uint16_t v) { return le32(v).substr(0, 2); }
std::string le64(uint64_t v) { return le32(static_cast<uint32_t>(v)) + le32(v >> 32); }

// A zip archive of stored records under "archive/", written byte by byte so
// that the test controls every header. The headers of record `liar` claim
// `claim` bytes (in zip64 fields when it needs 64 bits).
std::string hand_zip(const std::vector<std::pair<std::string, std::string>>& records,
                     const std::string& liar = "", uint64_t claim = 0) {
  std::string file;
  std::string directory;
  for (const auto& [name, data] : records) {
    const std::string full = "archive/" + name;
    const uint32_t crc = L::detail::crc32_portable(0, data.data(), data.size());
    const bool lies = name == liar;
    const uint64_t size = lies ? claim : data.size();
    const bool zip64 = size >= 0xFFFFFFFFu;
    const std::string sizes =
        zip64 ? le32(0xFFFFFFFFu) + le32(0xFFFFFFFFu)
              : le32(static_cast<uint32_t>(size)) + le32(static_cast<uint32_t>(size));
    const std::string extra = zip64 ? le16(1) + le16(16) + le64(size) + le64(size) : "";
    const uint32_t offset = static_cast<uint32_t>(file.size());
    file += "PK\x03\x04"s + le16(45) + le16(0) + le16(0) + le32(0) + le32(crc) + sizes +
            le16(static_cast<uint16_t>(full.size())) + le16(static_cast<uint16_t>(extra.size())) +
            full + extra + data;
    directory += "PK\x01\x02"s + le16(45) + le16(45) + le16(0) + le16(0) + le32(0) + le32(crc) +
                 sizes + le16(static_cast<uint16_t>(full.size())) +
                 le16(static_cast<uint16_t>(extra.size())) + le16(0) + le16(0) + le16(0) + le32(0) +
                 le32(offset) + full + extra;
  }
  const uint32_t directory_offset = static_cast<uint32_t>(file.size());
  const uint16_t count = static_cast<uint16_t>(records.size());
  return file + directory + "PK\x05\x06"s + le16(0) + le16(0) + le16(count) + le16(count) +
         le32(static_cast<uint32_t>(directory.size())) + le32(directory_offset) + le16(0);
}

// {"w": a tensor of 4 floats in storage "0"}.
const std::string kTensorPickle =
    std::string("\x80\x02}") + uni("w") + "ctorch._utils\n_rebuild_tensor_v2\n((" + uni("storage") +
    "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") + "K\x04tQK\x00K\x04\x85K\x01\x85\x89"s +
    "ccollections\nOrderedDict\n)RtRs.";

// Restores CRC verification when a test that turned it off ends.
struct CrcCheckOff {
  CrcCheckOff() { L::detail::set_verify_record_crc(false); }
  ~CrcCheckOff() { L::detail::set_verify_record_crc(true); }
};

}  // namespace

TEST(CheckpointIntegrity, Crc32MatchesZlibAndTheTableDrivenCode) {
  const std::string check = "123456789";
  EXPECT_EQ(L::detail::crc32(0, check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(L::detail::crc32_portable(0, check.data(), check.size()), 0xCBF43926u);
  EXPECT_EQ(L::detail::crc32(0, nullptr, 0), 0u);

  std::string buffer((1 << 20) + 77, '\0');
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (char& c : buffer) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    c = static_cast<char>(state >> 56);
  }
  // Every length around the vector code's blocks, at every alignment.
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t n = 0; n < 300; ++n) {
      ASSERT_EQ(L::detail::crc32(0, buffer.data() + offset, n),
                L::detail::crc32_portable(0, buffer.data() + offset, n))
          << "offset " << offset << ", " << n << " bytes";
    }
  }
  // Continuing from a CRC is the same as one pass.
  const uint32_t whole = L::detail::crc32(0, buffer.data(), buffer.size());
  EXPECT_EQ(whole, L::detail::crc32_portable(0, buffer.data(), buffer.size()));
  for (size_t cut : {size_t{1}, size_t{64}, size_t{1000}, size_t{1} << 19}) {
    const uint32_t first = L::detail::crc32(0, buffer.data(), cut);
    EXPECT_EQ(L::detail::crc32(first, buffer.data() + cut, buffer.size() - cut), whole) << cut;
  }

  // The same values as Python's zlib.crc32.
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  write_bytes(dir.file("buffer"), buffer);
  const std::vector<size_t> lengths = {0, 1, 15, 16, 63, 64, 65, 1000, 4096 + 3, buffer.size()};
  std::string args;
  std::string expected;
  for (size_t n : lengths) {
    args += " " + std::to_string(n);
    expected += std::to_string(L::detail::crc32(0, buffer.data(), n)) + "\n";
  }
  const CommandResult r =
      run_command(std::string(kPython) +
                  " -c 'import sys, zlib; b = open(sys.argv[1], \"rb\").read(); "
                  "[print(zlib.crc32(b[:int(n)])) for n in sys.argv[2:]]' " +
                  shell_quote(dir.file("buffer")) + args);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, expected);
}

TEST(CheckpointIntegrity, AFlippedBitInATensorIsAnErrorNamingTheRecord) {
  TempDir dir("ckpt_io");
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{3});
  ckpt.insert("w", at::arange(1000, at::kFloat));
  const std::string path = dir.file("w.ckpt");
  L::save_checkpoint_file(ckpt, path);
  std::string bytes = read_bytes(path);
  const auto [at, name] = record_data(bytes, "data/0");
  EXPECT_EQ(name, "archive/data/0");
  // One bit of w[500]: 500.0f becomes another float, still a valid file.
  bytes[at + 500 * 4 + 1] ^= 0x10;
  write_bytes(path, bytes);

  const std::string error = L::testing::error_of([&] { L::load_checkpoint_file(path); });
  EXPECT_THAT(error, ::testing::HasSubstr("cannot load checkpoint \"" + path + "\""));
  EXPECT_THAT(error, ::testing::HasSubstr("record archive/data/0 fails its CRC-32 check"));
  EXPECT_THAT(error, ::testing::HasSubstr("its 4000 bytes give 0x"));
  EXPECT_THAT(error, ::testing::HasSubstr("load an earlier checkpoint"));

  // Without the check the same file loads, with a different weight.
  CrcCheckOff off;
  const at::Tensor w = L::load_checkpoint_file(path).at("w").toTensor();
  EXPECT_NE(w[500].item<float>(), 500.0f);
  EXPECT_EQ(w[499].item<float>(), 499.0f);
}

// Storages of several MiB are checked in pieces on a helper thread while
// the next ones are read: a bit flipped deep inside the first of them is
// still reported, naming that record.
TEST(CheckpointIntegrity, AFlippedBitInALargeTensorIsAnErrorNamingTheRecord) {
  TempDir dir("ckpt_io");
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("big", at::arange(3 << 20, at::kFloat));  // 12 MiB, storage "0"
  ckpt.insert("next", at::ones({1 << 20}));             // storage "1"
  const std::string path = dir.file("big.ckpt");
  L::save_checkpoint_file(ckpt, path);
  std::string bytes = read_bytes(path);
  const auto [at, name] = record_data(bytes, "data/0");
  ASSERT_EQ(name, "archive/data/0");
  bytes[at + (9 << 20) + 3] ^= 0x40;
  write_bytes(path, bytes);
  EXPECT_LIGHTNING_ERROR(L::load_checkpoint_file(path),
                         "record archive/data/0 fails its CRC-32 check");
  EXPECT_LIGHTNING_ERROR(L::load_checkpoint_file(path), "its 12582912 bytes give 0x");
}

TEST(CheckpointIntegrity, AFlippedBitInDataPklIsAnError) {
  TempDir dir("ckpt_io");
  L::StateDict ckpt = L::make_state_dict();
  ckpt.insert("epoch", int64_t{3});
  ckpt.insert("w", at::ones({4}));
  const std::string path = dir.file("p.ckpt");
  L::save_checkpoint_file(ckpt, path);
  std::string bytes = read_bytes(path);
  const auto [at, name] = record_data(bytes, "data.pkl");
  const size_t key = bytes.find("epoch", at);
  ASSERT_NE(key, std::string::npos);
  bytes[key] ^= 0x01;  // "epoch" -> "dpoch": still a valid pickle
  write_bytes(path, bytes);

  const std::string error = L::testing::error_of([&] { L::load_checkpoint_file(path); });
  EXPECT_THAT(error, ::testing::HasSubstr("cannot load checkpoint \"" + path + "\""));
  EXPECT_THAT(error, ::testing::HasSubstr("record archive/data.pkl fails its CRC-32 check"));

  CrcCheckOff off;
  EXPECT_TRUE(L::load_checkpoint_file(path).contains("dpoch"));
}

TEST(CheckpointIntegrity, ARecordClaimingMoreThanTheFileFailsBeforeAllocating) {
  TempDir dir("ckpt_io");
  const std::vector<std::pair<std::string, std::string>> records = {
      {"data.pkl", kTensorPickle}, {"data/0", std::string(16, '\0')}, {"version", "3\n"}};
  // The hand-made archive itself is valid.
  write_bytes(dir.file("ok.ckpt"), hand_zip(records));
  EXPECT_EQ(L::load_checkpoint_file(dir.file("ok.ckpt")).at("w").toTensor().numel(), 4);

  const auto expect_refused = [&](const std::string& liar, uint64_t claim) {
    SCOPED_TRACE(liar + " claiming " + std::to_string(claim));
    const std::string path = dir.file("liar.ckpt");
    const std::string bytes = hand_zip(records, liar, claim);
    write_bytes(path, bytes);
    // libtorch's own reader would allocate `claim` bytes first; the message
    // comes from the check of the headers that runs before it.
    const std::string error = L::testing::error_of([&] { L::load_checkpoint_file(path); });
    EXPECT_THAT(error, ::testing::HasSubstr("cannot load checkpoint \"" + path + "\""));
    EXPECT_THAT(error,
                ::testing::HasSubstr("record archive/" + liar + " claims " + std::to_string(claim) +
                                     " bytes, but the whole file "
                                     "has only " +
                                     std::to_string(bytes.size())));
    EXPECT_THAT(error, ::testing::HasSubstr("the file is corrupt"));
  };
  expect_refused("data/0", uint64_t{1} << 40);   // 1 TiB, zip64 fields
  expect_refused("data.pkl", 0xFFFFFF00u);       // 4 GiB in the 32-bit fields
  expect_refused("version", uint64_t{1} << 62);  // read by check_archive_version
}

TEST(CheckpointIntegrity, ValidFilesOfBothWritersPassTheChecks) {
  ASSERT_TRUE(L::detail::verify_record_crc());
  const std::string problem = python_problem();
  ASSERT_TRUE(problem.empty()) << problem;
  TempDir dir("ckpt_io");
  // Ours: Python's zipfile finds every CRC right, and we load it.
  const std::string ours = dir.file("ours.ckpt");
  L::save_checkpoint_file(rich_checkpoint(true), ours);
  const CommandResult tested =
      run_command(std::string(kPython) +
                  " -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).testzip())' " +
                  shell_quote(ours));
  ASSERT_EQ(tested.status, 0) << tested.err;
  EXPECT_EQ(tested.out, "None\n");
  EXPECT_TRUE(
      same_values(canonical(L::load_checkpoint_file(ours)), canonical(rich_checkpoint(true))));

  // Python's torch.save: loads, and a flipped bit in a tensor is caught.
  const std::string theirs = dir.file("theirs.ckpt");
  const CommandResult made = run_command(
      std::string(kPython) +
      " -c 'import sys, torch; torch.save({\"w\": torch.arange(1000, dtype=torch.float32)}, "
      "sys.argv[1])' " +
      shell_quote(theirs));
  ASSERT_EQ(made.status, 0) << made.err;
  EXPECT_TRUE(
      L::load_checkpoint_file(theirs).at("w").toTensor().equal(at::arange(1000, at::kFloat)));
  std::string bytes = read_bytes(theirs);
  const auto [at, name] = record_data(bytes, "data/0");
  bytes[at + 123 * 4] ^= 0x01;
  write_bytes(theirs, bytes);
  EXPECT_LIGHTNING_ERROR(L::load_checkpoint_file(theirs),
                         "record " + name + " fails its CRC-32 check");
}

TEST(CheckpointIntegrity, ArchiveLayoutAndVersionAreChecked) {
  // Zips with correct CRCs written by Python's zipfile, each wrong in one way
  // that libtorch's own reader would have refused.
  TempDir dir;
  const std::string script = R"(
import sys, zipfile
path, version, folder = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
    z.writestr(folder + "data.pkl", b"\x80\x02}q\x00.")
    if version != "-":
        z.writestr(folder + "version", version)
)";
  const auto make = [&](const std::string& name, const std::string& version,
                        const std::string& folder) {
    const std::string path = dir.file(name);
    const auto result = L::testing::run_python("-c", {script, path, version, folder});
    EXPECT_EQ(result.status, 0) << result.describe();
    return path;
  };
  const auto error = [](const std::string& path) {
    return L::testing::error_of([&] { L::load_checkpoint_file(path); });
  };
  EXPECT_EQ(L::load_checkpoint_file(make("ok.ckpt", "3\n", "archive/")).size(), 0u);
  EXPECT_THAT(
      error(make("future.ckpt", "99\n", "archive/")),
      ::testing::HasSubstr("it has file format version 99, but this libtorch reads versions 1 to"));
  EXPECT_THAT(error(make("text.ckpt", "three\n", "archive/")),
              ::testing::HasSubstr(
                  "its version record holds \"three\n\", not a number; the file is corrupt"));
  EXPECT_THAT(
      error(make("noversion.ckpt", "-", "archive/")),
      ::testing::HasSubstr("it is not a torch.save zip archive (it has no version record)"));
  EXPECT_THAT(
      error(make("flat.ckpt", "3\n", "")),
      ::testing::HasSubstr("it is not a torch.save zip archive (its first record, \"data.pkl\", is "
                           "not inside a folder)"));
}
