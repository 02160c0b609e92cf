// LightningCLI: argv and config files -> one resolved config -> Trainer,
// model and datamodule -> the subcommand (lightning/cli.h).
#include <cxxabi.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "cli/optimizer_section.h"
#include "cli/trainer_config.h"
#include "lightning/cli.h"
#include "lightning/error.h"
#include "lightning/seed.h"
#include "trainer/trainer_impl.h"
#include "util/closest_names.h"

namespace lightning {

CLIArguments& CLIArguments::add(const std::string& name, HParamValue default_value,
                                const std::string& doc) {
  CLIArgument a;
  a.name = name;
  a.type = default_value.is_none() ? "Any" : default_value.type_name();
  a.default_value = std::move(default_value);
  a.doc = doc;
  items_.push_back(std::move(a));
  return *this;
}

CLIArguments& CLIArguments::required(const std::string& name, const std::string& type,
                                     const std::string& doc) {
  static const std::vector<std::string> kTypes = {"int", "float", "str", "bool", "list", "dict"};
  LIGHTNING_CHECK(std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end(),
                  "CLIArguments::required('", name, "'): type must be one of int, float, str, ",
                  "bool, list, dict, got '", type, "'", detail::did_you_mean(type, kTypes));
  CLIArgument a;
  a.name = name;
  a.type = type;
  a.required = true;
  a.doc = doc;
  items_.push_back(std::move(a));
  return *this;
}

namespace detail {

std::string cli_class_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  const size_t angle = name.find('<');
  if (angle != std::string::npos) name.resize(angle);
  const size_t colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  return name;
}

namespace {

const std::vector<std::string> kSubcommands = {"fit", "validate", "test", "predict"};

const char* subcommand_doc(const std::string& s) {
  if (s == "fit") return "Runs the full optimization routine.";
  if (s == "validate") return "Perform one evaluation epoch over the validation set.";
  if (s == "test") return "Perform one evaluation epoch over the test set.";
  if (s == "predict") return "Run inference on your data.";
  return "Builds the Trainer, the model and the datamodule from the configuration.";
}

std::string render(const HParamValue& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

bool is_subcommand(const std::string& s) {
  return std::find(kSubcommands.begin(), kSubcommands.end(), s) != kSubcommands.end();
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// Deep merge: maps key by key, anything else (lists included) replaced.
void merge_into(HParams& base, const HParams& over) {
  for (const auto& [key, value] : over) {
    if (value.is_map() && base.contains(key) && base.at(key).is_map()) {
      HParams inner = base.at(key).as<HParams>();
      merge_into(inner, value.as<HParams>());
      base.set(key, inner);
    } else {
      base.set(key, value);
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    LIGHTNING_FAIL("cannot read config file ", path, ": ", std::strerror(err),
                   ". Check the path given to --config.");
  }
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

HParams parse_config_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return hparams_from_yaml(text);
  } catch (const Error& e) {
    std::string message = e.what();
    const std::string origin = "hparams_from_yaml() input";
    const size_t at = message.find(origin);
    if (at != std::string::npos) message.replace(at, origin.size(), "config file " + path);
    const std::string hp = "a hparams.yaml holds one mapping";
    const size_t at2 = message.find(hp);
    if (at2 != std::string::npos)
      message.replace(at2, hp.size(), "a config file holds one mapping");
    throw Error(message);
  }
}

// A command-line value read with YAML's rules (`3e-4`, `20`, `true`, `null`,
// `[1, 2]`); text YAML cannot read as a value stays a string.
HParamValue parse_cli_value(const std::string& text) {
  try {
    HParams doc = hparams_from_yaml("v: " + text + "\n");
    if (doc.contains("v")) return doc.at("v");
  } catch (const Error&) {
  }
  return text;
}

// ", did you mean 'x'?" or "." -- the end of a sentence either way.
std::string suggest(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string close = did_you_mean(name, candidates);
  return close.empty() ? "." : close;
}

// The tree without its null values (--print_config=skip_null).
HParams without_nulls(const HParams& tree) {
  HParams out;
  for (const auto& [key, value] : tree) {
    if (value.is_none()) continue;
    out.set(key, value.is_map() ? HParamValue(without_nulls(value.as<HParams>())) : value);
  }
  return out;
}

bool parses_as_float(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno == 0;
}

}  // namespace

// Writes the resolved config as config.yaml into the run folder when fit
// starts. (Lightning does it in `setup`; here the default loggers, and so the
// run folder lightning_logs/version_N, exist only from on_fit_start on.)
class SaveConfigCallback : public Callback {
 public:
  SaveConfigCallback(HParams config, bool overwrite)
      : config_(std::move(config)), overwrite_(overwrite) {}
  std::string state_key() const override { return "SaveConfigCallback"; }
  void on_fit_start(Trainer& trainer, LightningModule& /*module*/) override {
    if (saved_) return;
    const std::string dir = trainer.log_dir().empty() ? "." : trainer.log_dir();
    const std::string path = dir + "/config.yaml";
    if (!overwrite_) {
      std::string exists =
          trainer.is_global_zero() && std::filesystem::exists(path) ? std::string("1") : "";
      exists = trainer.strategy().broadcast_string(exists, 0);
      LIGHTNING_CHECK(exists.empty(), "SaveConfigCallback expected ", path,
                      " to NOT exist. Aborting to avoid overwriting the results of a previous ",
                      "run. Delete that config file, set "
                      "LightningCLIOptions().save_config_callback(false) to not save it, or "
                      "LightningCLIOptions().save_config_overwrite(true) to overwrite it.");
    }
    if (trainer.is_global_zero()) {
      std::filesystem::create_directories(dir);
      save_hparams_to_yaml(path, config_);
    }
    saved_ = true;
  }

 private:
  HParams config_;
  bool overwrite_;
  bool saved_ = false;
};

class CLIRun {
 public:
  CLIRun(CLIClasses classes, LightningCLIOptions options)
      : classes_(std::move(classes)), options_(std::move(options)) {}

  void main(int argc, const char* const* argv) {
    prog_ = argc > 0 && argv[0] ? argv[0] : "main";
    const size_t slash = prog_.rfind('/');
    if (slash != std::string::npos) prog_ = prog_.substr(slash + 1);
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    // Exit codes as Python's: 2 for a usage error (argparse), 1 when
    // building or running failed (an exception).
    try {
      if (parse(args)) return;  // --help / --print_config
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << std::endl;
      exit_code_ = 2;
      return;
    }
    try {
      build();
      built_ = true;
      if (options_.run()) run();
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << std::endl;
      exit_code_ = 1;
    }
  }

  int exit_code_ = 0;
  bool built_ = false;
  std::string subcommand_;
  HParams config_;
  std::unique_ptr<Trainer> trainer_;
  std::shared_ptr<LightningModule> model_;
  std::shared_ptr<LightningDataModule> data_;

 private:
  // ---- argv ----------------------------------------------------------------

  std::string usage() const {
    std::string s = "usage: " + prog_ + " [-h] [-c CONFIG] {" + join(kSubcommands, ",") + "} ...\n";
    return s;
  }

  std::string global_help() const {
    std::ostringstream os;
    os << usage() << "\nLightning's command line for " << classes_.model_class
       << (classes_.data_name.empty() ? "" : " and " + classes_.data_class) << ".\n\n"
       << "options:\n"
       << "  -h, --help            Show this help message and exit.\n"
       << "  -c, --config CONFIG   Path to a configuration file in YAML (repeatable).\n\n"
       << "subcommands:\n";
    for (const auto& s : kSubcommands)
      os << "  " << s << std::string(10 - s.size(), ' ') << subcommand_doc(s) << "\n";
    os << "\nRun '" << prog_ << " SUBCOMMAND --help' for the options of a subcommand.\n";
    return os.str();
  }

  static void option_line(std::ostream& os, const std::string& flag, const std::string& type,
                          const HParamValue& def, bool required, const std::string& doc) {
    os << "  " << flag << "\n      " << doc << " (type: " << type
       << (required ? ", required" : ", default: " + render(def)) << ")\n";
  }

  std::string subcommand_help() const {
    std::ostringstream os;
    os << "usage: " << prog_ << (subcommand_.empty() ? "" : " " + subcommand_) << " [options]\n\n"
       << subcommand_doc(subcommand_) << "\n\noptions:\n"
       << "  -h, --help\n      Show this help message and exit.\n"
       << "  -c, --config CONFIG\n      Path to a configuration file in YAML; repeatable, "
          "merged in order (later files and arguments win).\n"
       << "  --print_config[=skip_null]\n      Print the configuration after applying all other "
          "arguments and exit; skip_null leaves out the null values.\n";
    option_line(os, "--seed_everything SEED_EVERYTHING", "Union[bool, int]",
                options_.seed_everything_default(), false,
                "Set to an int to run seed_everything with this value before classes "
                "instantiation. Set to True to use a random seed.");
    option_line(os, "--ckpt_path CKPT_PATH", "Optional[str]", HParamValue(), false,
                "Path of the checkpoint from which training is resumed (fit) or whose weights "
                "are evaluated (validate, test, predict).");
    option_line(os, "--optimizer OPTIMIZER", "Optional[Optimizer]", HParamValue(), false,
                "The optimizer of the automatic configure_optimizers, which replaces the "
                "model's: a class name or {class_path: ..., init_args: {...}}; one of " +
                    join(optim_class_names(OptimSection::Optimizer), ", ") +
                    ". '--optimizer.help CLASS' lists its arguments.");
    option_line(os, "--lr_scheduler LR_SCHEDULER", "Optional[LRScheduler]", HParamValue(), false,
                "Its learning-rate scheduler (needs --optimizer); one of " +
                    join(optim_class_names(OptimSection::LRScheduler), ", ") +
                    ". '--lr_scheduler.help CLASS' lists its arguments.");
    os << "\nTrainer:\n";
    for (const auto& f : trainer_fields()) {
      // trainer_defaults replace Lightning's defaults, here as in the resolved config.
      const HParams& defaults = options_.trainer_defaults();
      option_line(os, "--trainer." + f.name + " " + upper(f.name), f.type,
                  defaults.contains(f.name) ? defaults.at(f.name) : f.default_value, false, f.doc);
    }
    arguments_help(os, classes_.model_class, classes_.model_name, classes_.model_arguments);
    if (!classes_.data_name.empty())
      arguments_help(os, classes_.data_class, classes_.data_name, classes_.data_arguments);
    return os.str();
  }

  static std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }

  static void arguments_help(std::ostream& os, const std::string& cls, const std::string& section,
                             const CLIArguments& args) {
    os << "\n" << cls << " (--" << section << "):\n";
    for (const auto& a : args.items())
      option_line(os, "--" + section + "." + a.name + " " + upper(a.name), a.type, a.default_value,
                  a.required, a.doc);
  }

  std::vector<std::string> option_names() const {
    std::vector<std::string> names = {
        "--help",      "--config",         "--print_config", "--seed_everything",  "--ckpt_path",
        "--optimizer", "--optimizer.help", "--lr_scheduler", "--lr_scheduler.help"};
    for (const auto& f : trainer_fields()) names.push_back("--trainer." + f.name);
    for (const auto& a : classes_.model_arguments.items())
      names.push_back("--" + classes_.model_name + "." + a.name);
    for (const auto& a : classes_.data_arguments.items())
      names.push_back("--" + classes_.data_name + "." + a.name);
    return names;
  }

  // Returns true when the run ends after parsing (--help, --print_config).
  bool parse(const std::vector<std::string>& args) {
    size_t i = 0;
    std::vector<std::string> global_configs;
    if (options_.run()) {
      for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
          std::cout << global_help();
          return true;
        }
        if (a == "-c" || a == "--config") {
          LIGHTNING_CHECK(i + 1 < args.size(), "--config expects a file path.");
          global_configs.push_back(args[++i]);
          continue;
        }
        if (a.rfind("--config=", 0) == 0) {
          global_configs.push_back(a.substr(9));
          continue;
        }
        if (!a.empty() && a[0] == '-') {
          LIGHTNING_FAIL("expected a subcommand (", join(kSubcommands, ", "), ") before '", a,
                         "'.\n", usage());
        }
        LIGHTNING_CHECK(is_subcommand(a), "unknown subcommand '", a, "'", suggest(a, kSubcommands),
                        " Choose from ", join(kSubcommands, ", "), ".\n", usage());
        subcommand_ = a;
        ++i;
        break;
      }
      if (subcommand_.empty()) {
        LIGHTNING_FAIL("expected a subcommand: one of ", join(kSubcommands, ", "), ".\n", usage());
      }
    }

