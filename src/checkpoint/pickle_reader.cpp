// The unpickler behind load_checkpoint_file: reads the `data.pkl` that
// Python's torch.save writes (protocols 1 to 5) into IValues.
//
// Only data is built: dicts (OrderedDict, defaultdict and Counter read as
// dicts), lists (sets too), tuples, str/bytes (as str), int, float, bool, None
// and tensors (views into one shared storage per `data/<key>` record). Every
// other global becomes a placeholder object (python_object_type()) carrying
// its name, the arguments it was called with and the state BUILD gave it; no
// Python code is ever "run".
//
// Hardening: every read is bounds-checked; the stack, marks and memo are
// checked; containers nest at most kMaxPickleDepth deep; a container cannot
// be modified once it sits inside another one, which rules out reference
// cycles (Python writes a cycle only for self-referencing containers, which
// checkpoints do not hold). Any violation raises lightning::Error naming the
// file and the byte offset of the opcode.
#include <ATen/ATen.h>
#include <c10/core/ScalarType.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checkpoint/pickle.h"
#include "util/utf8.h"
#include "lightning/error.h"

namespace lightning::detail {

const c10::ClassTypePtr& python_object_type() {
  static const c10::ClassTypePtr type = [] {
    auto t = c10::ClassType::create(c10::QualifiedName("__torch__.lightning.PythonObject"),
                                    std::weak_ptr<torch::jit::CompilationUnit>());
    t->addAttribute("name", c10::StringType::get());
    t->addAttribute("args", c10::AnyType::get());
    t->addAttribute("state", c10::AnyType::get());
    return t;
  }();
  return type;
}

c10::IValue make_python_object(const std::string& name, c10::IValue args, c10::IValue state) {
  auto object = c10::ivalue::Object::create(c10::StrongTypePtr(nullptr, python_object_type()), 3);
  object->setSlot(0, c10::IValue(name));
  object->setSlot(1, std::move(args));
  object->setSlot(2, std::move(state));
  return c10::IValue(std::move(object));
}

namespace {

bool is_placeholder(const c10::IValue& v) {
  return v.isObject() && v.toObjectRef().type() == python_object_type();
}

// dtype of each torch.<X>Storage class (what torch.serialization maps them to).
bool storage_dtype(const std::string& name, at::ScalarType* dtype) {
  static const std::unordered_map<std::string, at::ScalarType> kTypes = {
      {"torch.FloatStorage", at::kFloat},
      {"torch.DoubleStorage", at::kDouble},
      {"torch.HalfStorage", at::kHalf},
      {"torch.BFloat16Storage", at::kBFloat16},
      {"torch.LongStorage", at::kLong},
      {"torch.IntStorage", at::kInt},
      {"torch.ShortStorage", at::kShort},
      {"torch.CharStorage", at::kChar},
      {"torch.ByteStorage", at::kByte},
      {"torch.BoolStorage", at::kBool},
      {"torch.ComplexFloatStorage", at::kComplexFloat},
      {"torch.ComplexDoubleStorage", at::kComplexDouble},
      {"torch.UntypedStorage", at::kByte},
      {"torch.storage.UntypedStorage", at::kByte},
      {"torch.cuda.FloatStorage", at::kFloat},
      {"torch.cuda.DoubleStorage", at::kDouble},
      {"torch.cuda.HalfStorage", at::kHalf},
      {"torch.cuda.BFloat16Storage", at::kBFloat16},
      {"torch.cuda.LongStorage", at::kLong},
      {"torch.cuda.IntStorage", at::kInt},
      {"torch.cuda.ShortStorage", at::kShort},
      {"torch.cuda.CharStorage", at::kChar},
      {"torch.cuda.ByteStorage", at::kByte},
      {"torch.cuda.BoolStorage", at::kBool},
  };
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return false;
  *dtype = it->second;
  return true;
}

// "module.name" of a global, with the Python 2 names that protocol 0-2
// pickles use mapped as Python 3's unpickler does (_compat_pickle).
std::string python3_name(const std::string& module, const std::string& name) {
  if (module == "__builtin__") {
    static const std::unordered_map<std::string, std::string> kNames = {
        {"xrange", "builtins.range"},  {"reduce", "functools.reduce"}, {"intern", "sys.intern"},
        {"unichr", "builtins.chr"},    {"unicode", "builtins.str"},    {"long", "builtins.int"},
        {"basestring", "builtins.str"}};
    auto it = kNames.find(name);
    return it != kNames.end() ? it->second : "builtins." + name;
  }
  if (module == "copy_reg") return "copyreg." + name;
  return module + "." + name;
}

using detail::append_utf8;

// Decimal text of a little-endian two's-complement integer (LONG1/LONG4).
std::string long_to_decimal(const unsigned char* bytes, size_t n) {
  std::vector<unsigned char> mag(bytes, bytes + n);
  const bool negative = n > 0 && (mag[n - 1] & 0x80) != 0;
  if (negative) {  // magnitude = ~x + 1
    unsigned carry = 1;
    for (auto& b : mag) {
      const unsigned v = static_cast<unsigned char>(~b) + carry;
      b = static_cast<unsigned char>(v);
      carry = v >> 8;
    }
  }
  std::string digits;
  while (true) {
    while (!mag.empty() && mag.back() == 0) mag.pop_back();
    if (mag.empty()) break;
    unsigned rem = 0;
    for (size_t i = mag.size(); i-- > 0;) {
      const unsigned cur = (rem << 8) | mag[i];
      mag[i] = static_cast<unsigned char>(cur / 10);
      rem = cur % 10;
    }
    digits += static_cast<char>('0' + rem);
  }
  if (digits.empty()) digits = "0";
  if (negative) digits += '-';
  return std::string(digits.rbegin(), digits.rend());
}

struct ContainerInfo {
  int depth = 1;
  bool sealed = false;  // inside another container: no more changes
};

class Unpickler {
 public:
  Unpickler(const char* data, size_t size, const StorageLoader& loader, const std::string& source)
      : data_(reinterpret_cast<const unsigned char*>(data)),
        size_(size),
        loader_(loader),
        source_(source) {}

