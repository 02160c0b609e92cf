// The pickler behind save_checkpoint_file: protocol 2, as Python's
// torch.save writes it, referencing only the globals on PyTorch's
// `weights_only` allow-list (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 and the torch.*Storage classes).
//
// Opcodes used (all understood by torch 1.13's _weights_only_unpickler
// except BINFLOAT, which it lacks): PROTO, GLOBAL, MARK, STOP, NONE,
// NEWTRUE/NEWFALSE, BININT1/BININT2/BININT/LONG1, BINFLOAT, BINUNICODE,
// EMPTY_TUPLE/TUPLE1-3/TUPLE, EMPTY_LIST/APPEND/APPENDS,
// EMPTY_DICT/SETITEM/SETITEMS, REDUCE, BINPERSID. Nothing is memoized:
// every tensor names its storage through its persistent id, as Python does.
#include <ATen/ATen.h>
#include <c10/core/ScalarType.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "checkpoint/pickle.h"
#include "util/utf8.h"
#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/error.h"

namespace lightning::detail {
namespace {

// Python's pickle.py names.
constexpr char kProto = '\x80';
constexpr char kStop = '.';
constexpr char kMark = '(';
constexpr char kNone = 'N';
constexpr char kNewTrue = '\x88';
constexpr char kNewFalse = '\x89';
constexpr char kBinInt = 'J';
constexpr char kBinInt1 = 'K';
constexpr char kBinInt2 = 'M';
constexpr char kLong1 = '\x8a';
constexpr char kBinFloat = 'G';
constexpr char kBinUnicode = 'X';
constexpr char kEmptyTuple = ')';
constexpr char kTuple = 't';
constexpr char kTuple1 = '\x85';
constexpr char kTuple2 = '\x86';
constexpr char kTuple3 = '\x87';
constexpr char kEmptyList = ']';
constexpr char kAppend = 'a';
constexpr char kAppends = 'e';
constexpr char kEmptyDict = '}';
constexpr char kSetItem = 's';
constexpr char kSetItems = 'u';
constexpr char kGlobal = 'c';
constexpr char kReduce = 'R';
constexpr char kBinPersId = 'Q';

constexpr size_t kBatchSize = 1000;  // items per APPENDS / SETITEMS, as pickle.py

// The torch.<X>Storage class Python uses for each dtype it can load.
const char* storage_class(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "FloatStorage";
    case at::kDouble:
      return "DoubleStorage";
    case at::kHalf:
      return "HalfStorage";
    case at::kBFloat16:
      return "BFloat16Storage";
    case at::kLong:
      return "LongStorage";
    case at::kInt:
      return "IntStorage";
    case at::kShort:
      return "ShortStorage";
    case at::kChar:
      return "CharStorage";
    case at::kByte:
      return "ByteStorage";
    case at::kBool:
      return "BoolStorage";
    default:
      return nullptr;
  }
}

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

class Pickler {
 public:
  explicit Pickler(const SaveCheckpointOptions& options)
      : ordered_(options.ordered_dict_keys.begin(), options.ordered_dict_keys.end()) {}

  PickleOutput run(const StateDict& checkpoint) {
    out_.data.push_back(kProto);
    out_.data.push_back('\x02');
    write_dict(checkpoint, "", 0, /*ordered=*/false, /*top=*/true);
    out_.data.push_back(kStop);
    return std::move(out_);
  }

 private:
  void op(char c) { out_.data.push_back(c); }

  void raw(const void* p, size_t n) { out_.data.append(static_cast<const char*>(p), n); }

  void le32(uint32_t v) {
    const unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                                static_cast<unsigned char>(v >> 16),
                                static_cast<unsigned char>(v >> 24)};
    raw(b, 4);
  }

  void global(const char* module, const char* name) {
    op(kGlobal);
    out_.data += module;
    out_.data += '\n';
    out_.data += name;
    out_.data += '\n';
  }

  void write_int(int64_t v) {
    if (v >= 0 && v < 0x100) {
      op(kBinInt1);
      op(static_cast<char>(v));
    } else if (v >= 0 && v < 0x10000) {
      op(kBinInt2);
      op(static_cast<char>(v & 0xFF));
      op(static_cast<char>((v >> 8) & 0xFF));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op(kBinInt);
      le32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      // Two's complement, little-endian, without redundant sign bytes.
      unsigned char b[8];
      const auto u = static_cast<uint64_t>(v);
      for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(u >> (8 * i));
      int n = 8;
      while (n > 1 && ((b[n - 1] == 0x00 && (b[n - 2] & 0x80) == 0) ||
                       (b[n - 1] == 0xFF && (b[n - 2] & 0x80) != 0))) {
        --n;
      }
      op(kLong1);
      op(static_cast<char>(n));
      raw(b, static_cast<size_t>(n));
    }
  }