    HParams given;
    if (!options_.trainer_defaults().empty()) {
      apply_source(given, HParams{{"trainer", options_.trainer_defaults()}},
                   "LightningCLIOptions::trainer_defaults");
    }
    for (const auto& path : global_configs) apply_source(given, parse_config_file(path), path);
    bool print_config = false;
    bool skip_null = false;
    for (; i < args.size(); ++i) {
      std::string a = args[i];
      if (a == "-h" || a == "--help") {
        std::cout << subcommand_help();
        return true;
      }
      if (a == "--print_config") {
        print_config = true;
        continue;
      }
      if (a.rfind("--print_config=", 0) == 0) {
        // jsonargparse's flags: skip_null leaves out the keys whose value is null.
        const std::string flags = a.substr(15);
        LIGHTNING_CHECK(flags == "skip_null", "--print_config=", flags,
                        ": the one flag is skip_null (--print_config=skip_null leaves out null "
                        "values), or give --print_config alone.");
        print_config = true;
        skip_null = true;
        continue;
      }
      std::optional<std::string> value;
      const size_t eq = a.find('=');
      if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
      LIGHTNING_CHECK(a.rfind("--", 0) == 0 || a == "-c", "unexpected argument '", a,
                      "': options are written --name VALUE or --name=VALUE.\n", usage());
      const auto take_value = [&]() {
        if (value) return *value;
        LIGHTNING_CHECK(i + 1 < args.size(), a, " expects a value.");
        return args[++i];
      };
      if (a == "-c" || a == "--config") {
        const std::string path = take_value();
        apply_source(given, parse_config_file(path), path);
        continue;
      }
      const std::string key = a.substr(2);
      const size_t dot = key.find('.');
      const std::string head = key.substr(0, dot);
      const bool optim_head = head == "optimizer" || head == "lr_scheduler";
      if (optim_head && key == head + ".help") {
        // `--optimizer.help Adam`: the class's init_args.
        std::cout << optim_class_help(
            head == "optimizer" ? OptimSection::Optimizer : OptimSection::LRScheduler,
            take_value());
        return true;
      }
      const bool known_head = head == "seed_everything" || head == "ckpt_path" ||
                              head == "trainer" || head == classes_.model_name || optim_head ||
                              (!classes_.data_name.empty() && head == classes_.data_name);
      const bool class_head = head == classes_.model_name ||
                              (!classes_.data_name.empty() && head == classes_.data_name);
      if (!known_head || (dot == std::string::npos && head != "seed_everything" &&
                          head != "ckpt_path" && !class_head && !optim_head)) {
        LIGHTNING_FAIL("unknown option '", a, "'", suggest(a, option_names()), " Run '", prog_, " ",
                       subcommand_, " --help' for the list.");
      }
      const std::string text = take_value();
      HParamValue v = parse_cli_value(text);
      if (dot == std::string::npos && class_head) {
        // jsonargparse's subclass mode: `--model MyModel` (or its class path),
        // or the whole object, `--model '{class_path: MyModel, init_args: {...}}'`.
        if (v.is_string()) v = HParams{{"class_path", v}};
        apply_source(given, HParams{{head, v}}, "the command line (" + a + ")");
        continue;
      }
      std::vector<std::string> path;
      size_t start = 0;
      while (true) {
        const size_t d = key.find('.', start);
        path.push_back(key.substr(start, d == std::string::npos ? d : d - start));
        if (d == std::string::npos) break;
        start = d + 1;
      }
      // `--model.init_args.x` as jsonargparse writes it for class_path objects.
      if (path.size() == 3 && path[1] == "init_args" &&
          (path[0] == classes_.model_name || path[0] == classes_.data_name))
        path.erase(path.begin() + 1);
      // A str argument keeps the text as typed (`--model.name 123` is "123").
      if (path.size() == 2 && !v.is_none() && !v.is_string()) {
        const CLIArguments* declared = path[0] == classes_.model_name  ? &classes_.model_arguments
                                       : path[0] == classes_.data_name ? &classes_.data_arguments
                                                                       : nullptr;
        if (declared)
          for (const auto& arg : declared->items())
            if (arg.name == path[1] && arg.type == "str") v = text;
      }
      HParamValue tree = v;
      for (size_t k = path.size(); k-- > 0;) tree = HParams{{path[k], tree}};
      apply_source(given, tree.as<HParams>(), "the command line (" + a + ")");
    }

