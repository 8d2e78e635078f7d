// Formatting of keyseal-bench's results: a fixed-width table for people and JSON for bench/run.sh.
#include "report.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace keyseal::bench {

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string format_value(double v) {
  char buf[32];
  if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

void Report::add(std::string key, std::string label, std::string unit, double value, std::string note,
                 std::optional<double> cpu_value) {
  results.push_back({std::move(key), std::move(label), std::move(unit), value, std::move(note), cpu_value});
}

void Report::skip(std::string key, std::string label, std::string unit, std::string why) {
  results.push_back({std::move(key), std::move(label), std::move(unit), std::nullopt, std::move(why), std::nullopt});
}

std::optional<double> Report::value(const std::string& key) const {
  for (const Result& r : results)
    if (r.key == key) return r.value;
  return std::nullopt;
}

void Report::print_table() const {
  std::printf("\n%s: %s\n  library: %s\n  token:   '%s' (slot %lu), %.1f s per measurement\n\n", tool.c_str(),
              module_path.c_str(), library.c_str(), token.c_str(), slot, seconds);
  std::printf("%-44s %10s %10s  %-10s %s\n", "metric", "wall", "CPU", "unit", "note");
  std::printf("%-44s %10s %10s  %-10s %s\n", std::string(44, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str(), "----");
  for (const Result& r : results) {
    const std::string v = r.value ? format_value(*r.value) : "-";
    const std::string c = r.cpu_value ? format_value(*r.cpu_value) : "";
    std::printf("%-44s %10s %10s  %-10s %s\n", r.label.c_str(), v.c_str(), c.c_str(), r.unit.c_str(), r.note.c_str());
  }
  std::printf(
      "\nwall: per second of elapsed time; CPU: per second of this process's CPU time (user+system,\n"
      "all threads) or, for latencies, CPU microseconds per lookup.\n");
  std::printf("\n");
}

void Report::write_json(const std::string& path) const {
  std::ostringstream o;
  o << "{\n  \"module\": " << json_string(module_path) << ",\n  \"library\": " << json_string(library)
    << ",\n  \"token\": " << json_string(token) << ",\n  \"slot\": " << slot << ",\n  \"seconds\": " << seconds
    << ",\n  \"results\": {";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    o << (i ? ",\n" : "\n") << "    " << json_string(r.key) << ": {\"label\": " << json_string(r.label)
      << ", \"unit\": " << json_string(r.unit) << ", \"value\": ";
    if (r.value) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.6g", *r.value);
      o << buf;
    } else {
      o << "null";
    }
    o << ", \"cpu_value\": ";
    if (r.cpu_value) {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.6g", *r.cpu_value);
      o << buf;
    } else {
      o << "null";
    }
    o << ", \"note\": " << json_string(r.note) << "}";
  }
  o << "\n  }\n}\n";
  std::ofstream f(path);
  f << o.str();
  if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace keyseal::bench
