// The zip container of .ckpt files, read without trusting its headers.
// Format: PKWARE's APPNOTE.TXT (end of central directory, its zip64 variant,
// central directory headers, local headers); CRC-32 as in ISO 3309.
#include "checkpoint/zip_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lightning/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LIGHTNING_CRC_CLMUL 1
#endif

namespace lightning::detail {

// -------------------------------------------------------------- CRC-32 --

namespace {

constexpr uint32_t kReflectedPolynomial = 0xEDB88320u;

// Slicing-by-8: table[k][b] is the CRC of byte b followed by k zero bytes.
struct CrcTables {
  uint32_t table[8][256];
};

constexpr CrcTables make_crc_tables() {
  CrcTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kReflectedPolynomial : c >> 1;
    t.table[0][b] = c;
  }
  for (int k = 1; k < 8; ++k) {
    for (uint32_t b = 0; b < 256; ++b) {
      const uint32_t prev = t.table[k - 1][b];
      t.table[k][b] = (prev >> 8) ^ t.table[0][prev & 0xFF];
    }
  }
  return t;
}

constexpr CrcTables kCrc = make_crc_tables();

// `state` is the inverted CRC register.
uint32_t crc_bytes(uint32_t state, const unsigned char* p, size_t n) {
  const auto& t = kCrc.table;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= state;
    state = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
  }
#endif
  for (; n > 0; ++p, --n) state = t[0][(state ^ *p) & 0xFF] ^ (state >> 8);
  return state;
}

#ifdef LIGHTNING_CRC_CLMUL
// Carry-less multiplication folding (the method of Intel's white paper "Fast
// CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction"): four
// 128-bit lanes are folded 64 bytes ahead, then into one lane, then reduced
// to 32 bits (Barrett). The constants are x^n mod P, bit-reflected and
// shifted left by one, for the n named beside them; P' is P reflected and u'
// is floor(x^64 / P) reflected. `n` >= 64 and a multiple of 16.
#define LIGHTNING_CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

LIGHTNING_CLMUL_TARGET inline __m128i load(const unsigned char* q) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
}

// x * k (each 64-bit half by its own constant), plus `next`.
LIGHTNING_CLMUL_TARGET inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(
      _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

// Folds the 16-byte blocks that follow the lane `x1` into it, then reduces
// it to the 32-bit register; `n` % 16 == 0.
LIGHTNING_CLMUL_TARGET uint32_t crc_finish(__m128i x1, const unsigned char* p, size_t n) {
  const __m128i fold1 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);    // x^96, x^160
  const __m128i fold64 = _mm_set_epi64x(0, 0x163cd6124);             // x^64
  const __m128i barrett = _mm_set_epi64x(0x1f7011641, 0x1db710641);  // u', P'
  const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
  for (; n >= 16; p += 16, n -= 16) x1 = fold(x1, fold1, load(p));

  // 128 -> 64 bits.
  __m128i t = _mm_clmulepi64_si128(x1, fold1, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
  t = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), fold64, 0x00), t);
  // 64 -> 32 bits.
  t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), barrett, 0x10), low32);
  t = _mm_clmulepi64_si128(t, barrett, 0x00);
  x1 = _mm_xor_si128(x1, t);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

LIGHTNING_CLMUL_TARGET uint32_t crc_clmul(uint32_t state, const unsigned char* p, size_t n) {
  const __m128i fold4 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);  // x^480, x^544
  const __m128i fold1 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);  // x^96, x^160
  __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(state)));
  __m128i x2 = load(p + 16);
  __m128i x3 = load(p + 32);
  __m128i x4 = load(p + 48);
  p += 64;
  n -= 64;
  for (; n >= 64; p += 64, n -= 64) {
    x1 = fold(x1, fold4, load(p));
    x2 = fold(x2, fold4, load(p + 16));
    x3 = fold(x3, fold4, load(p + 32));
    x4 = fold(x4, fold4, load(p + 48));
  }
  x1 = fold(x1, fold1, x2);
  x1 = fold(x1, fold1, x3);
  x1 = fold(x1, fold1, x4);
  return crc_finish(x1, p, n);
}