    resolve(given);
    if (print_config) {
      std::cout << to_yaml(skip_null ? without_nulls(config_) : config_);
      return true;
    }
    return false;
  }

  // ---- config sources --------------------------------------------------------

  std::vector<std::string> top_keys() const {
    std::vector<std::string> keys = {"seed_everything", "trainer", classes_.model_name};
    if (!classes_.data_name.empty()) keys.push_back(classes_.data_name);
    keys.insert(keys.end(), {"optimizer", "lr_scheduler", "ckpt_path"});
    return keys;
  }

  void apply_source(HParams& given, const HParams& source, const std::string& origin) {
    HParams normalized;
    for (const auto& [key, value] : source) {
      if (is_subcommand(key)) {
        // Lightning's per-subcommand nesting: `fit: {trainer: ...}`.
        if (key != subcommand_) continue;
        LIGHTNING_CHECK(value.is_map() || value.is_none(), origin, ": '", key,
                        "' must be a mapping of the subcommand's options, got ", value.type_name(),
                        " ", render(value), ".");
        if (value.is_map()) apply_source(given, value.as<HParams>(), origin);
        continue;
      }
      if (key == "optimizer" || key == "lr_scheduler") {
        // Python LightningCLI's automatic configure_optimizers; merged here
        // (not deep-merged below): another class keeps only its own arguments.
        const OptimSection sec =
            key == "optimizer" ? OptimSection::Optimizer : OptimSection::LRScheduler;
        const HParamValue current = given.contains(key) ? given.at(key) : HParamValue();
        given.set(key, merge_optim_section(sec, current, value, origin));
        continue;
      }
      if (key == "weights_only") {
        // Lightning 2.6's fit/validate/test/predict(weights_only=...): whether
        // torch.load may unpickle objects. The checkpoint reader here never
        // runs pickled code, so every value reads the same.
        LIGHTNING_CHECK(value.is_none() || value.is_bool(), origin,
                        ": weights_only = ", render(value), " (", value.type_name(),
                        "): expected a bool or null (Lightning's torch.load setting; ignored "
                        "here: checkpoints are always read without running pickled code).");
        continue;
      }
      if (key == "seed_everything") {
        LIGHTNING_CHECK(value.is_bool() || value.is_int(), origin,
                        ": seed_everything = ", render(value), " (", value.type_name(),
                        "): expected an int seed or a bool (true: a random seed, false: no "
                        "seeding).");
        if (value.is_int())
          LIGHTNING_CHECK(value.as<int64_t>() >= 0 && value.as<int64_t>() <= 4294967295LL, origin,
                          ": seed_everything = ", render(value),
                          ": a seed must be between 0 and 4294967295.");
        normalized.set(key, value);
      } else if (key == "ckpt_path") {
        LIGHTNING_CHECK(value.is_none() || value.is_string(), origin,
                        ": ckpt_path = ", render(value), " (", value.type_name(),
                        "): expected a path (str) or null.");
        normalized.set(key, value);
      } else if (key == "trainer") {
        normalized.set(key, trainer_section(value, origin));
      } else if (key == classes_.model_name) {
        normalized.set(
            key, class_section(value, origin, key, classes_.model_class, classes_.model_arguments));
      } else if (!classes_.data_name.empty() && key == classes_.data_name) {
        normalized.set(
            key, class_section(value, origin, key, classes_.data_class, classes_.data_arguments));
      } else {
        std::vector<std::string> valid = top_keys();
        LIGHTNING_FAIL(origin, ": unknown key '", key, "'", suggest(key, valid),
                       " Valid top-level keys: ", join(valid, ", "), ".");
      }
    }
    merge_into(given, normalized);
  }

