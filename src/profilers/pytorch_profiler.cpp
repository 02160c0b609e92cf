// PyTorchProfiler: Kineto windows on a step schedule, "[pl][profile]" ranges,
// Chrome traces and the operator table.
#include <ATen/record_function.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/csrc/autograd/record_function_ops.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "lightning/error.h"
#include "lightning/profilers/pytorch.h"
#include "profilers/report_text.h"

namespace lightning {

namespace kineto = torch::autograd::profiler;
namespace prof = torch::profiler::impl;

namespace {

enum class Phase { kNone, kWarmup, kRecord, kRecordAndSave };

// torch.profiler.schedule's rule for step `step`.
Phase phase_of(const ProfilerSchedule& s, int64_t step) {
  if (step < s.skip_first()) return Phase::kNone;
  step -= s.skip_first();
  const int64_t cycle = s.wait() + s.warmup() + s.active();
  if (s.repeat() > 0 && step / cycle >= s.repeat()) return Phase::kNone;
  const int64_t at = step % cycle;
  if (at < s.wait()) return Phase::kNone;
  if (at < s.wait() + s.warmup()) return Phase::kWarmup;
  return at < cycle - 1 ? Phase::kRecord : Phase::kRecordAndSave;
}

// libtorch 2.x reports nanoseconds, 1.13 microseconds.
template <typename Event, typename = void>
struct ReportsNs : std::false_type {};
template <typename Event>
struct ReportsNs<Event, std::void_t<decltype(std::declval<const Event&>().durationNs())>>
    : std::true_type {};

template <typename Event>
double start_us(const Event& e) {
  if constexpr (ReportsNs<Event>::value) {
    return static_cast<double>(e.startNs()) / 1000.0;
  } else {
    return static_cast<double>(e.startUs());
  }
}
template <typename Event>
double duration_us(const Event& e) {
  if constexpr (ReportsNs<Event>::value) {
    return static_cast<double>(e.durationNs()) / 1000.0;
  } else {
    return static_cast<double>(e.durationUs());
  }
}

std::string shapes_text(const kineto::KinetoEvent& e) {
  if (!e.hasShapes()) return "[]";
  std::string out = "[";
  bool first_input = true;
  for (const auto& shape : e.shapes()) {
    out += first_input ? "[" : ", [";
    first_input = false;
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    out += "]";
  }
  return out + "]";
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The Chrome trace event format: one complete ("X") event per CPU event,
// times in microseconds.
void write_trace(const std::vector<kineto::KinetoEvent>& events, const std::string& path) {
  std::ofstream out(path);
  LIGHTNING_CHECK(out.good(), "PyTorchProfiler: cannot write the trace ", path,
                  "; pass a writable dirpath.");
  out << "{\"traceEvents\": [";
  bool first = true;
  char number[64];
  for (const auto& e : events) {
    if (e.deviceType() != c10::DeviceType::CPU) continue;
    out << (first ? "\n" : ",\n")
        << "{\"ph\": \"X\", \"cat\": \"cpu_op\", \"name\": " << json_string(e.name())
        << ", \"pid\": " << ::getpid() << ", \"tid\": " << e.startThreadId();
    std::snprintf(number, sizeof(number), ", \"ts\": %.3f, \"dur\": %.3f}", start_us(e),
                  duration_us(e));
    out << number;
    first = false;
  }
  out << "\n], \"displayTimeUnit\": \"ms\"}\n";
  LIGHTNING_CHECK(out.good(), "PyTorchProfiler: writing the trace ", path, " failed (disk full?).");
}

// A trace file's extension: ".<ms since 1970>.pt.trace.json", as torch's
// tensorboard_trace_handler names them.
std::string trace_suffix() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return "." + std::to_string(ms) + ".pt.trace.json";
}

// torch's _format_time.
std::string format_time(double us) {
  char buffer[32];
  if (us >= 1e6) {
    std::snprintf(buffer, sizeof(buffer), "%.3fs", us / 1e6);
  } else if (us >= 1e3) {
    std::snprintf(buffer, sizeof(buffer), "%.3fms", us / 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.3fus", us);
  }
  return buffer;
}

std::string percent(double part, double whole) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return buffer;
}

std::string pad(std::string text, size_t width, bool left) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return left ? text + fill : fill + text;
}

const std::vector<std::string>& sort_keys() {
  static const std::vector<std::string> keys = {"self_cpu_time_total", "cpu_time_total", "cpu_time",
                                                "count"};
  return keys;
}

}  // namespace

