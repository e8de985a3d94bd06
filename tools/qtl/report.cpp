// The quantization report as JSON and as a table (report.hpp), and `qtl report`.
#include "report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>

#include "commands.hpp"
#include "model_file.hpp"
#include "plot.hpp"
#include "qtl/io/output_file.hpp"
#include "terminal.hpp"

namespace qtl::tool {

std::uint64_t quant_report::bytes_before() const {
  std::uint64_t n = 0;
  for (const auto& r : rows) n += r.bytes_before;
  return n;
}

std::uint64_t quant_report::bytes_after() const {
  std::uint64_t n = 0;
  for (const auto& r : rows) n += r.bytes_after;
  return n;
}

double quant_report::compression_ratio() const {
  const auto after = bytes_after();
  return after ? static_cast<double>(bytes_before()) / static_cast<double>(after) : 0.0;
}

void write_report(const quant_report& r, const std::string& path) {
  using json = nlohmann::ordered_json;
  json j;
  j["input"] = r.input;
  j["output"] = r.output;
  j["format"] = r.format;
  if (!r.original.empty()) j["original"] = r.original;
  j["tensors"] = json::array();
  for (const auto& row : r.rows) {
    json t;
    t["name"] = row.name;
    t["shape"] = row.shape;
    t["dtype"] = row.dtype;
    t["format"] = row.format;
    if (!row.note.empty()) t["note"] = row.note;
    t["bytes_before"] = row.bytes_before;
    t["bytes_after"] = row.bytes_after;
    if (row.quantized()) {
      if (row.sqnr_db == std::numeric_limits<double>::infinity()) t["exact"] = true;
      t["sqnr_db"] = std::isfinite(row.sqnr_db) ? json(row.sqnr_db) : json();
      if (std::isfinite(row.sqnr_original_db)) t["sqnr_original_db"] = row.sqnr_original_db;
    }
    j["tensors"].push_back(t);
  }
  j["totals"] = {{"bytes_before", r.bytes_before()},
                 {"bytes_after", r.bytes_after()},
                 {"compression_ratio", r.compression_ratio()}};
  j["warnings"] = r.warnings;
  const std::string text = j.dump(2) + "\n";
  io::output_file out(path);
  out.write(std::as_bytes(std::span(text)));
  out.commit();
}

namespace {

using json = nlohmann::json;

// j[key] as T, or a failure naming where it was expected.
template <class T>
T field(const std::string& path, const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end()) throw failure(path, fmt::format("{} has no \"{}\"", where, key));
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw failure(path, fmt::format("{}: \"{}\" has the wrong type ({})", where, key, it->type_name()));
  }
}

}  // namespace