// The same with 256-bit registers (VPCLMULQDQ): four registers of two lanes
// folded 128 bytes ahead, then into one register, whose two lanes become
// one; crc_finish goes on from there. `n` >= 128 and a multiple of 16.
#define LIGHTNING_VCLMUL_TARGET __attribute__((target("vpclmulqdq,avx2,pclmul,sse4.1")))

LIGHTNING_VCLMUL_TARGET inline __m256i load256(const unsigned char* q) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
}

LIGHTNING_VCLMUL_TARGET inline __m256i fold256(__m256i x, __m256i k, __m256i next) {
  return _mm256_xor_si256(
      _mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00), _mm256_clmulepi64_epi128(x, k, 0x11)),
      next);
}

LIGHTNING_VCLMUL_TARGET uint32_t crc_vclmul(uint32_t state, const unsigned char* p, size_t n) {
  const __m256i fold8 = _mm256_set_epi64x(0x14a7fe880, 0x1e88ef372, 0x14a7fe880,
                                          0x1e88ef372);  // x^992, x^1056
  const __m256i fold2 = _mm256_set_epi64x(0x15a546366, 0x0f1da05aa, 0x15a546366,
                                          0x0f1da05aa);            // x^224, x^288
  const __m128i fold1 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);  // x^96, x^160

  __m256i x1 = _mm256_xor_si256(load256(p),
                                _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(state))));
  __m256i x2 = load256(p + 32);
  __m256i x3 = load256(p + 64);
  __m256i x4 = load256(p + 96);
  p += 128;
  n -= 128;
  for (; n >= 128; p += 128, n -= 128) {
    x1 = fold256(x1, fold8, load256(p));
    x2 = fold256(x2, fold8, load256(p + 32));
    x3 = fold256(x3, fold8, load256(p + 64));
    x4 = fold256(x4, fold8, load256(p + 96));
  }
  x1 = fold256(x1, fold2, x2);
  x1 = fold256(x1, fold2, x3);
  x1 = fold256(x1, fold2, x4);
  for (; n >= 32; p += 32, n -= 32) x1 = fold256(x1, fold2, load256(p));
  // The lower lane holds the earlier bytes: folded onto the upper one.
  return crc_finish(fold(_mm256_castsi256_si128(x1), fold1, _mm256_extracti128_si256(x1, 1)), p, n);
}

bool cpu_has_clmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return has;
}

bool cpu_has_vclmul() {
  static const bool has =
      cpu_has_clmul() && __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("avx2");
  return has;
}
#endif

std::atomic<bool> g_verify_crc{true};

}  // namespace

uint32_t crc32_portable(uint32_t crc, const void* data, size_t size) {
  return ~crc_bytes(~crc, static_cast<const unsigned char*>(data), size);
}

uint32_t crc32(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t state = ~crc;
#ifdef LIGHTNING_CRC_CLMUL
  if (size >= 64 && cpu_has_clmul()) {
    const size_t bulk = size & ~size_t{15};
    state =
        bulk >= 128 && cpu_has_vclmul() ? crc_vclmul(state, p, bulk) : crc_clmul(state, p, bulk);
    p += bulk;
    size -= bulk;
  }
#endif
  return ~crc_bytes(state, p, size);
}

void set_verify_record_crc(bool on) { g_verify_crc.store(on); }
bool verify_record_crc() { return g_verify_crc.load(); }

// ---------------------------------------------------------- ZipReader --

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndOfDirectorySize = 22;
constexpr size_t kZip64EndOfDirectorySize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kChunk = size_t{1} << 20;         // read and checked while in cache
constexpr size_t kCheckerChunk = size_t{4} << 20;  // one job of the checker thread

uint16_t u16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}
uint64_t u64(const unsigned char* p) { return u32(p) | static_cast<uint64_t>(u32(p + 4)) << 32; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

constexpr const char* kWhatToDo =
    "the file is corrupt (damaged on disk or in transfer, or cut short); load an earlier "
    "checkpoint, or copy this one again from where it was written.";

}  // namespace