  c10::IValue run() {
    while (true) {
      op_pos_ = pos_;
      if (pos_ >= size_) fail("the pickle ends before its STOP opcode");
      op_ = data_[pos_++];
      if (op_ == '.') {  // STOP
        return pop();
      }
      step();
    }
  }

 private:
  // ------------------------------------------------------------ errors --

  [[noreturn]] void fail(const std::string& what) const {
    char code[8];
    std::snprintf(code, sizeof(code), "0x%02x", static_cast<unsigned>(op_));
    LIGHTNING_FAIL(source_, ": data.pkl is malformed at byte ", op_pos_, " (opcode ", code,
                   "): ", what, ". The file is corrupt or not a checkpoint.");
  }

  // ------------------------------------------------------------- input --

  const unsigned char* take(uint64_t n) {
    if (n > size_ - pos_) fail(c10::str("needs ", n, " bytes but only ", size_ - pos_, " remain"));
    const unsigned char* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }

  uint64_t read_le(int n) {
    const unsigned char* p = take(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }

  std::string read_bytes(uint64_t n) {
    const unsigned char* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  }

  std::string read_line() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (nl == nullptr) fail("a text argument has no terminating newline");
    const size_t len = static_cast<const unsigned char*>(nl) - (data_ + pos_);
    std::string line(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

  // ------------------------------------------------------------- stack --

  size_t base() const { return marks_.empty() ? 0 : marks_.back(); }

  void push(c10::IValue v) { stack_.push_back(std::move(v)); }

  c10::IValue pop() {
    if (stack_.size() <= base()) fail("stack underflow");
    c10::IValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }

  c10::IValue& top() {
    if (stack_.size() <= base()) fail("stack underflow");
    return stack_.back();
  }

  std::vector<c10::IValue> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<c10::IValue> items(std::make_move_iterator(stack_.begin() + m),
                                   std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }

  // -------------------------------------------------------- containers --

  static bool is_container(const c10::IValue& v) {
    return v.isGenericDict() || v.isList() || v.isTuple() || v.isObject();
  }

  ContainerInfo* info(const c10::IValue& v) {
    if (!is_container(v)) return nullptr;
    auto it = info_.find(v.internalToPointer());
    return it == info_.end() ? nullptr : &it->second;
  }

  c10::IValue track(c10::IValue v, int depth = 1) {
    info_[v.internalToPointer()] = ContainerInfo{depth, false};
    keep_alive_.push_back(v);  // addresses stay unique while parsing
    return v;
  }

  int depth_of(const c10::IValue& v) {
    ContainerInfo* i = info(v);
    return i == nullptr ? 0 : i->depth;
  }

  bool sealed(const c10::IValue& v) {
    ContainerInfo* i = info(v);
    return i != nullptr && i->sealed;
  }

  // Records that `child` now sits inside `parent`; call before changing
  // `parent`. Fails for a changed container (the only way to a cycle) and
  // for too deep nesting.
  void adopt(const c10::IValue& parent, const c10::IValue& child) {
    if (ContainerInfo* c = info(child)) c->sealed = true;
    ContainerInfo* p = info(parent);
    if (p == nullptr) return;
    if (p->sealed) {
      fail(
          "a container is changed after it was put into another one (self-referencing "
          "containers are not supported)");
    }
    p->depth = std::max(p->depth, depth_of(child) + 1);
    if (p->depth > kMaxPickleDepth) {
      fail(c10::str("containers nest more than ", kMaxPickleDepth, " levels deep"));
    }
  }

  c10::IValue new_dict() { return track(c10::IValue(make_state_dict())); }

  c10::IValue new_list() { return track(c10::IValue(c10::impl::GenericList(c10::AnyType::get()))); }

  c10::IValue new_list(std::vector<c10::IValue> items) {
    c10::IValue list = new_list();
    for (auto& item : items) list_append(list, std::move(item));
    return list;
  }

  c10::IValue new_tuple(std::vector<c10::IValue> items) {
    int depth = 1;
    for (const auto& item : items) {
      if (ContainerInfo* c = info(item)) c->sealed = true;
      depth = std::max(depth, depth_of(item) + 1);
    }
    if (depth > kMaxPickleDepth) {
      fail(c10::str("containers nest more than ", kMaxPickleDepth, " levels deep"));
    }
    return track(c10::IValue(c10::ivalue::Tuple::create(std::move(items))), depth);
  }

  c10::IValue placeholder(const std::string& name, c10::IValue args = c10::IValue(),
                          c10::IValue state = c10::IValue()) {
    c10::IValue object = track(make_python_object(name, c10::IValue(), c10::IValue()));
    if (!args.isNone()) {
      adopt(object, args);
      object.toObjectRef().setSlot(1, std::move(args));
    }
    if (!state.isNone()) {
      adopt(object, state);
      object.toObjectRef().setSlot(2, std::move(state));
    }
    return object;
  }

  static std::string name_of(const c10::IValue& v) {
    return is_placeholder(v) ? v.toObjectRef().getSlot(0).toStringRef() : v.tagKind();
  }

  // A "bare" placeholder is what GLOBAL pushes: a class or function itself.
  static bool is_bare(const c10::IValue& v) {
    return is_placeholder(v) && v.toObjectRef().getSlot(1).isNone() &&
           v.toObjectRef().getSlot(2).isNone();
  }

  void list_append(c10::IValue& list, c10::IValue item) {
    if (is_placeholder(list)) return;  // e.g. a list subclass: its items are dropped
    if (!list.isList()) fail(c10::str("APPEND to a ", list.tagKind()));
    adopt(list, item);
    list.toList().push_back(std::move(item));
  }

  static bool hashable_key(const c10::IValue& k) {
    return k.isString() || k.isInt() || k.isBool() || k.isDouble() || k.isTensor();
  }

  static c10::TypePtr key_type(const c10::IValue& k) {
    if (k.isString()) return c10::StringType::get();
    if (k.isInt()) return c10::IntType::get();
    if (k.isBool()) return c10::BoolType::get();
    if (k.isDouble()) return c10::FloatType::get();
    return c10::TensorType::get();
  }

  // dict[key] = value for the dict at `slot` (a stack entry). A key that an
  // IValue dict cannot hold (tuple, None, an object) turns the whole dict into
  // a "builtins.dict" placeholder, as for any other unsupported Python value.
  void dict_set(c10::IValue& slot, c10::IValue key, c10::IValue value) {
    if (is_placeholder(slot)) return;  // a dict subclass or an unsupported dict
    if (!slot.isGenericDict()) fail(c10::str("SETITEM on a ", slot.tagKind()));
    if (!hashable_key(key)) {
      if (sealed(slot)) fail("a dict is changed after it was put into another container");
      const c10::IValue old = slot;
      c10::IValue replacement = placeholder("builtins.dict");
      for (auto& entry : memo_) {
        if (entry.second.isGenericDict() && entry.second.is(old)) entry.second = replacement;
      }
      slot = replacement;
      return;
    }
    adopt(slot, value);
    c10::impl::GenericDict dict = slot.toGenericDict();
    const c10::TypePtr kt = key_type(key);
    if (*dict.keyType() != *kt && dict.keyType()->kind() != c10::TypeKind::AnyType) {
      dict.unsafeSetKeyType(dict.size() == 0 ? kt : c10::AnyType::get());
    }
    dict.insert_or_assign(std::move(key), std::move(value));
  }

  // ------------------------------------------------------- known calls --

  // Entries of `source` (a dict, or a list/tuple of pairs) into a new dict.
  bool fill_dict(c10::IValue& dict, const c10::IValue& source) {
    if (source.isGenericDict()) {
      for (const auto& entry : source.toGenericDict()) dict_set(dict, entry.key(), entry.value());
      return true;
    }
    c10::ArrayRef<c10::IValue> pairs;
    if (source.isList()) {
      pairs = source.toListRef();
    } else if (source.isTuple()) {
      pairs = source.toTupleRef().elements();
    } else {
      return false;
    }
    for (const auto& pair : pairs) {
      c10::ArrayRef<c10::IValue> kv;
      if (pair.isTuple()) {
        kv = pair.toTupleRef().elements();
      } else if (pair.isList()) {
        kv = pair.toListRef();
      }
      if (kv.size() != 2) return false;
      dict_set(dict, kv[0], kv[1]);
    }
    return true;
  }

  static bool int_tuple(const c10::IValue& v, std::vector<int64_t>* out) {
    c10::ArrayRef<c10::IValue> items;
    if (v.isTuple()) {
      items = v.toTupleRef().elements();
    } else if (v.isList()) {
      items = v.toListRef();
    } else {
      return false;
    }
    for (const auto& item : items) {
      if (!item.isInt()) return false;
      out->push_back(item.toInt());
    }
    return true;
  }

  static void set_requires_grad(at::Tensor& t, const c10::IValue& flag) {
    if (flag.isBool() && flag.toBool() &&
        (at::isFloatingType(t.scalar_type()) || at::isComplexType(t.scalar_type()))) {
      t.set_requires_grad(true);
    }
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
  // requires_grad, backward_hooks[, metadata]) and _rebuild_tensor (the
  // first four).
  c10::IValue rebuild_tensor(const std::string& name, const std::vector<c10::IValue>& args,
                             const c10::IValue& args_value) {
    if (args.size() < 4 || !args[0].isTensor()) return placeholder(name, args_value);
    const at::Tensor& storage = args[0].toTensor();
    if (!args[1].isInt()) fail(name + ": storage_offset is not an int");
    const int64_t offset = args[1].toInt();
    std::vector<int64_t> sizes, strides;
    if (!int_tuple(args[2], &sizes)) fail(name + ": size is not a tuple of ints");
    if (!int_tuple(args[3], &strides)) fail(name + ": stride is not a tuple of ints");
    if (sizes.size() != strides.size()) fail(name + ": size and stride differ in length");
    if (sizes.size() > 64) fail(name + ": more than 64 dimensions");
    const int64_t storage_numel =
        static_cast<int64_t>(storage.storage().nbytes() / storage.element_size());
    if (offset < 0 || offset > storage_numel) fail(name + ": storage_offset out of range");
    // Bounds: offset + sum((size - 1) * stride) < storage numel, without overflow.
    bool empty = false;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] < 0 || strides[i] < 0) fail(name + ": negative size or stride");
      if (sizes[i] == 0) empty = true;
    }
    if (!empty) {
      uint64_t last = static_cast<uint64_t>(offset);
      for (size_t i = 0; i < sizes.size(); ++i) {
        const uint64_t span = static_cast<uint64_t>(sizes[i] - 1);
        const uint64_t stride = static_cast<uint64_t>(strides[i]);
        if (stride != 0 && span > (std::numeric_limits<uint64_t>::max() - last) / stride) {
          fail(name + ": the view is larger than its storage");
        }
        last += span * stride;
      }
      if (last >= static_cast<uint64_t>(storage_numel)) {
        fail(name + ": the view is larger than its storage");
      }
    }
    at::Tensor t =
        at::empty({0}, storage.options()).set_(storage.storage(), offset, sizes, strides);
    if (args.size() >= 5) set_requires_grad(t, args[4]);
    return c10::IValue(t);
  }