  HParams trainer_section(const HParamValue& value, const std::string& origin) {
    if (value.is_none()) return {};
    LIGHTNING_CHECK(value.is_map(), origin, ": trainer = ", render(value), " (", value.type_name(),
                    "): expected a mapping of Trainer arguments (trainer: {max_epochs: 10}).");
    // The trainer section's own checks (names, Lightning's value syntax,
    // class_path objects, Python-only arguments), with this source named.
    const HParams section = value.as<HParams>();
    try {
      apply_trainer_config(section, TrainerOptions(), "trainer");
    } catch (const Error& e) {
      throw Error(origin + ": " + e.what());
    }
    return section;
  }

  static std::vector<std::string> argument_names(const CLIArguments& args) {
    std::vector<std::string> names;
    for (const auto& a : args.items()) names.push_back(a.name);
    return names;
  }

  HParams class_section(const HParamValue& value, const std::string& origin,
                        const std::string& section, const std::string& cls,
                        const CLIArguments& args) {
    if (value.is_none()) return {};
    LIGHTNING_CHECK(value.is_map(), origin, ": ", section, " = ", render(value), " (",
                    value.type_name(), "): expected a mapping of ", cls, "'s arguments.");
    HParams map = value.as<HParams>();
    if (map.contains("class_path")) {
      // Lightning's subclass form: {class_path: pkg.MyModel, init_args: {...}}.
      const HParamValue& cp = map.at("class_path");
      LIGHTNING_CHECK(cp.is_string(), origin, ": ", section, ".class_path = ", render(cp),
                      ": expected a class name (str).");
      const std::string path = cp.as<std::string>();
      const size_t dot = path.rfind('.');
      const std::string last = dot == std::string::npos ? path : path.substr(dot + 1);
      LIGHTNING_CHECK(last == cls, origin, ": ", section, ".class_path = '", path, "' names ", last,
                      ", but this program is built for ", cls, ". Use class_path: ", cls, ".");
      HParams inner;
      for (const auto& [k, v] : map) {
        if (k == "class_path") continue;
        if (k == "init_args") {
          if (v.is_none()) continue;
          LIGHTNING_CHECK(v.is_map(), origin, ": ", section, ".init_args = ", render(v),
                          ": expected a mapping of ", cls, "'s arguments.");
          inner.update(v.as<HParams>());
        } else if (k == "dict_kwargs" && (v.is_none() || (v.is_map() && v.as<HParams>().empty()))) {
          continue;
        } else {
          LIGHTNING_FAIL(origin, ": unknown key '", section, ".", k, "'",
                         suggest(k, {"class_path", "init_args"}),
                         " A class_path object holds class_path and init_args.");
        }
      }
      map = inner;
    }
    HParams out;
    const std::vector<std::string> names = argument_names(args);
    for (const auto& [k, v] : map) {
      const auto it = std::find_if(args.items().begin(), args.items().end(),
                                   [&](const CLIArgument& a) { return a.name == k; });
      if (it == args.items().end()) {
        LIGHTNING_FAIL(origin, ": unknown key '", section, ".", k, "'", suggest(k, names), " ", cls,
                       " takes: ", names.empty() ? "no arguments" : join(names, ", "), ".");
      }
      out.set(k, checked(*it, v, section + "." + k, origin));
    }
    return out;
  }

