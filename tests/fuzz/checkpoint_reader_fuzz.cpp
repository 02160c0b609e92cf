// libFuzzer target for the checkpoint reader: load_checkpoint_file on
// arbitrary bytes must load or raise lightning::Error, never crash, never
// throw anything else and never trip AddressSanitizer or UBSan.
//
// Built with clang++ -fsanitize=fuzzer,address,undefined together with the
// reader's own sources (tests/fuzz/CMakeLists.txt); libtorch itself is
// Debian's uninstrumented build. Run by tests/fuzz/run.sh (ctest
// checkpoint_reader_fuzz) over a seed corpus of valid checkpoints written by
// save_checkpoint_file and by Python's torch.save (tests/fuzz/make_corpus*).
//
// An input is a whole .ckpt file. load_checkpoint_file takes a path, so each
// input is written to a temporary file first (under $LIGHTNING_FUZZ_TMPDIR,
// else $TMPDIR or /tmp): the public entry point is what is tested, header
// checks included, and no private in-memory entry point is needed.
//
// Mutations: the records of a torch.save archive are stored uncompressed but
// behind zip offsets, so byte insertions and deletions in data.pkl break the
// zip layer and never reach the unpickler. LLVMFuzzerCustomMutator therefore
// mostly unpacks the archive, mutates one record (data.pkl most of the time)
// with libFuzzer's own mutator and repacks it with PyTorchStreamWriter; the
// rest of the time (and whenever the input is not a readable archive) it
// mutates the raw bytes, which exercises the zip reader and the header checks.
#include <ATen/ATen.h>
#include <c10/util/Logging.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "lightning/checkpoint/checkpoint_io.h"
#include "lightning/error.h"
#include "lightning/state_dict.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace lightning_fuzz {
const char* const kTarget = "checkpoint_reader_fuzz";
int write_seeds(const std::string& dir);  // make_corpus.cpp
}  // namespace lightning_fuzz

namespace {

std::string g_path;  // the file each input is written to

// Reads the first and the last byte of every tensor's view through
// instrumented code, so that ASan sees a view reaching outside its storage.
volatile unsigned char g_sink;
void touch(const c10::IValue& value, int depth) {
  if (depth > 2000) return;
  if (value.isTensor()) {
    const at::Tensor& t = value.toTensor();
    if (!t.defined() || t.numel() == 0 || !t.device().is_cpu()) return;
    int64_t last = t.storage_offset();
    for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    const auto* base = static_cast<const unsigned char*>(t.storage().data());
    const int64_t item = static_cast<int64_t>(t.element_size());
    g_sink = base[t.storage_offset() * item];
    g_sink = base[(last + 1) * item - 1];
  } else if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      touch(entry.key(), depth + 1);
      touch(entry.value(), depth + 1);
    }
  } else if (value.isList()) {
    for (const auto& item : value.toListRef()) touch(item, depth + 1);
  } else if (value.isTuple()) {
    for (const auto& item : value.toTupleRef().elements()) touch(item, depth + 1);
  } else if (lightning::is_python_object(value)) {
    (void)lightning::python_object_name(value);
    const auto& object = value.toObjectRef();
    touch(object.getSlot(1), depth + 1);
    touch(object.getSlot(2), depth + 1);
  }
}

// ------------------------------------------------------------ mutator --

using Records = std::vector<std::pair<std::string, std::string>>;

bool unpack(const uint8_t* data, size_t size, Records* records) {
  try {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    caffe2::serialize::PyTorchStreamReader reader(&in);
    for (const std::string& name : reader.getAllRecords()) {
      auto [ptr, n] = reader.getRecord(name);
      records->emplace_back(name, std::string(static_cast<const char*>(ptr.get()), n));
    }
    return !records->empty();
  } catch (const std::exception&) {  // c10::Error, std::bad_alloc, ...
    return false;
  }
}

bool pack(const Records& records, std::string* out) {
  try {
    out->clear();
    caffe2::serialize::PyTorchStreamWriter writer([out](const void* buffer, size_t n) {
      out->append(static_cast<const char*>(buffer), n);
      return n;
    });
    // In their order, "version" included (libtorch 1.13's writer adds none).
    for (const auto& [name, bytes] : records) writer.writeRecord(name, bytes.data(), bytes.size());
    writer.writeEndOfFile();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // `checkpoint_reader_fuzz --write-seeds DIR`: write the C++ seeds and exit
  // (libFuzzer has not looked at the arguments yet).
  if (*argc == 3 && std::strcmp((*argv)[1], "--write-seeds") == 0) {
    std::exit(lightning_fuzz::write_seeds((*argv)[2]));
  }
  g_path = lightning_fuzz::make_temp_dir() + "/input.ckpt";
  // Most inputs are malformed archives, and every c10::Error the zip reader
  // raises symbolizes a C++ backtrace (dladdr), which took two thirds of the
  // time. The reader only keeps what_without_backtrace(): skip it.
  c10::SetStackTraceFetcher([] { return std::string(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lightning_fuzz::write_file(g_path, data, size);
  // Loads, or a lightning::Error naming the file (run.sh's seeds must load).
  lightning_fuzz::loads(size, g_path, [] {
    const lightning::StateDict ckpt = lightning::load_checkpoint_file(g_path);
    touch(c10::IValue(ckpt), 0);
    (void)lightning::find_python_object(c10::IValue(ckpt));
  });
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  std::minstd_rand rng(seed);
  Records records;
  if (rng() % 4 == 0 || !unpack(data, size, &records)) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  size_t pick = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].first == "data.pkl") pick = i;
  }
  if (rng() % 5 == 0) pick = rng() % records.size();  // a storage, byteorder, version
  std::string& bytes = records[pick].second;
  const size_t old_size = bytes.size();
  const size_t room = std::min<size_t>(max_size, old_size + 256);
  bytes.resize(std::max(room, old_size));
  const size_t new_size =
      LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(bytes.data()), old_size, bytes.size());
  bytes.resize(new_size);
  std::string packed;
  if (!pack(records, &packed) || packed.size() > max_size) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  std::memcpy(data, packed.data(), packed.size());
  return packed.size();
}