  c10::IValue bytes_from(const std::string& name, const std::vector<c10::IValue>& args,
                         const c10::IValue& args_value) {
    if (args.empty()) return c10::IValue(std::string());
    if (args[0].isString() && args.size() == 2 && args[1].isString()) {
      const std::string& enc = args[1].toStringRef();
      if (enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1") {
        // The string's code points, each one byte (Python wrote bytes as latin-1 text).
        const std::string& text = args[0].toStringRef();
        std::string out;
        for (size_t i = 0; i < text.size();) {
          const std::optional<uint32_t> cp = detail::next_code_point(text, i);
          if (!cp || *cp > 0xFF) return placeholder(name, args_value);
          out += static_cast<char>(*cp);
        }
        return c10::IValue(out);
      }
      if (enc == "utf-8" || enc == "utf8" || enc == "ascii") return args[0];
      return placeholder(name, args_value);
    }
    if (args.size() == 1 && args[0].isString()) return args[0];
    if (args.size() == 1 && args[0].isList()) {
      std::string out;
      for (const auto& b : args[0].toListRef()) {
        if (!b.isInt() || b.toInt() < 0 || b.toInt() > 255) return placeholder(name, args_value);
        out += static_cast<char>(b.toInt());
      }
      return c10::IValue(out);
    }
    return placeholder(name, args_value);
  }