ZipReader::ZipReader(const std::string& path, std::string context)
    : path_(path), context_(std::move(context)) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(std::string("the file cannot be opened: ") + std::strerror(errno) + ".");
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(std::string("fstat failed: ") + std::strerror(errno) + ".");
    file_size_ = static_cast<uint64_t>(st.st_size);
    read_central_directory();
  } catch (...) {  // the destructor does not run
    ::close(fd_);
    throw;
  }
}

void ZipReader::fail(const std::string& what) const { LIGHTNING_FAIL(context_, ": ", what); }

void ZipReader::read_at(uint64_t offset, void* buffer, size_t size) const {
  auto* p = static_cast<char*>(buffer);
  while (size > 0) {
    const ssize_t got = ::pread(fd_, p, size, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(std::string("reading it failed: ") + std::strerror(errno) + ".");
    }
    if (got == 0) fail("it ended while being read (it shrank, or is being written).");
    p += got;
    offset += static_cast<uint64_t>(got);
    size -= static_cast<size_t>(got);
  }
}

void ZipReader::read_central_directory() {
  const auto not_zip = [&](const std::string& why) {
    fail("it is not a torch.save zip archive (" + why + ").");
  };
  if (file_size_ < kEndOfDirectorySize) not_zip("too short for a zip file");
  // The end-of-central-directory record is the last 22 bytes plus a comment
  // of up to 65535 bytes; the last signature wins, as in libtorch's reader.
  const size_t tail_size =
      static_cast<size_t>(std::min<uint64_t>(file_size_, kEndOfDirectorySize + 0xFFFF));
  std::string tail(tail_size, '\0');
  const uint64_t tail_offset = file_size_ - tail_size;
  read_at(tail_offset, tail.data(), tail_size);
  const auto* t = reinterpret_cast<const unsigned char*>(tail.data());
  size_t end = std::string::npos;
  for (size_t i = tail_size - kEndOfDirectorySize + 1; i-- > 0;) {
    if (u32(t + i) == kEndOfDirectory) {
      end = i;
      break;
    }
  }
  if (end == std::string::npos) not_zip("no end of central directory record");
  uint64_t count = u16(t + end + 10);
  uint64_t directory_size = u32(t + end + 12);
  uint64_t directory_offset = u32(t + end + 16);
  const uint64_t end_offset = tail_offset + end;
  uint64_t directory_end = end_offset;
  if (u16(t + end + 4) != 0 || u16(t + end + 6) != 0) not_zip("it spans several disks");
  if (end >= kZip64LocatorSize && u32(t + end - kZip64LocatorSize) == kZip64Locator) {
    const uint64_t zip64_offset = u64(t + end - kZip64LocatorSize + 8);
    if (zip64_offset > end_offset - kZip64LocatorSize ||
        end_offset - kZip64LocatorSize - zip64_offset < kZip64EndOfDirectorySize) {
      fail("its zip64 end of central directory lies outside the file; " + std::string(kWhatToDo));
    }
    unsigned char z[kZip64EndOfDirectorySize];
    read_at(zip64_offset, z, sizeof(z));
    if (u32(z) != kZip64EndOfDirectory)
      fail("its zip64 end of central directory is damaged; " + std::string(kWhatToDo));
    count = u64(z + 32);
    directory_size = u64(z + 40);
    directory_offset = u64(z + 48);
    directory_end = zip64_offset;
  }
  if (directory_offset > directory_end || directory_size > directory_end - directory_offset) {
    fail("its central directory (" + std::to_string(directory_size) + " bytes at offset " +
         std::to_string(directory_offset) + ") lies outside the file of " +
         std::to_string(file_size_) + " bytes; " + kWhatToDo);
  }
  if (count > directory_size / kCentralHeaderSize) {
    fail("its central directory claims " + std::to_string(count) + " records in " +
         std::to_string(directory_size) + " bytes; " + kWhatToDo);
  }
  directory_offset_ = directory_offset;

  std::string directory(static_cast<size_t>(directory_size), '\0');
  read_at(directory_offset, directory.data(), directory.size());
  const auto* d = reinterpret_cast<const unsigned char*>(directory.data());
  size_t at = 0;
  entries_.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (directory.size() - at < kCentralHeaderSize || u32(d + at) != kCentralHeader) {
      fail("central directory entry " + std::to_string(i) + " is damaged; " + kWhatToDo);
    }
    const unsigned char* h = d + at;
    const size_t name_size = u16(h + 28);
    const size_t extra_size = u16(h + 30);
    const size_t comment_size = u16(h + 32);
    if (directory.size() - at - kCentralHeaderSize < name_size + extra_size + comment_size) {
      fail("central directory entry " + std::to_string(i) + " is damaged; " + kWhatToDo);
    }
    Entry e;
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_size);
    const uint16_t flags = u16(h + 8);
    const uint16_t method = u16(h + 10);
    e.crc = u32(h + 16);
    uint64_t stored = u32(h + 20);
    uint64_t size = u32(h + 24);
    e.header_offset = u32(h + 42);
    // Zip64: the fields saturated in the header follow in the extra field.
    const unsigned char* x = h + kCentralHeaderSize + name_size;
    for (size_t k = 0; k + 4 <= extra_size;) {
      const uint16_t id = u16(x + k);
      const size_t len = u16(x + k + 2);
      if (k + 4 + len > extra_size) break;
      if (id == 0x0001) {
        const unsigned char* v = x + k + 4;
        size_t left = len;
        const auto next = [&](uint64_t* field) {
          if (*field != 0xFFFFFFFFu) return;
          if (left < 8) fail("the zip64 sizes of record " + e.name + " are damaged; " + kWhatToDo);
          *field = u64(v);
          v += 8;
          left -= 8;
        };
        next(&size);
        next(&stored);
        next(&e.header_offset);
      }
      k += 4 + len;
    }
    at += kCentralHeaderSize + name_size + extra_size + comment_size;

    if (size > file_size_ || stored > file_size_) {
      fail("record " + e.name + " claims " + std::to_string(std::max(size, stored)) +
           " bytes, but the whole file has only " + std::to_string(file_size_) + "; " + kWhatToDo);
    }
    if (method != 0) {
      fail("record " + e.name + " is compressed (zip method " + std::to_string(method) +
           "); torch.save stores records uncompressed. Load it in Python and save it again with "
           "torch.save.");
    }
    if ((flags & 1) != 0) fail("record " + e.name + " is encrypted; checkpoints never are.");
    if (stored != size) {
      fail("record " + e.name + " is stored uncompressed but claims " + std::to_string(size) +
           " bytes and " + std::to_string(stored) + " stored bytes; " + kWhatToDo);
    }
    if (e.header_offset > directory_offset_ ||
        directory_offset_ - e.header_offset < kLocalHeaderSize + size) {
      fail("record " + e.name + " (" + std::to_string(size) + " bytes at offset " +
           std::to_string(e.header_offset) + ") does not fit before the central directory at " +
           std::to_string(directory_offset_) + "; " + kWhatToDo);
    }
    e.size = size;
    if (!by_name_.emplace(e.name, entries_.size()).second) {
      fail("it has two records named " + e.name + "; " + kWhatToDo);
    }
    entries_.push_back(std::move(e));
  }
  if (!entries_.empty()) {
    const std::string& first = entries_.front().name;
    prefix_ = first.substr(0, first.find('/'));
  }
}