  static HParamValue checked(const CLIArgument& a, const HParamValue& v, const std::string& key,
                             const std::string& origin) {
    if (v.is_none()) {
      // null clears an optional argument; a required one stays missing.
      if (a.required || a.default_value.is_none()) return v;
    } else if (a.type == "Any") {
      return v;
    } else if (a.type == "float") {
      if (v.is_double()) return v;
      if (v.is_int()) return v.as<double>();
      double d = 0;
      if (v.is_string() && parses_as_float(v.as<std::string>(), d)) return d;
    } else if (a.type == "int" && v.is_int()) {
      return v;
    } else if (a.type == "str" && v.is_string()) {
      return v;
    } else if (a.type == "bool" && v.is_bool()) {
      return v;
    } else if (a.type == "list" && v.is_list()) {
      return v;
    } else if (a.type == "dict" && v.is_map()) {
      return v;
    }
    LIGHTNING_FAIL(origin, ": ", key, " = ", render(v), " (", v.type_name(), "): expected ", a.type,
                   (a.doc.empty() ? "" : " (" + a.doc + ")"), ".");
  }

  // ---- the resolved config ---------------------------------------------------

  static HParams argument_defaults(const CLIArguments& args) {
    HParams out;
    for (const auto& a : args.items()) out.set(a.name, a.default_value);
    return out;
  }