  // What calling `callee(*args)` (REDUCE) or `callee.__new__(callee, *args)`
  // (NEWOBJ) gives.
  c10::IValue call(const c10::IValue& callee, const c10::IValue& args_value, bool newobj) {
    if (!is_placeholder(callee)) fail(c10::str("calls a ", callee.tagKind()));
    if (!args_value.isTuple()) fail(c10::str("call arguments are a ", args_value.tagKind()));
    const std::string name = name_of(callee);
    const std::vector<c10::IValue> args = args_value.toTupleRef().elements().vec();
    if (!is_bare(callee)) return placeholder(name, args_value);  // an instance called

    if (name == "collections.OrderedDict" || name == "builtins.dict" ||
        name == "collections.defaultdict" || name == "collections.Counter") {
      c10::IValue dict = new_dict();
      const size_t first = name == "collections.defaultdict" ? 1 : 0;  // skip default_factory
      if (!newobj && args.size() > first && !fill_dict(dict, args[first])) {
        return placeholder(name, args_value);
      }
      return dict;
    }
    if (name == "builtins.set" || name == "builtins.frozenset" || name == "builtins.list") {
      if (newobj || args.empty()) return new_list();
      if (args[0].isList()) return new_list(args[0].toListRef().vec());
      if (args[0].isTuple()) return new_list(args[0].toTupleRef().elements().vec());
      return placeholder(name, args_value);
    }
    if (name == "builtins.tuple" || name == "torch.Size") {
      if (args.empty()) return new_tuple({});
      if (args[0].isList()) return new_tuple(args[0].toListRef().vec());
      if (args[0].isTuple()) return args[0];
      return placeholder(name, args_value);
    }
    if (name == "_codecs.encode" || name == "builtins.bytes" || name == "builtins.bytearray") {
      return bytes_from(name, args, args_value);
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return rebuild_tensor(name, args, args_value);
    }
    if (name == "torch._utils._rebuild_parameter" ||
        name == "torch._utils._rebuild_parameter_with_state" ||
        name == "torch.nn.parameter.Parameter") {
      if (args.empty()) return placeholder(name, args_value);
      if (!args[0].isTensor()) return placeholder(name, args_value);
      at::Tensor t = args[0].toTensor();
      set_requires_grad(t, args.size() >= 2 ? args[1] : c10::IValue(true));
      return c10::IValue(t);
    }
    if (name == "torch._tensor._rebuild_from_type_v2" ||
        name == "torch._tensor._rebuild_from_type") {
      // (func, new_type, args, state): a Tensor subclass; keep the tensor.
      if (args.size() >= 3 && args[2].isTuple()) {
        c10::IValue inner = call(args[0], args[2], false);
        if (inner.isTensor()) return inner;
      }
      return placeholder(name, args_value);
    }
    if ((name == "copyreg._reconstructor" || name == "numpy.core.multiarray._reconstruct") &&
        !args.empty() && is_placeholder(args[0])) {
      // (cls, base, state): objects of protocols 0-1, numpy arrays
      return placeholder(name_of(args[0]), args_value);
    }
    if (name == "copyreg.__newobj__" && !args.empty() && is_placeholder(args[0])) {
      return call(args[0], new_tuple(std::vector<c10::IValue>(args.begin() + 1, args.end())), true);
    }
    if (name == "builtins.getattr" && args.size() == 2 && args[1].isString()) {
      // A bound method pickles as getattr(obj, "name").
      return placeholder(name_of(args[0]) + "." + args[1].toStringRef(), args_value);
    }
    return placeholder(name, args_value);
  }