  void write_float(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    op(kBinFloat);
    for (int i = 7; i >= 0; --i) op(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }

  void write_string(const std::string& s, const std::string& path) {
    LIGHTNING_CHECK(detail::valid_utf8(s), "the string at ", quoted(path),
                    " is not valid UTF-8; Python reads checkpoint strings as UTF-8 text.");
    LIGHTNING_CHECK(s.size() <= UINT32_MAX, "the string at ", quoted(path), " is too long (",
                    s.size(), " bytes).");
    op(kBinUnicode);
    le32(static_cast<uint32_t>(s.size()));
    out_.data += s;
  }

  static std::string child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "/" + key;
  }

  void write_value(const c10::IValue& v, const std::string& path, int depth) {
    LIGHTNING_CHECK(depth <= kMaxPickleDepth, "the value at ", quoted(path),
                    " is nested more than ", kMaxPickleDepth,
                    " levels deep (a container that holds itself?).");
    if (v.isNone()) {
      op(kNone);
    } else if (v.isBool()) {
      op(v.toBool() ? kNewTrue : kNewFalse);
    } else if (v.isInt()) {
      write_int(v.toInt());
    } else if (v.isDouble()) {
      write_float(v.toDouble());
    } else if (v.isString()) {
      write_string(v.toStringRef(), path);
    } else if (v.isTensor()) {
      write_tensor(v.toTensor(), path);
    } else if (v.isGenericDict()) {
      write_dict(v.toGenericDict(), path, depth, /*ordered=*/false, /*top=*/false);
    } else if (v.isList()) {
      write_list(v.toListRef(), path, depth);
    } else if (v.isTuple()) {
      write_tuple(v.toTupleRef().elements(), path, depth);
    } else if (v.isObject() && v.toObjectRef().type() == python_object_type()) {
      LIGHTNING_FAIL("the value at ", quoted(path), " is a placeholder for the Python object ",
                     v.toObjectRef().getSlot(0).toStringRef(),
                     " read from a checkpoint; it cannot be saved. Remove it or replace it with "
                     "plain values first.");
    } else {
      LIGHTNING_FAIL("the value at ", quoted(path), " is a ", v.tagKind(),
                     ", which a checkpoint cannot hold; supported are dicts (str or int keys), "
                     "lists, tuples, str, int, float, bool, None and tensors.");
    }
  }

  void write_tuple(c10::ArrayRef<c10::IValue> items, const std::string& path, int depth) {
    if (items.empty()) {
      op(kEmptyTuple);
      return;
    }
    if (items.size() > 3) op(kMark);
    for (size_t i = 0; i < items.size(); ++i) {
      write_value(items[i], child(path, std::to_string(i)), depth + 1);
    }
    static constexpr char kTupleN[] = {kEmptyTuple, kTuple1, kTuple2, kTuple3};
    op(items.size() <= 3 ? kTupleN[items.size()] : kTuple);
  }

  void write_list(c10::ArrayRef<c10::IValue> items, const std::string& path, int depth) {
    op(kEmptyList);
    for (size_t start = 0; start < items.size(); start += kBatchSize) {
      const size_t end = std::min(items.size(), start + kBatchSize);
      if (end - start > 1) op(kMark);
      for (size_t i = start; i < end; ++i) {
        write_value(items[i], child(path, std::to_string(i)), depth + 1);
      }
      op(end - start > 1 ? kAppends : kAppend);
    }
  }

  std::string write_key(const c10::IValue& key, const std::string& path) {
    if (key.isString()) {
      write_string(key.toStringRef(), child(path, key.toStringRef()));
      return key.toStringRef();
    }
    if (key.isInt()) {
      write_int(key.toInt());
      return std::to_string(key.toInt());
    }
    if (key.isBool()) {
      op(key.toBool() ? kNewTrue : kNewFalse);
      return key.toBool() ? "True" : "False";
    }
    if (key.isDouble()) {
      write_float(key.toDouble());
      return c10::str(key.toDouble());
    }
    LIGHTNING_FAIL("the dict at ", quoted(path), " has a key of type ", key.tagKind(),
                   "; checkpoint dict keys must be str, int, bool or float.");
  }