struct PyTorchProfiler::Impl {
  PyTorchProfilerOptions options;
  std::string step_suffix;  // the stage's step action ends with it
  std::string step_action;  // its full name, once seen
  int64_t step = 0;
  bool prepared = false;
  bool enabled = false;
  std::unordered_map<std::string, c10::intrusive_ptr<kineto::PythonRecordFunction>> ranges;
  std::map<std::pair<std::string, std::string>, OperatorStats> operators;
  std::vector<std::string> traces;

  prof::ProfilerConfig config() const {
    return prof::ProfilerConfig(prof::ProfilerState::KINETO, options.record_shapes(),
                                options.profile_memory(), options.with_stack(),
                                options.with_flops());
  }
  std::set<prof::ActivityType> activities() const {
    std::set<prof::ActivityType> a = {prof::ActivityType::CPU};
    if (torch::cuda::is_available()) a.insert(prof::ActivityType::CUDA);
    return a;
  }
  // libtorch's refusal (another profiler running) as a lightning::Error.
  template <typename Fn>
  static void starting(Fn&& fn) {
    try {
      fn();
    } catch (const c10::Error& e) {
      LIGHTNING_FAIL("PyTorchProfiler: libtorch's profiler could not start (",
                     e.what_without_backtrace(),
                     "); only one profiler can run in a process: stop the other one.");
    }
  }
  void prepare() {
    if (prepared) return;
    starting([&] { kineto::prepareProfiler(config(), activities()); });
    prepared = true;
  }
  void enable() {
    prepare();
    if (enabled) return;
    starting([&] { kineto::enableProfiler(config(), activities()); });
    enabled = true;
  }
  // Ends the window; keeps it (trace and table) or throws it away.
  void finish(bool keep, const std::string& trace_path) {
    if (!prepared) return;
    if (!enabled) enable();  // a prepared profiler is only released by a run
    // A range must end in the profiling session it began in: Kineto's state
    // of this window is gone once it is disabled, and a range ending in a
    // later window would write into it. The open ones ("run_training_epoch"
    // across the window's end) end here and go on as new, unrecorded ranges.
    for (auto& entry : ranges) entry.second->record.end();
    std::unique_ptr<kineto::ProfilerResult> result = kineto::disableProfiler();
    prepared = enabled = false;
    for (auto& [name, range] : ranges) {
      range = kineto::record_function_enter_new("[pl][profile]" + name);
    }
    if (!keep || !result) return;
    if (options.export_to_chrome() && !trace_path.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(trace_path).parent_path(), ec);
      try {
        result->save(trace_path);  // Kineto's own trace (CUDA kernels too)
      } catch (const c10::Error&) {
        // A libtorch built without Kineto (Debian's) collects the events but
        // cannot save them: write the CPU events in the same format.
        write_trace(result->events(), trace_path);
      }
      traces.push_back(trace_path);
    }
    add_events(result->events());
  }
  // Self time: an event's duration less its direct children's, children
  // being the events of the same thread that lie inside it.
  void add_events(const std::vector<kineto::KinetoEvent>& events) {
    std::map<uint64_t, std::vector<const kineto::KinetoEvent*>> by_thread;
    for (const auto& e : events) {
      if (e.deviceType() == c10::DeviceType::CPU) by_thread[e.startThreadId()].push_back(&e);
    }
    for (auto& [thread, list] : by_thread) {
      std::stable_sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
        const double sa = start_us(*a), sb = start_us(*b);
        return sa != sb ? sa < sb : duration_us(*a) > duration_us(*b);
      });
      struct Open {
        const kineto::KinetoEvent* event;
        double end;
        double children = 0.0;
      };
      std::vector<Open> stack;
      auto close = [&](Open& o) {
        const std::string shapes = options.group_by_input_shapes() ? shapes_text(*o.event) : "";
        OperatorStats& s = operators[{o.event->name(), shapes}];
        s.name = o.event->name();
        s.input_shapes = shapes;
        ++s.count;
        const double d = duration_us(*o.event);
        s.cpu_total_us += d;
        s.self_cpu_us += std::max(0.0, d - o.children);
      };
      for (const auto* e : list) {
        const double start = start_us(*e), end = start + duration_us(*e);
        while (!stack.empty() && stack.back().end <= start) {
          close(stack.back());
          stack.pop_back();
        }
        if (!stack.empty()) stack.back().children += duration_us(*e);
        stack.push_back({e, end});
      }
      while (!stack.empty()) {
        close(stack.back());
        stack.pop_back();
      }
    }
  }
};