  // ('storage', torch.<X>Storage, key, location, numel)
  c10::IValue persistent_load(const c10::IValue& pid) {
    if (!pid.isTuple()) fail(c10::str("the persistent id is a ", pid.tagKind(), ", not a tuple"));
    const std::vector<c10::IValue> e = pid.toTupleRef().elements().vec();
    if (e.size() != 5 || !e[0].isString() || e[0].toStringRef() != "storage") {
      fail("the persistent id is not ('storage', type, key, location, numel)");
    }
    if (!e[2].isString() || !e[3].isString() || !e[4].isInt() || e[4].toInt() < 0) {
      fail("the persistent id is not ('storage', type, key, location, numel)");
    }
    const std::string type = name_of(e[1]);
    at::ScalarType dtype;
    if (!is_bare(e[1]) || !storage_dtype(type, &dtype)) return placeholder(type);
    const std::string& key = e[2].toStringRef();
    const int64_t numel = e[4].toInt();
    auto it = storages_.find(key);
    if (it != storages_.end()) {
      if (it->second.scalar_type() != dtype || it->second.numel() != numel) {
        fail(c10::str("storage \"", key, "\" is used as two different types or sizes"));
      }
      return c10::IValue(it->second);
    }
    at::Tensor storage = loader_(key, dtype, numel);
    storages_.emplace(key, storage);
    return c10::IValue(storage);
  }