  void resolve(const HParams& given) {
    given_ = given;
    HParams trainer;
    for (const auto& f : trainer_fields()) trainer.set(f.name, f.default_value);
    config_ = HParams();
    config_.set("seed_everything", options_.seed_everything_default());
    config_.set("trainer", trainer);
    config_.set(classes_.model_name, argument_defaults(classes_.model_arguments));
    if (!classes_.data_name.empty())
      config_.set(classes_.data_name, argument_defaults(classes_.data_arguments));
    config_.set("optimizer", HParamValue());
    config_.set("lr_scheduler", HParamValue());
    config_.set("ckpt_path", HParamValue());
    merge_into(config_, given);
    for (const auto sec : {OptimSection::Optimizer, OptimSection::LRScheduler}) {
      const char* key = section_name(sec);
      config_.set(key,
                  resolve_optim_section(sec, given.contains(key) ? given.at(key) : HParamValue()));
    }
    LIGHTNING_CHECK(
        config_.at("lr_scheduler").is_none() || !config_.at("optimizer").is_none(),
        "lr_scheduler = ", render(config_.at("lr_scheduler").as<HParams>().at("class_path")),
        " needs an optimizer to schedule: give optimizer too (--optimizer Adam, or "
        "optimizer: {class_path: ..., init_args: {...}}). (Python's LightningCLI "
        "silently ignores a scheduler without an optimizer.)");
    check_required(classes_.model_name, classes_.model_class, classes_.model_arguments);
    if (!classes_.data_name.empty())
      check_required(classes_.data_name, classes_.data_class, classes_.data_arguments);
  }