PyTorchProfiler::PyTorchProfiler(PyTorchProfilerOptions options)
    : Profiler(options.dirpath(), options.filename()), impl_(std::make_unique<Impl>()) {
  const auto& keys = sort_keys();
  LIGHTNING_CHECK(std::find(keys.begin(), keys.end(), options.sort_by_key()) != keys.end(),
                  "PyTorchProfilerOptions().sort_by_key(\"", options.sort_by_key(),
                  "\") is not a sort key; use \"self_cpu_time_total\", \"cpu_time_total\", "
                  "\"cpu_time\" or \"count\".");
  LIGHTNING_CHECK(options.row_limit() >= 1, "PyTorchProfilerOptions().row_limit(",
                  options.row_limit(), ") must be >= 1.");
  if (const auto& s = options.schedule()) {
    LIGHTNING_CHECK(s->wait() >= 0 && s->warmup() >= 0 && s->repeat() >= 0 &&
                        s->skip_first() >= 0 && s->active() >= 1,
                    "ProfilerSchedule(wait=", s->wait(), ", warmup=", s->warmup(),
                    ", active=", s->active(), ", repeat=", s->repeat(),
                    ", skip_first=", s->skip_first(),
                    "): active must be >= 1 and the others >= 0.");
  }
  LIGHTNING_CHECK(!options.group_by_input_shapes() || options.record_shapes(),
                  "PyTorchProfilerOptions().group_by_input_shapes(true) needs "
                  ".record_shapes(true): the shapes are only recorded then.");
  impl_->options = std::move(options);
}

PyTorchProfiler::~PyTorchProfiler() {
  try {
    impl_->ranges.clear();
    impl_->finish(false, "");
  } catch (...) {  // never from a destructor
  }
}

void PyTorchProfiler::setup(Stage stage, std::optional<int64_t> local_rank,
                            const std::string& log_dir) {
  const bool again = this->stage() == stage;  // the Trainer's second call: the run folder
  Profiler::setup(stage, local_rank, log_dir);
  if (again) return;
  switch (stage) {
    case Stage::Fit:
      impl_->step_suffix = "training_step";
      break;
    case Stage::Validate:
      impl_->step_suffix = "validation_step";
      break;
    case Stage::Test:
      impl_->step_suffix = "test_step";
      break;
    case Stage::Predict:
      impl_->step_suffix = "predict_step";
      break;
  }
  impl_->step = 0;
  impl_->step_action.clear();
  impl_->operators.clear();
  const auto& schedule = impl_->options.schedule();
  const Phase first = schedule ? phase_of(*schedule, 0) : Phase::kRecord;
  if (first == Phase::kWarmup) impl_->prepare();
  if (first == Phase::kRecord || first == Phase::kRecordAndSave) impl_->enable();
}

void PyTorchProfiler::start(const std::string& action_name) {
  auto [it, inserted] =
      impl_->ranges.emplace(action_name, c10::intrusive_ptr<kineto::PythonRecordFunction>());
  LIGHTNING_CHECK(inserted, "PyTorchProfiler: attempted to start \"", action_name,
                  "\", which has already started; stop it first (each start needs one stop).");
  it->second = kineto::record_function_enter_new("[pl][profile]" + action_name);
}

void PyTorchProfiler::stop(const std::string& action_name) {
  auto it = impl_->ranges.find(action_name);
  LIGHTNING_CHECK(it != impl_->ranges.end(), "PyTorchProfiler: attempted to stop \"", action_name,
                  "\", which was never started; call start(\"", action_name, "\") first.");
  it->second->record.end();
  impl_->ranges.erase(it);
  const std::string& suffix = impl_->step_suffix;
  const bool is_step =
      !suffix.empty() && action_name.size() >= suffix.size() &&
      action_name.compare(action_name.size() - suffix.size(), suffix.size(), suffix) == 0;
  const auto& schedule = impl_->options.schedule();
  if (!is_step) return;
  impl_->step_action = action_name;
  if (!schedule) return;
  const Phase done = phase_of(*schedule, impl_->step);
  const Phase next = phase_of(*schedule, ++impl_->step);
  if (done == Phase::kRecordAndSave) {
    impl_->finish(true, output_path(trace_suffix(), action_name));
  } else if (done == Phase::kWarmup && next == Phase::kNone) {
    impl_->finish(false, "");
  }
  if (next == Phase::kWarmup) impl_->prepare();
  if (next == Phase::kRecord || next == Phase::kRecordAndSave) impl_->enable();
}