  // --------------------------------------------------------- scalars --

  c10::IValue decode_long(const unsigned char* p, size_t n) {
    if (n == 0) return c10::IValue(int64_t{0});
    bool fits = n <= 8;
    if (!fits) {  // fits when bytes 8.. only extend the sign of byte 7
      const unsigned char ext = (p[7] & 0x80) ? 0xFF : 0x00;
      fits = true;
      for (size_t i = 8; i < n; ++i) fits = fits && p[i] == ext;
    }
    if (fits) {
      const size_t m = std::min<size_t>(n, 8);
      uint64_t u = (p[m - 1] & 0x80) ? ~uint64_t{0} : 0;
      for (size_t i = m; i-- > 0;) u = (u << 8) | p[i];  // sign bits shift out for m == 8
      return c10::IValue(static_cast<int64_t>(u));
    }
    // Beyond 64 bits: no IValue holds it.
    const std::string text =
        n <= 4096 ? long_to_decimal(p, n) : c10::str("<an int of ", n, " bytes>");
    return placeholder("builtins.int", new_tuple({c10::IValue(text)}));
  }

  c10::IValue parse_int_text(std::string line, bool is_long) {
    if (is_long && !line.empty() && line.back() == 'L') line.pop_back();
    if (!is_long && line == "01") return c10::IValue(true);
    if (!is_long && line == "00") return c10::IValue(false);
    int64_t v = 0;
    const char* begin = line.data();
    const char* end = line.data() + line.size();
    if (begin != end && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, v);
    if (ec == std::errc::result_out_of_range) {
      bool digits = true;
      for (const char* c = (*begin == '-' ? begin + 1 : begin); c < end; ++c) {
        digits = digits && *c >= '0' && *c <= '9';
      }
      if (digits) return placeholder("builtins.int", new_tuple({c10::IValue(line)}));
    }
    if (ec != std::errc() || ptr != end || begin == end) fail("bad integer text \"" + line + "\"");
    return c10::IValue(v);
  }

  // STRING's argument: a Python repr of a byte string ('...' or "...").
  std::string parse_quoted(const std::string& line) {
    if (line.size() < 2 || (line.front() != '\'' && line.front() != '"') ||
        line.back() != line.front()) {
      fail("STRING argument is not quoted");
    }
    std::string out;
    for (size_t i = 1; i + 1 < line.size(); ++i) {
      char c = line[i];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (++i + 1 > line.size() - 1) fail("STRING argument ends in a backslash");
      c = line[i];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'x': {
          if (i + 3 > line.size() - 1) fail("bad \\x escape in STRING");
          unsigned v = 0;
          auto [p, ec] = std::from_chars(line.data() + i + 1, line.data() + i + 3, v, 16);
          if (ec != std::errc() || p != line.data() + i + 3) fail("bad \\x escape in STRING");
          out += static_cast<char>(v);
          i += 2;
          break;
        }
        default:
          out += c;  // \\ \' \"
      }
    }
    return out;
  }

  // UNICODE's argument: raw-unicode-escape (latin-1 bytes, \uXXXX, \UXXXXXXXX).
  std::string parse_raw_unicode(const std::string& line) {
    std::string out;
    for (size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (c == '\\' && i + 1 < line.size() && (line[i + 1] == 'u' || line[i + 1] == 'U')) {
        const size_t digits = line[i + 1] == 'u' ? 4 : 8;
        if (i + 2 + digits > line.size()) fail("bad \\u escape in UNICODE");
        uint32_t cp = 0;
        auto [p, ec] = std::from_chars(line.data() + i + 2, line.data() + i + 2 + digits, cp, 16);
        if (ec != std::errc() || p != line.data() + i + 2 + digits || cp > 0x10FFFF) {
          fail("bad \\u escape in UNICODE");
        }
        append_utf8(out, cp);
        i += 1 + digits;
      } else {
        append_utf8(out, c);
      }
    }
    return out;
  }

  double parse_float_text(const std::string& line) {
    double v = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
    if (ec != std::errc() || p != line.data() + line.size()) {
      if (line == "inf") return std::numeric_limits<double>::infinity();
      if (line == "-inf") return -std::numeric_limits<double>::infinity();
      if (line == "nan") return std::numeric_limits<double>::quiet_NaN();
      fail("bad float text \"" + line + "\"");
    }
    return v;
  }

