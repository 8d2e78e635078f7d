// keyseal-bench's results: a readable table on stdout and an optional JSON file (read by bench/run.sh).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace keyseal::bench {

struct Result {
  std::string key;                  // stable JSON name, e.g. "rsa2048_pkcs1_sign"
  std::string label;                // human name
  std::string unit;                 // "ops/s", "MB/s", "objects/s", "us", "x"
  std::optional<double> value;      // absent when skipped or failed
  std::string note;                 // why it is absent, or a remark on the value
  std::optional<double> cpu_value;  // the same per CPU-second (per CPU-microsecond for latencies)
};

struct Report {
  std::string tool = "keyseal-bench";  // the table's title
  std::string module_path;
  std::string library;  // C_GetInfo description and version
  std::string token;    // token label
  unsigned long slot = 0;
  double seconds = 0;
  std::vector<Result> results;

  void add(std::string key, std::string label, std::string unit, double value, std::string note = {},
           std::optional<double> cpu_value = std::nullopt);
  void skip(std::string key, std::string label, std::string unit, std::string why);
  std::optional<double> value(const std::string& key) const;

  void print_table() const;
  // Writes the report as JSON; throws std::runtime_error if the file cannot be written.
  void write_json(const std::string& path) const;
};

}  // namespace keyseal::bench