  void check_required(const std::string& section, const std::string& cls,
                      const CLIArguments& args) const {
    const HParams values = config_.at(section).as<HParams>();
    for (const auto& a : args.items()) {
      if (!a.required || !values.at(a.name).is_none()) continue;
      LIGHTNING_FAIL(section, ".", a.name, " is required: ", cls, " needs ", a.type,
                     a.doc.empty() ? "" : " (" + a.doc + ")", ". Give it in a config file (",
                     section, ": {", a.name, ": ...}) or as --", section, ".", a.name, " VALUE.");
    }
  }

  // ---- build and run -----------------------------------------------------------

  void build() {
    const HParamValue seed = config_.at("seed_everything");
    if (seed.is_bool() && seed.as<bool>()) {
      // A random seed; as Lightning's seed_everything(None), the one in
      // PL_GLOBAL_SEED when set (the DDP processes this one starts re-run
      // the program with its environment, so every rank draws the same).
      int64_t s = -1;
      if (const char* env = std::getenv("PL_GLOBAL_SEED")) {
        char* end = nullptr;
        const long long v = std::strtoll(env, &end, 10);
        if (end != env && *end == '\0' && v >= 0 && v <= 4294967295LL) s = v;
      }
      if (s < 0) {
        std::random_device rd;
        s = static_cast<int64_t>(std::uniform_int_distribution<uint32_t>()(rd));
      }
      seed_everything(static_cast<uint64_t>(s));
      config_.set("seed_everything", s);
    } else if (seed.is_int()) {
      seed_everything(static_cast<uint64_t>(seed.as<int64_t>()));
    }

    HParams trainer_given;
    if (given_.contains("trainer")) trainer_given = given_.at("trainer").as<HParams>();
    TrainerOptions topts = apply_trainer_config(trainer_given, TrainerOptions());
    // As Lightning: no saved config for a fast_dev_run (it logs nothing).
    const HParamValue fast_dev_run =
        config_.at("trainer").as<HParams>().get<HParamValue>("fast_dev_run", HParamValue(false));
    const bool dev_run = (fast_dev_run.is_bool() && fast_dev_run.as<bool>()) ||
                         (fast_dev_run.is_int() && fast_dev_run.as<int64_t>() != 0);
    if (options_.save_config_callback() && subcommand_ == "fit" && !dev_run) {
      auto callbacks = topts.callbacks();
      callbacks.push_back(
          std::make_shared<SaveConfigCallback>(config_, options_.save_config_overwrite()));
      topts.callbacks(callbacks);
    }

    if (!classes_.data_name.empty())
      data_ = classes_.make_data(config_.at(classes_.data_name).as<HParams>());
    model_ = classes_.make_model(config_.at(classes_.model_name).as<HParams>());
    trainer_ = std::make_unique<Trainer>(std::move(topts));
    if (!config_.at("optimizer").is_none()) {
      // As Python's LightningCLI: the config's optimizer (and scheduler)
      // replace the model's configure_optimizers.
      const HParamValue optimizer = config_.at("optimizer");
      const HParamValue lr_scheduler = config_.at("lr_scheduler");
      TrainerAccess::replace_configure_optimizers(
          *trainer_, *model_, [optimizer, lr_scheduler](LightningModule& model) {
            return configure_from_sections(model, optimizer, lr_scheduler);
          });
    }
  }

