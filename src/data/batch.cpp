#include "lightning/data/batch.h"

#include <sstream>

#include "lightning/error.h"

namespace lightning {
namespace {

std::string quoted_list(const std::vector<std::string>& names) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size(); ++i) out << (i ? ", '" : "'") << names[i] << "'";
  return out.str();
}

}  // namespace

Batch::Batch(std::vector<std::string> names, std::vector<at::Tensor> tensors)
    : tensors_(std::move(tensors)), names_(std::move(names)) {
  LIGHTNING_CHECK(names_.size() == tensors_.size(), "Batch got ", names_.size(), " names for ",
                  tensors_.size(), " tensors; pass one name per tensor.");
  for (size_t i = 0; i < names_.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      LIGHTNING_CHECK(names_[i] != names_[j], "Batch field name '", names_[i],
                      "' appears twice (positions ", j, " and ", i, "); names must be unique.");
    }
  }
}

const at::Tensor& Batch::operator[](size_t i) const {
  LIGHTNING_CHECK(i < tensors_.size(), "batch[", i, "] is out of range: the batch holds ",
                  tensors_.size(), " tensors.");
  return tensors_[i];
}

at::Tensor& Batch::operator[](size_t i) {
  return const_cast<at::Tensor&>(static_cast<const Batch&>(*this)[i]);
}

const at::Tensor& Batch::operator[](const std::string& name) const {
  LIGHTNING_CHECK(!names_.empty(), "batch['", name,
                  "']: the batch has no field names; index it by position (batch[0]) or build "
                  "it with Batch({names...}, {tensors...}).");
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return tensors_[i];
  }
  LIGHTNING_FAIL("batch['", name, "']: no such field; the batch has ", quoted_list(names_), ".");
}

bool Batch::contains(const std::string& name) const {
  for (const auto& n : names_) {
    if (n == name) return true;
  }
  return false;
}

int64_t Batch::batch_size() const {
  if (tensors_.empty()) return 0;
  const at::Tensor& first = tensors_.front();
  LIGHTNING_CHECK(first.defined(),
                  "Batch::batch_size(): the first tensor of the batch is undefined; put a "
                  "defined tensor first.");
  return first.dim() == 0 ? 1 : first.size(0);
}

Batch Batch::pin_memory() const {
  Batch out;
  out.names_ = names_;
  out.tensors_.reserve(tensors_.size());
  for (const auto& t : tensors_) {
    out.tensors_.push_back(t.defined() && t.is_cpu() ? t.pin_memory() : t);
  }
  return out;
}

bool Batch::is_pinned() const {
  bool any = false;
  for (const auto& t : tensors_) {
    if (!t.defined()) continue;
    if (!t.is_pinned()) return false;
    any = true;
  }
  return any;
}

Batch Batch::to(const at::Device& device, bool non_blocking) const {
  Batch out;
  out.names_ = names_;
  out.tensors_.reserve(tensors_.size());
  for (const auto& t : tensors_) {
    out.tensors_.push_back(t.defined() ? t.to(device, non_blocking) : t);
  }
  return out;
}

Batch Batch::to(at::ScalarType dtype) const {
  LIGHTNING_CHECK(at::isFloatingType(dtype),
                  "Batch::to(dtype) casts the floating-point tensors of a batch and needs a "
                  "floating dtype, got ",
                  dtype, "; cast integer tensors one by one with batch[i].to(dtype).");
  Batch out;
  out.names_ = names_;
  out.tensors_.reserve(tensors_.size());
  for (const auto& t : tensors_) {
    out.tensors_.push_back(t.defined() && t.is_floating_point() ? t.to(dtype) : t);
  }
  return out;
}

void Batch::check_unpack(size_t n) const {
  LIGHTNING_CHECK(tensors_.size() >= n, "batch.unpack<", n, ">() needs at least ", n,
                  " tensors but the batch holds ", tensors_.size(), ". Unpack fewer (batch.unpack<",
                  tensors_.size(), ">()) or return more tensors from the Dataset's get().");
}

Batch collate(const std::vector<Batch>& samples) {
  LIGHTNING_CHECK(!samples.empty(), "collate() got no samples; it needs at least one.");
  const Batch& first = samples.front();
  const size_t fields = first.size();
  for (size_t s = 1; s < samples.size(); ++s) {
    LIGHTNING_CHECK(samples[s].size() == fields, "collate(): sample ", s, " holds ",
                    samples[s].size(), " tensors but sample 0 holds ", fields,
                    "; every sample must have the same fields.");
    LIGHTNING_CHECK(samples[s].names() == first.names(), "collate(): sample ", s,
                    " has field names [", quoted_list(samples[s].names()), "] but sample 0 has [",
                    quoted_list(first.names()), "]; every sample must have the same fields.");
  }
  std::vector<at::Tensor> stacked;
  stacked.reserve(fields);
  std::vector<at::Tensor> column(samples.size());
  for (size_t f = 0; f < fields; ++f) {
    const at::Tensor& ref = first.tensors()[f];
    LIGHTNING_CHECK(ref.defined(), "collate(): field ", f,
                    " of sample 0 is an undefined tensor; samples must hold defined tensors.");
    for (size_t s = 0; s < samples.size(); ++s) {
      const at::Tensor& t = samples[s].tensors()[f];
      LIGHTNING_CHECK(t.defined() && t.sizes() == ref.sizes(), "collate(): field ", f,
                      " of sample ", s, " has shape ",
                      t.defined() ? c10::str(t.sizes()) : std::string("<undefined>"),
                      " but sample 0 has ", ref.sizes(),
                      "; samples must have equal shapes to be stacked (pass a collate_fn that "
                      "pads them).");
      column[s] = t;
    }
    stacked.push_back(at::stack(column));
  }
  if (first.names().empty()) return Batch(std::move(stacked));
  return Batch(first.names(), std::move(stacked));
}

}  // namespace lightning
