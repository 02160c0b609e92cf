#include "metrics/reference.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "lightning/error.h"

namespace lightning::metrics::testing {

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == sep && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

double parse_number(const std::string& s) {
  if (s == "nan") return std::nan("");
  if (s == "inf") return INFINITY;
  if (s == "-inf") return -INFINITY;
  size_t used = 0;
  const double v = std::stod(s, &used);
  if (used != s.size()) throw std::invalid_argument("not a number: " + s);
  return v;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::map<std::string, std::string> parse_kwargs(const std::vector<std::string>& w, size_t from) {
  std::map<std::string, std::string> out;
  for (size_t i = from; i < w.size(); ++i) {
    const auto eq = w[i].find('=');
    if (eq == std::string::npos) throw std::invalid_argument("not key=value: " + w[i]);
    out[w[i].substr(0, eq)] = w[i].substr(eq + 1);
  }
  return out;
}

struct Compared {
  bool ok = true;
  double rel = 0.0;
  std::string why;
};

Compared compare(const at::Tensor& got_in, const at::Tensor& want) {
  Compared c;
  if (!got_in.defined()) return {false, 0.0, "undefined output"};
  const at::Tensor got = got_in.detach().cpu();
  if (got.sizes() != want.sizes()) {
    std::ostringstream os;
    os << "shape " << got.sizes() << " vs expected " << want.sizes();
    return {false, 0.0, os.str()};
  }
  const bool exact = !at::isFloatingType(want.scalar_type());
  const at::Tensor g = got.to(at::kDouble).reshape(-1).contiguous();
  const at::Tensor e = want.to(at::kDouble).reshape(-1).contiguous();
  const double* gp = g.data_ptr<double>();
  const double* ep = e.data_ptr<double>();
  for (int64_t i = 0; i < g.numel(); ++i) {
    const double a = gp[i], b = ep[i];
    if (std::isnan(b) || std::isnan(a)) {
      if (std::isnan(a) != std::isnan(b)) {
        c.ok = false;
        c.why = "element " + std::to_string(i) + ": " + std::to_string(a) + " vs expected " +
                std::to_string(b);
        return c;
      }
      continue;
    }
    if (std::isinf(b) || std::isinf(a)) {
      if (a != b) {
        c.ok = false;
        c.why = "element " + std::to_string(i) + ": " + std::to_string(a) + " vs expected " +
                std::to_string(b);
        return c;
      }
      continue;
    }
    const double diff = std::fabs(a - b);
    const double scale = std::max(std::fabs(a), std::fabs(b));
    if (exact) {
      if (diff != 0.0) {
        c.ok = false;
        c.why = "element " + std::to_string(i) + ": " + std::to_string(a) + " vs exact " +
                std::to_string(b);
        return c;
      }
      continue;
    }
    if (scale > 0) c.rel = std::max(c.rel, diff > 1e-7 ? diff / scale : 0.0);
    if (diff > 1e-6 * scale && diff > 1e-7) {
      std::ostringstream os;
      os.precision(17);
      os << "element " << i << ": " << a << " vs expected " << b << " (relative " << diff / scale
         << ")";
      c.ok = false;
      c.why = os.str();
      return c;
    }
  }
  return c;
}

}  // namespace

// ---- Kwargs -------------------------------------------------------------------

const std::string* Kwargs::get(const std::string& key) {
  used_.insert(key);
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

bool Kwargs::has(const std::string& key) const { return values_.count(key) > 0; }

bool Kwargs::is_none(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() || it->second == "none";
}

int64_t Kwargs::integer(const std::string& key, int64_t fallback) {
  const std::string* v = get(key);
  return v && *v != "none" ? std::stoll(*v) : fallback;
}

std::optional<int64_t> Kwargs::optional_integer(const std::string& key) {
  const std::string* v = get(key);
  if (!v || *v == "none") return std::nullopt;
  return std::stoll(*v);
}

double Kwargs::number(const std::string& key, double fallback) {
  const std::string* v = get(key);
  return v && *v != "none" ? parse_number(*v) : fallback;
}

std::optional<double> Kwargs::optional_number(const std::string& key) {
  const std::string* v = get(key);
  if (!v || *v == "none") return std::nullopt;
  return parse_number(*v);
}

std::string Kwargs::text(const std::string& key, const std::string& fallback) {
  const std::string* v = get(key);
  return v ? *v : fallback;
}

bool Kwargs::flag(const std::string& key, bool fallback) {
  const std::string* v = get(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  throw std::invalid_argument(key + " is not a bool: " + *v);
}

std::vector<double> Kwargs::numbers(const std::string& key) {
  const std::string* v = get(key);
  std::vector<double> out;
  if (!v || *v == "none") return out;
  std::string body = *v;
  if (!body.empty() && body.front() == '[') body = body.substr(1, body.size() - 2);
  if (body.empty()) return out;
  for (const auto& part : split(body, ',')) out.push_back(parse_number(part));
  return out;
}

std::string Kwargs::raw(const std::string& key) {
  const std::string* v = get(key);
  return v ? *v : "none";
}

std::vector<std::string> Kwargs::unused() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values_) {
    if (!used_.count(k)) out.push_back(k);
  }
  return out;
}

// ---- tensors ------------------------------------------------------------------

at::Tensor parse_tensor(const std::string& text) {
  const auto open = text.find('[');
  const auto close = text.find(']');
  const auto colon = text.find(':', close);
  if (open == std::string::npos || close == std::string::npos || colon == std::string::npos) {
    throw std::invalid_argument("not a tensor: " + text.substr(0, 40));
  }
  const std::string dtype = text.substr(0, open);
  std::vector<int64_t> shape;
  const std::string dims = text.substr(open + 1, close - open - 1);
  if (!dims.empty()) {
    for (const auto& d : split(dims, ',')) shape.push_back(std::stoll(d));
  }
  std::vector<double> values;
  const std::string body = text.substr(colon + 1);
  if (!body.empty()) {
    for (const auto& v : split(body, ',')) values.push_back(parse_number(v));
  }
  at::Tensor t = at::tensor(values, at::kDouble);
  if (values.empty()) t = at::empty({0}, at::kDouble);
  t = t.reshape(shape);
  if (dtype == "f32") return t.to(at::kFloat);
  if (dtype == "f64") return t;
  if (dtype == "i64") return t.to(at::kLong);
  if (dtype == "i32") return t.to(at::kInt);
  if (dtype == "b") return t.to(at::kBool);
  throw std::invalid_argument("unknown dtype " + dtype);
}

// ---- the runner -----------------------------------------------------------------

double run_reference_file(const std::string& path, const Factory& factory) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::shared_ptr<Metric> metric;
  std::string case_id;
  std::string line;
  int line_no = 0;
  int records = 0;
  double worst = 0.0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(line_no) + " (" + case_id + ")";
    ++records;
    const auto sep = line.find(" :: ");
    const std::string head = sep == std::string::npos ? line : line.substr(0, sep);
    const std::string expected_text = sep == std::string::npos ? "" : line.substr(sep + 4);
    const auto w = words(head);
    const std::string& kind = w[0];
    try {
      if (kind == "case") {
        case_id = w.at(1);
        Kwargs kwargs(parse_kwargs(w, 3));
        metric = factory(w.at(2), kwargs);
        EXPECT_TRUE(metric != nullptr) << where << ": the factory does not know " << w[2];
        EXPECT_TRUE(kwargs.unused().empty())
            << where << ": the factory ignored " << kwargs.unused().front();
      } else if (kind == "reject") {
        Kwargs kwargs(parse_kwargs(w, 2));
        try {
          auto m = factory(w.at(1), kwargs);
          ADD_FAILURE() << where << ": constructing " << w[1] << " did not throw (wanted '"
                        << expected_text << "')";
        } catch (const lightning::Error& e) {
          EXPECT_NE(std::string(e.what()).find(expected_text), std::string::npos)
              << where << ": message '" << e.what() << "' does not name '" << expected_text << "'";
        }
      } else if (metric == nullptr) {
        ADD_FAILURE() << where << ": no metric";
      } else if (kind == "update" || kind == "reject_update") {
        std::vector<at::Tensor> inputs;
        for (size_t i = 1; i < w.size(); ++i) inputs.push_back(parse_tensor(w[i]));
        auto call = [&] {
          if (inputs.size() == 1) {
            metric->update(inputs[0]);
          } else {
            ASSERT_EQ(inputs.size(), 2u) << where;
            metric->update(inputs[0], inputs[1]);
          }
        };
        if (kind == "update") {
          call();
        } else {
          try {
            call();
            ADD_FAILURE() << where << ": update did not throw (wanted '" << expected_text << "')";
          } catch (const lightning::Error& e) {
            EXPECT_NE(std::string(e.what()).find(expected_text), std::string::npos)
                << where << ": message '" << e.what() << "' does not name '" << expected_text
                << "'";
          }
        }
      } else if (kind == "forward") {
        std::vector<at::Tensor> inputs;
        size_t i = 1;
        for (; i < w.size() && w[i] != "->"; ++i) inputs.push_back(parse_tensor(w[i]));
        if (i + 1 >= w.size()) {
          ADD_FAILURE() << where << ": forward without an expected value";
          continue;
        }
        const at::Tensor want = parse_tensor(w[i + 1]);
        const at::Tensor got =
            inputs.size() == 1 ? metric->forward(inputs[0]) : metric->forward(inputs[0], inputs[1]);
        const Compared c = compare(got, want);
        EXPECT_TRUE(c.ok) << where << ": forward: " << c.why;
        worst = std::max(worst, c.rel);
      } else if (kind == "compute") {
        const auto outputs = metric->compute_outputs();
        EXPECT_EQ(outputs.size(), w.size() - 1) << where << ": number of outputs";
        for (size_t k = 1; k < w.size() && k - 1 < outputs.size(); ++k) {
          const Compared c = compare(outputs[k - 1], parse_tensor(w[k]));
          EXPECT_TRUE(c.ok) << where << ": output " << k - 1 << ": " << c.why;
          worst = std::max(worst, c.rel);
        }
      } else {
        ADD_FAILURE() << where << ": unknown record '" << kind << "'";
      }
    } catch (const lightning::Error& e) {
      ADD_FAILURE() << where << ": lightning::Error: " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << where << ": " << e.what();
    }
  }
  EXPECT_GT(records, 0) << path << " has no records";
  return worst;
}

}  // namespace lightning::metrics::testing