  void run() {
    const HParamValue ckpt = config_.at("ckpt_path");
    std::optional<std::string> ckpt_path;
    if (ckpt.is_string()) ckpt_path = ckpt.as<std::string>();
    if (subcommand_ == "fit") {
      if (data_) {
        trainer_->fit(model_, *data_, ckpt_path);
      } else if (ckpt_path) {
        trainer_->fit(model_, *ckpt_path);
      } else {
        trainer_->fit(model_);
      }
      return;
    }
    // validate / test / predict evaluate the weights of ckpt_path (a file,
    // "best" or "last"), as Lightning's trainer.test(model, datamodule, ckpt_path).
    const DataLoaders none;
    if (subcommand_ == "validate") {
      data_ ? trainer_->validate(model_, *data_, ckpt_path)
            : trainer_->validate(model_, none, ckpt_path);
    } else if (subcommand_ == "test") {
      data_ ? trainer_->test(model_, *data_, ckpt_path) : trainer_->test(model_, none, ckpt_path);
    } else if (data_) {
      trainer_->predict(model_, *data_, ckpt_path);
    } else {
      trainer_->predict(model_, none, ckpt_path);
    }
  }

  CLIClasses classes_;
  LightningCLIOptions options_;
  std::string prog_;
  HParams given_;
};

}  // namespace detail

LightningCLIBase::LightningCLIBase(int argc, const char* const* argv, detail::CLIClasses classes,
                                   LightningCLIOptions options)
    : run_(std::make_unique<detail::CLIRun>(std::move(classes), std::move(options))) {
  run_->main(argc, argv);
}

LightningCLIBase::~LightningCLIBase() = default;

int LightningCLIBase::exit_code() const { return run_->exit_code_; }

bool LightningCLIBase::built() const { return run_->built_; }

const std::string& LightningCLIBase::subcommand() const { return run_->subcommand_; }

const HParams& LightningCLIBase::config() const { return run_->config_; }

Trainer& LightningCLIBase::trainer() {
  LIGHTNING_CHECK(run_->trainer_ != nullptr,
                  "LightningCLI built no Trainer (--help, --print_config or an error ended it; "
                  "check exit_code()).");
  return *run_->trainer_;
}

std::shared_ptr<LightningModule> LightningCLIBase::model_base() const { return run_->model_; }

std::shared_ptr<LightningDataModule> LightningCLIBase::datamodule_base() const {
  return run_->data_;
}

}  // namespace lightning