void PyTorchProfiler::teardown(Stage stage) {
  // A window the stage's end cut short is kept; a warm-up is thrown away.
  if (impl_->enabled) {
    impl_->finish(true, output_path(trace_suffix(),
                                    impl_->step_action.empty() ? "stage" : impl_->step_action));
  } else {
    impl_->finish(false, "");
  }
  Profiler::teardown(stage);
}

std::vector<OperatorStats> PyTorchProfiler::operator_stats() const {
  std::vector<OperatorStats> rows;
  for (const auto& [key, s] : impl_->operators) rows.push_back(s);
  const std::string& key = impl_->options.sort_by_key();
  auto value = [&](const OperatorStats& s) {
    if (key == "cpu_time_total") return s.cpu_total_us;
    if (key == "cpu_time") return s.cpu_total_us / static_cast<double>(s.count);
    if (key == "count") return static_cast<double>(s.count);
    return s.self_cpu_us;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const OperatorStats& a, const OperatorStats& b) {
    return value(a) > value(b);
  });
  return rows;
}

const std::vector<std::string>& PyTorchProfiler::trace_paths() const { return impl_->traces; }

std::string PyTorchProfiler::summary() const {
  // The window still open at summary time (describe() runs before teardown).
  if (impl_->enabled) {
    impl_->finish(true, output_path(trace_suffix(),
                                    impl_->step_action.empty() ? "stage" : impl_->step_action));
  }
  const std::vector<OperatorStats> rows = operator_stats();
  if (rows.empty()) return "";
  // torch's key_averages().table(): a name column up to 55 wide, the numbers
  // right-aligned in 12, two spaces between columns.
  const bool shapes = impl_->options.group_by_input_shapes();
  size_t name_width = 4;
  for (const auto& r : rows) name_width = std::max(name_width, r.name.size() + 4);
  name_width = std::min<size_t>(name_width, 55);
  std::vector<std::string> header = {"Name",      "Self CPU %",   "Self CPU",  "CPU total %",
                                     "CPU total", "CPU time avg", "# of Calls"};
  if (shapes) header.push_back("Input Shapes");
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t width = i == 0 ? name_width : (i == 7 ? 80 : 12);
      out += pad(cells[i], width, i == 0 || i == 7) + "  ";
    }
    return out + "\n";
  };
  std::string rule;
  for (size_t i = 0; i < header.size(); ++i) {
    rule += std::string(i == 0 ? name_width : (i == 7 ? 80 : 12), '-') + "  ";
  }
  rule += "\n";
  double self_total = 0.0;
  for (const auto& r : rows) self_total += r.self_cpu_us;
  std::string table = rule + line(header) + rule;
  const size_t shown = std::min(rows.size(), static_cast<size_t>(impl_->options.row_limit()));
  for (size_t i = 0; i < shown; ++i) {
    const OperatorStats& r = rows[i];
    std::string name = r.name;
    if (name.size() >= name_width - 3) name = name.substr(0, name_width - 3) + "...";
    std::vector<std::string> cells = {name,
                                      percent(r.self_cpu_us, self_total),
                                      format_time(r.self_cpu_us),
                                      percent(r.cpu_total_us, self_total),
                                      format_time(r.cpu_total_us),
                                      format_time(r.cpu_total_us / static_cast<double>(r.count)),
                                      std::to_string(r.count)};
    if (shapes) cells.push_back(r.input_shapes);
    table += line(cells);
  }
  table += rule + "Self CPU time total: " + format_time(self_total) + "\n";
  std::string out = detail::report_title(stage());
  out += "Profile stats for: records";
  if (local_rank() != 0) out += " rank: " + std::to_string(local_rank());
  return out + "\n" + table;
}

}  // namespace lightning