quant_report read_report(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw failure(path, "cannot open the report");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw failure(path, std::string("report is not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("tensors") || !j["tensors"].is_array())
    throw failure(path, "not a qtl quantize report (an object with a \"tensors\" array)");
  quant_report r;
  r.input = field<std::string>(path, j, "input", "the report");
  r.output = field<std::string>(path, j, "output", "the report");
  r.format = field<std::string>(path, j, "format", "the report");
  if (j.contains("original")) r.original = field<std::string>(path, j, "original", "the report");
  if (j.contains("warnings")) r.warnings = field<std::vector<std::string>>(path, j, "warnings", "the report");
  for (const auto& t : j["tensors"]) {
    const std::string where = fmt::format("tensor {}", r.rows.size());
    if (!t.is_object()) throw failure(path, where + " is not an object");
    report_row row;
    row.name = field<std::string>(path, t, "name", where);
    const std::string named = "tensor \"" + row.name + "\"";
    row.shape = field<std::vector<std::uint64_t>>(path, t, "shape", named);
    row.dtype = field<std::string>(path, t, "dtype", named);
    row.format = field<std::string>(path, t, "format", named);
    if (t.contains("note")) row.note = field<std::string>(path, t, "note", named);
    row.bytes_before = field<std::uint64_t>(path, t, "bytes_before", named);
    row.bytes_after = field<std::uint64_t>(path, t, "bytes_after", named);
    if (row.quantized()) {
      const auto& s = t.contains("sqnr_db") ? t["sqnr_db"] : json();
      if (t.value("exact", false))
        row.sqnr_db = std::numeric_limits<double>::infinity();
      else if (s.is_number())
        row.sqnr_db = s.get<double>();
      else
        throw failure(path, named + ": a quantized tensor needs a number \"sqnr_db\" or \"exact\": true");
      if (t.contains("sqnr_original_db")) row.sqnr_original_db = field<double>(path, t, "sqnr_original_db", named);
    }
    r.rows.push_back(std::move(row));
  }
  return r;
}

void print_report(const quant_report& r) {
  const bool original = !r.original.empty();
  std::vector<std::string> header = {"tensor", "shape", "format", "before", "after", "SQNR dB", "note"};
  if (original) header.insert(header.end() - 1, "vs original dB");
  table t(std::move(header), true);
  std::size_t quantized = 0;
  for (const auto& row : r.rows) {
    std::vector<std::string> cells = {row.name,
                                      shape_text(row.shape),
                                      row.quantized() ? row.format : row.dtype,
                                      bytes_text(row.bytes_before),
                                      bytes_text(row.bytes_after),
                                      row.quantized() ? db_text(row.sqnr_db) : "-",
                                      row.note};
    if (original)
      cells.insert(cells.end() - 1, std::isnan(row.sqnr_original_db) ? "-" : db_text(row.sqnr_original_db));
    t.add(std::move(cells));
    quantized += row.quantized();
  }
  t.print();
  fmt::print("\n{} of {} tensors quantized; {} -> {} ({:.2f}x smaller)\n", quantized, r.rows.size(),
             bytes_text(r.bytes_before()), bytes_text(r.bytes_after()), r.compression_ratio());
  for (const auto& w : r.warnings) fmt::print(stderr, "qtl: warning: {}\n", w);
}

namespace {

// One line per report: the totals and the lowest and median SQNR of its quantized tensors.
void print_summary(const std::vector<quant_report>& reports, const std::vector<std::string>& paths) {
  table t({"report", "format", "quantized", "before", "after", "ratio", "lowest SQNR dB", "median SQNR dB"});
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const auto& r = reports[i];
    std::vector<double> db;
    for (const auto& row : r.rows)
      if (row.quantized()) db.push_back(row.sqnr_db);
    std::sort(db.begin(), db.end());  // no NaN: read_report requires a number or "exact"
    const double nan = std::numeric_limits<double>::quiet_NaN();
    t.add({paths[i], r.format, fmt::format("{} of {}", db.size(), r.rows.size()), bytes_text(r.bytes_before()),
           bytes_text(r.bytes_after()), fmt::format("{:.2f}x", r.compression_ratio()),
           db_text(db.empty() ? nan : db.front()), db_text(db.empty() ? nan : db[db.size() / 2])});
  }
  t.print();
}

}  // namespace

int run_report(const report_options& o) {
  std::vector<quant_report> reports;
  for (const auto& path : o.reports) reports.push_back(read_report(path));
  if (o.summary)
    print_summary(reports, o.reports);
  else
    for (std::size_t i = 0; i < reports.size(); ++i) {
      if (reports.size() > 1) fmt::print("{}== {} ({})\n", i ? "\n" : "", o.reports[i], reports[i].format);
      print_report(reports[i]);
    }
  if (o.plot.empty()) return 0;
  // Each report's format names it in the legend, its output file where formats repeat.
  std::vector<std::string> labels;
  for (const auto& r : reports) {
    const auto same = std::count_if(reports.begin(), reports.end(), [&](const auto& q) { return q.format == r.format; });
    labels.push_back(same > 1 ? r.output : r.format);
  }
  plot_reports(reports, labels, o.plot);
  fmt::print("wrote {}\n", o.plot);
  return 0;
}

}  // namespace qtl::tool