std::vector<std::string> ZipReader::record_names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const Entry& e : entries_) names.push_back(e.name);
  return names;
}

bool ZipReader::has_record(const std::string& name) const {
  return by_name_.count(prefix_ + "/" + name) > 0;
}

const ZipReader::Entry& ZipReader::entry(const std::string& name) const {
  const auto found = by_name_.find(prefix_ + "/" + name);
  if (found == by_name_.end()) fail("the archive has no record " + prefix_ + "/" + name + ".");
  return entries_[found->second];
}

uint64_t ZipReader::data_offset(const Entry& e) const {
  unsigned char local[kLocalHeaderSize];
  read_at(e.header_offset, local, sizeof(local));
  if (u32(local) != kLocalHeader) {
    fail("the local header of record " + e.name + " is damaged; " + kWhatToDo);
  }
  const uint64_t offset = e.header_offset + kLocalHeaderSize + u16(local + 26) + u16(local + 28);
  if (offset > directory_offset_ || directory_offset_ - offset < e.size) {
    fail("record " + e.name + " (" + std::to_string(e.size) + " bytes at offset " +
         std::to_string(offset) + ") runs into the central directory at " +
         std::to_string(directory_offset_) + "; " + kWhatToDo);
  }
  return offset;
}

void ZipReader::fail_crc(const Entry& e, uint32_t crc) const {
  fail("record " + e.name + " fails its CRC-32 check (the zip header says " + hex32(e.crc) +
       ", its " + std::to_string(e.size) + " bytes give " + hex32(crc) + "); " + kWhatToDo);
}