  // ------------------------------------------------------------- step --

  void memo_put(uint64_t index) { memo_[index] = top(); }

  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail(c10::str("memo entry ", index, " was never stored"));
    push(it->second);
  }

  std::string global_name(const std::string& module, const std::string& name) {
    if (module.empty() || name.empty()) fail("empty GLOBAL name");
    return python3_name(module, name);
  }

  void step() {
    switch (op_) {
      // --- framing and protocol
      case 0x80: {  // PROTO
        const unsigned proto = static_cast<unsigned>(read_le(1));
        if (proto > 5) fail(c10::str("unsupported pickle protocol ", proto));
        break;
      }
      case 0x95: {  // FRAME: only a hint for buffered readers
        const uint64_t len = read_le(8);
        if (len > size_ - pos_) fail("FRAME is longer than the rest of the pickle");
        break;
      }
      // --- stack and memo
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        if (stack_.size() > base()) {
          stack_.pop_back();
        } else {
          pop_mark();
        }
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        push(top());
        break;
      case 'p': {  // PUT
        const c10::IValue i = parse_int_text(read_line(), false);
        if (!i.isInt() || i.toInt() < 0) fail("bad PUT index");
        memo_put(static_cast<uint64_t>(i.toInt()));
        break;
      }
      case 'q':  // BINPUT
        memo_put(read_le(1));
        break;
      case 'r':  // LONG_BINPUT
        memo_put(read_le(4));
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size());
        break;
      case 'g': {  // GET
        const c10::IValue i = parse_int_text(read_line(), false);
        if (!i.isInt() || i.toInt() < 0) fail("bad GET index");
        memo_get(static_cast<uint64_t>(i.toInt()));
        break;
      }
      case 'h':  // BINGET
        memo_get(read_le(1));
        break;
      case 'j':  // LONG_BINGET
        memo_get(read_le(4));
        break;
      // --- scalars
      case 'N':
        push(c10::IValue());
        break;
      case 0x88:
        push(c10::IValue(true));
        break;
      case 0x89:
        push(c10::IValue(false));
        break;
      case 'I':
        push(parse_int_text(read_line(), false));
        break;
      case 'L':
        push(parse_int_text(read_line(), true));
        break;
      case 'J':  // BININT
        push(c10::IValue(static_cast<int64_t>(static_cast<int32_t>(read_le(4)))));
        break;
      case 'K':  // BININT1
        push(c10::IValue(static_cast<int64_t>(read_le(1))));
        break;
      case 'M':  // BININT2
        push(c10::IValue(static_cast<int64_t>(read_le(2))));
        break;
      case 0x8a: {  // LONG1
        const uint64_t n = read_le(1);
        const unsigned char* p = take(n);
        push(decode_long(p, static_cast<size_t>(n)));
        break;
      }
      case 0x8b: {  // LONG4
        const auto n = static_cast<int32_t>(read_le(4));
        if (n < 0) fail("negative LONG4 length");
        const unsigned char* p = take(static_cast<uint64_t>(n));
        push(decode_long(p, static_cast<size_t>(n)));
        break;
      }
      case 'F':
        push(c10::IValue(parse_float_text(read_line())));
        break;
      case 'G': {  // BINFLOAT: big-endian double
        const unsigned char* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        double d;
        std::memcpy(&d, &bits, sizeof(d));
        push(c10::IValue(d));
        break;
      }
      // --- strings and bytes (bytes read as str)
      case 'X':  // BINUNICODE
      case 'B':  // BINBYTES
        push(c10::IValue(read_bytes(read_le(4))));
        break;
      case 0x8c:  // SHORT_BINUNICODE
      case 'C':   // SHORT_BINBYTES
      case 'U':   // SHORT_BINSTRING
        push(c10::IValue(read_bytes(read_le(1))));
        break;
      case 0x8d:  // BINUNICODE8
      case 0x8e:  // BINBYTES8
      case 0x96:  // BYTEARRAY8
        push(c10::IValue(read_bytes(read_le(8))));
        break;
      case 'T': {  // BINSTRING
        const auto n = static_cast<int32_t>(read_le(4));
        if (n < 0) fail("negative BINSTRING length");
        push(c10::IValue(read_bytes(static_cast<uint64_t>(n))));
        break;
      }
      case 'S':
        push(c10::IValue(parse_quoted(read_line())));
        break;
      case 'V':
        push(c10::IValue(parse_raw_unicode(read_line())));
        break;
      // --- tuples
      case ')':
        push(new_tuple({}));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op_ - 0x84;
        std::vector<c10::IValue> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        push(new_tuple(std::move(items)));
        break;
      }
      case 't':
        push(new_tuple(pop_mark()));
        break;
      // --- lists and sets
      case ']':
      case 0x8f:  // EMPTY_SET
        push(new_list());
        break;
      case 'l':
        push(new_list(pop_mark()));
        break;
      case 0x91:  // FROZENSET
        push(new_list(pop_mark()));
        break;
      case 'a': {  // APPEND
        c10::IValue item = pop();
        list_append(top(), std::move(item));
        break;
      }
      case 'e':     // APPENDS
      case 0x90: {  // ADDITEMS
        std::vector<c10::IValue> items = pop_mark();
        c10::IValue& list = top();
        for (auto& item : items) list_append(list, std::move(item));
        break;
      }
      // --- dicts
      case '}':
        push(new_dict());
        break;
      case 'd': {
        std::vector<c10::IValue> items = pop_mark();
        if (items.size() % 2 != 0) fail("DICT with an odd number of items");
        push(new_dict());
        for (size_t i = 0; i < items.size(); i += 2) {
          dict_set(stack_.back(), std::move(items[i]), std::move(items[i + 1]));
        }
        break;
      }
      case 's': {  // SETITEM
        c10::IValue value = pop();
        c10::IValue key = pop();
        dict_set(top(), std::move(key), std::move(value));
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<c10::IValue> items = pop_mark();
        if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
        c10::IValue& dict = top();
        for (size_t i = 0; i < items.size(); i += 2) {
          dict_set(dict, std::move(items[i]), std::move(items[i + 1]));
        }
        break;
      }
      // --- globals, calls and objects
      case 'c': {  // GLOBAL
        std::string module = read_line();
        std::string name = read_line();
        push(placeholder(global_name(module, name)));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        c10::IValue name = pop();
        c10::IValue module = pop();
        if (!name.isString() || !module.isString()) fail("STACK_GLOBAL needs two strings");
        push(placeholder(global_name(module.toStringRef(), name.toStringRef())));
        break;
      }
      case 0x82:  // EXT1..4: the copyreg extension registry
      case 0x83:
      case 0x84: {
        const uint64_t code = read_le(op_ == 0x82 ? 1 : op_ == 0x83 ? 2 : 4);
        push(placeholder(c10::str("copyreg._extension_registry[", code, "]")));
        break;
      }
      case 'R': {  // REDUCE
        c10::IValue args = pop();
        c10::IValue callee = pop();
        push(call(callee, args, false));
        break;
      }
      case 0x81: {  // NEWOBJ
        c10::IValue args = pop();
        c10::IValue cls = pop();
        push(call(cls, args, true));
        break;
      }
      case 0x92: {  // NEWOBJ_EX (keyword arguments dropped)
        pop();
        c10::IValue args = pop();
        c10::IValue cls = pop();
        push(call(cls, args, true));
        break;
      }
      case 'i': {  // INST module\nname\n with the arguments since MARK
        std::string module = read_line();
        std::string name = read_line();
        std::vector<c10::IValue> args = pop_mark();
        push(placeholder(global_name(module, name), new_tuple(std::move(args))));
        break;
      }
      case 'o': {  // OBJ: MARK cls args...
        std::vector<c10::IValue> items = pop_mark();
        if (items.empty()) fail("OBJ without a class");
        c10::IValue cls = items.front();
        items.erase(items.begin());
        push(placeholder(name_of(cls), new_tuple(std::move(items))));
        break;
      }
      case 'b': {  // BUILD: only placeholders keep their state
        c10::IValue state = pop();
        c10::IValue& object = top();
        if (is_placeholder(object) && !sealed(object)) {
          adopt(object, state);
          object.toObjectRef().setSlot(2, std::move(state));
        }
        break;
      }
      case 'Q':  // BINPERSID
        push(persistent_load(pop()));
        break;
      case 'P':
        fail("text persistent ids (PERSID) are not used by torch.save");
      case 0x97:
      case 0x98:
        fail("out-of-band buffers (pickle protocol 5) are not supported");
      default:
        fail("unknown opcode");
    }
  }

  const unsigned char* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  unsigned char op_ = 0;
  const StorageLoader& loader_;
  const std::string& source_;
  std::vector<c10::IValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, c10::IValue> memo_;
  std::unordered_map<const void*, ContainerInfo> info_;
  std::vector<c10::IValue> keep_alive_;
  std::unordered_map<std::string, at::Tensor> storages_;
};

}  // namespace

c10::IValue unpickle_checkpoint(const char* data, size_t size, const StorageLoader& load_storage,
                                const std::string& source) {
  return Unpickler(data, size, load_storage, source).run();
}

}  // namespace lightning::detail