  void write_dict(const c10::impl::GenericDict& dict, const std::string& path, int depth,
                  bool ordered, bool top) {
    if (ordered) {
      global("collections", "OrderedDict");
      op(kEmptyTuple);
      op(kReduce);
    } else {
      op(kEmptyDict);
    }
    auto it = dict.begin();
    const size_t n = dict.size();
    for (size_t start = 0; start < n; start += kBatchSize) {
      const size_t end = std::min(n, start + kBatchSize);
      if (end - start > 1) op(kMark);
      for (size_t i = start; i < end; ++i, ++it) {
        const std::string name = write_key(it->key(), path);
        const std::string sub = child(path, name);
        if (top && it->value().isGenericDict() && ordered_.count(name) != 0) {
          write_dict(it->value().toGenericDict(), sub, depth + 1, /*ordered=*/true,
                     /*top=*/false);
        } else {
          write_value(it->value(), sub, depth + 1);
        }
      }
      op(end - start > 1 ? kSetItems : kSetItem);
    }
  }

  void write_tuple_of_ints(c10::IntArrayRef values) {
    if (values.size() > 3) op(kMark);
    for (int64_t v : values) write_int(v);
    static constexpr char kTupleN[] = {kEmptyTuple, kTuple1, kTuple2, kTuple3};
    op(values.size() <= 3 ? kTupleN[values.size()] : kTuple);
  }

  void write_tensor(const at::Tensor& t, const std::string& path) {
    if (!t.defined()) {  // an empty optional tensor; Python has only None for it
      op(kNone);
      return;
    }
    LIGHTNING_CHECK(t.layout() == at::kStrided && !t.is_quantized() && !t.is_nested(),
                    "the tensor at ", quoted(path), " has layout ", t.layout(),
                    (t.is_quantized() ? " (quantized)" : ""),
                    "; checkpoints hold dense (strided) tensors only.");
    const char* cls = storage_class(t.scalar_type());
    LIGHTNING_CHECK(cls != nullptr, "the tensor at ", quoted(path), " has dtype ", t.scalar_type(),
                    "; checkpoints hold float32/64, float16, bfloat16, int64/32/16/8, uint8 "
                    "and bool tensors.");
    LIGHTNING_CHECK(t.has_storage() && !t.is_meta(), "the tensor at ", quoted(path),
                    " has no data (", t.device(), ") and cannot be saved.");
    const c10::Storage& storage = t.storage();
    const size_t itemsize = t.element_size();
    const int64_t numel = static_cast<int64_t>(storage.nbytes() / itemsize);

    auto found = index_.find(storage.unsafeGetStorageImpl());
    size_t entry;
    if (found == index_.end()) {
      entry = out_.storages.size();
      PickledStorage s;
      s.key = std::to_string(entry);
      s.nbytes = static_cast<size_t>(numel) * itemsize;
      at::Tensor flat =
          at::empty({0}, t.options()).set_(storage, /*storage_offset=*/0, {numel}, {1});
      s.bytes = flat.device().is_cpu() ? flat : flat.to(at::kCPU);
      out_.storages.push_back(std::move(s));
      index_.emplace(storage.unsafeGetStorageImpl(), entry);
      dtypes_.push_back(t.scalar_type());
    } else {
      entry = found->second;
      LIGHTNING_CHECK(dtypes_[entry] == t.scalar_type(), "the tensor at ", quoted(path), " (",
                      t.scalar_type(), ") shares its storage with a tensor of dtype ",
                      dtypes_[entry],
                      "; torch.save cannot store one storage as two dtypes. Save a .clone().");
    }

    std::string location = "cpu";
    if (t.is_cuda()) {
      location = "cuda:" + std::to_string(t.device().has_index() ? t.device().index() : 0);
    } else if (!t.device().is_cpu()) {
      location = t.device().str();
    }

    global("torch._utils", "_rebuild_tensor_v2");
    op(kMark);
    // persistent id: ('storage', torch.<X>Storage, key, location, numel)
    op(kMark);
    write_string("storage", path);
    global("torch", cls);
    write_string(out_.storages[entry].key, path);
    write_string(location, path);
    write_int(numel);
    op(kTuple);
    op(kBinPersId);
    write_int(t.storage_offset());
    write_tuple_of_ints(t.sizes());
    write_tuple_of_ints(t.strides());
    op(t.requires_grad() ? kNewTrue : kNewFalse);
    global("collections", "OrderedDict");  // backward_hooks: always empty
    op(kEmptyTuple);
    op(kReduce);
    op(kTuple);
    op(kReduce);
  }

  std::unordered_set<std::string> ordered_;
  PickleOutput out_;
  std::unordered_map<const c10::StorageImpl*, size_t> index_;
  std::vector<at::ScalarType> dtypes_;
};

}  // namespace

PickleOutput pickle_checkpoint(const StateDict& checkpoint, const SaveCheckpointOptions& options) {
  return Pickler(options).run(checkpoint);
}

}  // namespace lightning::detail