at::DataPtr ZipReader::read_record(const std::string& name, size_t* size) const {
  const Entry& e = entry(name);
  const uint64_t offset = data_offset(e);
  const size_t n = static_cast<size_t>(e.size);
  at::DataPtr data = c10::GetCPUAllocator()->allocate(n);
  auto* p = static_cast<unsigned char*>(data.get());
  const bool verify = verify_record_crc();
  uint32_t crc = 0;
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min(kChunk, n - done);
    read_at(offset + done, p + done, chunk);
    if (verify) crc = crc32(crc, p + done, chunk);
    done += chunk;
  }
  if (verify && crc != e.crc) fail_crc(e, crc);
  *size = n;
  return data;
}

// ------------------------------------------------------------ checker --

// Computes CRCs on its own thread, chunk by chunk in the order they were
// read, while the reading goes on; each job keeps its storage alive.
class ZipReader::Checker {
 public:
  Checker() : thread_([this] { run(); }) {}
  ~Checker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_.notify_one();
    thread_.join();
  }

  void add(const Entry* e, c10::Storage keep, size_t begin, size_t end) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back({e, std::move(keep), begin, end});
    }
    work_.notify_one();
  }

  /// Waits for every job; the first record that failed, with its CRC.
  std::pair<const Entry*, uint32_t> finish() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [&] { return jobs_.empty() && !busy_; });
    return {failed_, failed_crc_};
  }

 private:
  struct Job {
    const Entry* entry;
    c10::Storage keep;
    size_t begin;
    size_t end;
  };

  void run() {
    uint32_t crc = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      work_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
      lock.unlock();
      const auto* p = static_cast<const unsigned char*>(job.keep.data());
      if (job.begin == 0) crc = 0;
      crc = crc32(crc, p + job.begin, job.end - job.begin);
      const bool mismatch = job.end == job.entry->size && crc != job.entry->crc;
      job.keep = c10::Storage();
      lock.lock();
      if (mismatch && failed_ == nullptr) {
        failed_ = job.entry;
        failed_crc_ = crc;
      }
      busy_ = false;
      if (jobs_.empty()) idle_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  bool busy_ = false;
  const Entry* failed_ = nullptr;
  uint32_t failed_crc_ = 0;
  std::thread thread_;  // last: starts after the members it uses
};

c10::Storage ZipReader::read_storage(const std::string& name) {
  const Entry& e = entry(name);
  const uint64_t offset = data_offset(e);
  const size_t n = static_cast<size_t>(e.size);
  c10::Storage storage(c10::Storage::use_byte_size_t(), n, c10::GetCPUAllocator()->allocate(n),
                       /*allocator=*/nullptr, /*resizable=*/false);
  auto* p = static_cast<unsigned char*>(storage.data_ptr().get());
  const bool verify = verify_record_crc();
  if (verify && n == 0 && e.crc != 0) fail_crc(e, 0);
  for (size_t done = 0; done < n;) {
    const size_t chunk = std::min(kCheckerChunk, n - done);
    read_at(offset + done, p + done, chunk);
    if (verify) {
      if (!checker_) checker_ = std::make_unique<Checker>();
      checker_->add(&e, storage, done, done + chunk);
    }
    done += chunk;
  }
  return storage;
}

ZipReader::~ZipReader() {
  checker_.reset();  // stops and joins its thread
  if (fd_ >= 0) ::close(fd_);
}

void ZipReader::finish_checks() {
  if (!checker_) return;
  const auto [failed, crc] = checker_->finish();
  checker_.reset();
  if (failed != nullptr) fail_crc(*failed, crc);
}

}  // namespace lightning::detail
