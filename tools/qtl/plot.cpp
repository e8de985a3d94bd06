// The report chart (plot.hpp), drawn once by draw() on whichever cairo surface the
// extension asks for.
#include "plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>

#include "model_file.hpp"
#include "qtl/io/output_file.hpp"
#include "terminal.hpp"

#if QTL_TOOL_HAVE_CAIRO
#include <cairo-svg.h>
#include <cairo.h>
#endif

namespace qtl::tool {

#if QTL_TOOL_HAVE_CAIRO
namespace {

struct rgb {
  double r, g, b;
};
constexpr rgb palette[] = {{0.31, 0.47, 0.65}, {0.95, 0.56, 0.17}, {0.35, 0.63, 0.31},
                           {0.88, 0.34, 0.35}, {0.46, 0.72, 0.70}, {0.93, 0.79, 0.28}};
constexpr rgb ink{0.15, 0.15, 0.15}, grid{0.85, 0.85, 0.85}, before_fill{0.86, 0.86, 0.86};

// Sizes in points (SVG) or pixels (PNG).
constexpr double mib = 1024.0 * 1024.0;
constexpr double margin = 16, font = 11, bar = 7, gap = 6, panel = 400, panel_gap = 40, header = 96, footer = 28;

// A round tick step (1, 2 or 5 times a power of ten) giving at most 6 intervals up to max.
double tick_step(double max) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(max / 6)));
  for (const double m : {1.0, 2.0, 5.0, 10.0})
    if (max / (m * magnitude) <= 6) return m * magnitude;
  return 10 * magnitude;
}

// One row per tensor that some report quantized, in the first report's order.
struct chart {
  std::vector<std::string> names;
  std::vector<std::vector<const report_row*>> cells;  // [row][report], nullptr: kept there
  std::size_t kept = 0;                               // tensors no report quantized
  double sqnr_max = 10, bytes_max = 0.001;  // axis ends: dB and MiB
  double sqnr_step = 10, bytes_step = 1;  // tick steps
  double name_width = 0, width = 0, height = 0;
};

chart layout(const std::vector<quant_report>& reports, cairo_t* measure) {
  chart c;
  std::map<std::string, std::size_t> row_of;
  std::map<std::string, bool> seen;
  for (std::size_t k = 0; k < reports.size(); ++k)
    for (const auto& r : reports[k].rows) {
      seen.try_emplace(r.name, false);
      if (!r.quantized()) continue;
      seen[r.name] = true;
      auto [it, added] = row_of.try_emplace(r.name, c.names.size());
      if (added) {
        c.names.push_back(r.name);
        c.cells.emplace_back(reports.size(), nullptr);
      }
      c.cells[it->second][k] = &r;
      if (std::isfinite(r.sqnr_db)) c.sqnr_max = std::max(c.sqnr_max, r.sqnr_db);
      c.bytes_max = std::max(c.bytes_max, static_cast<double>(r.bytes_before) / mib);
    }
  for (const auto& [name, quantized] : seen) c.kept += !quantized;
  c.sqnr_step = tick_step(c.sqnr_max);
  c.sqnr_max = std::ceil(c.sqnr_max / c.sqnr_step) * c.sqnr_step;
  c.bytes_step = tick_step(c.bytes_max);
  c.bytes_max = std::ceil(c.bytes_max / c.bytes_step) * c.bytes_step;
  cairo_set_font_size(measure, font);
  for (const auto& n : c.names) {
    cairo_text_extents_t e;
    cairo_text_extents(measure, n.c_str(), &e);
    c.name_width = std::max(c.name_width, e.x_advance);
  }
  c.name_width = std::min(c.name_width + 10, 360.0);
  const double row = static_cast<double>(reports.size()) * bar + gap;
  c.width = 2 * margin + c.name_width + 2 * panel + panel_gap;
  c.height = header + static_cast<double>(c.names.size()) * row + footer;
  return c;
}

void set(cairo_t* cr, rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

void text(cairo_t* cr, double x, double y, const std::string& s, double align = 0) {  // align 0 left, 1 right
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_move_to(cr, x - align * e.x_advance, y);
  cairo_show_text(cr, s.c_str());
}

// Vertical grid lines with labels above the panel at x0 .. x0 + panel for 0 .. top.
void axis(cairo_t* cr, double x0, double y0, double y1, double top, double step, const std::string& title,
          const auto& label) {
  set(cr, ink);
  text(cr, x0, y0 - 24, title);
  const int ticks = static_cast<int>(std::lround(top / step));
  for (int i = 0; i <= ticks; ++i) {
    const double x = x0 + panel * i / ticks;
    set(cr, grid);
    cairo_move_to(cr, x, y0 - 2);
    cairo_line_to(cr, x, y1);
    cairo_stroke(cr);
    set(cr, ink);
    text(cr, x, y0 - 8, label(step * i), i == 0 ? 0 : i == ticks ? 1 : 0.5);
  }
}

void draw(cairo_t* cr, const chart& c, const std::vector<quant_report>& reports,
          const std::vector<std::string>& labels) {
  set(cr, {1, 1, 1});
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_line_width(cr, 1);

  cairo_set_font_size(cr, font + 3);
  set(cr, ink);
  text(cr, margin, margin + 10, "qtl quantization report: " + reports.front().input);
  cairo_set_font_size(cr, font);
  double x = margin;
  for (std::size_t k = 0; k < reports.size(); ++k) {  // legend
    const auto& r = reports[k];
    double worst = INFINITY;
    for (const auto& row : r.rows)
      if (row.quantized()) worst = std::min(worst, row.sqnr_db);
    const std::string s = fmt::format("{}: {} -> {} ({:.2f}x), lowest SQNR {} dB", labels[k],
                                      bytes_text(r.bytes_before()), bytes_text(r.bytes_after()),
                                      r.compression_ratio(), db_text(worst));
    set(cr, palette[k % std::size(palette)]);
    cairo_rectangle(cr, x, margin + 22, 10, 10);
    cairo_fill(cr);
    set(cr, ink);
    text(cr, x + 14, margin + 31, s);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s.c_str(), &e);
    x += 14 + e.x_advance + 24;
  }

  const double top = header, row = static_cast<double>(reports.size()) * bar + gap;
  const double bottom = top + static_cast<double>(c.names.size()) * row;
  const double sx = margin + c.name_width, bx = sx + panel + panel_gap;
  axis(cr, sx, top, bottom, c.sqnr_max, c.sqnr_step, "SQNR (dB, longer is better)",
       [](double v) { return fmt::format("{:g}", v); });
  axis(cr, bx, top, bottom, c.bytes_max, c.bytes_step, "size (MiB): grey before, colour after",
       [](double v) { return fmt::format("{:g}", v); });

  for (std::size_t i = 0; i < c.names.size(); ++i) {
    const double y = top + static_cast<double>(i) * row + gap / 2;
    set(cr, ink);
    cairo_save(cr);
    cairo_rectangle(cr, margin, y - gap / 2, c.name_width - 6, row);
    cairo_clip(cr);
    text(cr, c.name_width + margin - 8, y + (row - gap) / 2 + font / 3, c.names[i], 1);
    cairo_restore(cr);
    double before = 0;
    for (const auto* cell : c.cells[i])
      if (cell) before = std::max(before, static_cast<double>(cell->bytes_before));
    set(cr, before_fill);
    cairo_rectangle(cr, bx, y, panel * before / mib / c.bytes_max, row - gap);
    cairo_fill(cr);
    for (std::size_t k = 0; k < reports.size(); ++k) {
      const auto* cell = c.cells[i][k];
      if (cell == nullptr) continue;
      const double by = y + static_cast<double>(k) * bar;
      const double db = std::isinf(cell->sqnr_db) ? c.sqnr_max : std::isnan(cell->sqnr_db) ? 0 : cell->sqnr_db;
      set(cr, palette[k % std::size(palette)]);
      cairo_rectangle(cr, sx, by, panel * std::clamp(db, 0.0, c.sqnr_max) / c.sqnr_max, bar - 1);
      cairo_rectangle(cr, bx, by, panel * static_cast<double>(cell->bytes_after) / mib / c.bytes_max, bar - 1);
      cairo_fill(cr);
    }
  }
  set(cr, ink);
  text(cr, margin, bottom + 18,
       fmt::format("{} tensors quantized in some report; {} kept unquantized in all (not shown)", c.names.size(),
                   c.kept));
}

// Collects cairo's output into the atomic output file; the first write error is kept
// and rethrown after cairo gives up.
struct sink {
  io::output_file file;
  std::exception_ptr error;
  static cairo_status_t write(void* self, const unsigned char* data, unsigned int length) {
    auto* s = static_cast<sink*>(self);
    try {
      s->file.write(std::as_bytes(std::span(data, length)));
      return CAIRO_STATUS_SUCCESS;
    } catch (...) {
      s->error = std::current_exception();
      return CAIRO_STATUS_WRITE_ERROR;
    }
  }
  void check(cairo_status_t status, const std::string& path) const {
    if (error) std::rethrow_exception(error);
    if (status != CAIRO_STATUS_SUCCESS) throw failure(path, std::string("cannot draw: ") + cairo_status_to_string(status));
  }
};

using surface_ptr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using context_ptr = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;

}  // namespace

void plot_reports(const std::vector<quant_report>& reports, const std::vector<std::string>& labels,
                  const std::string& path) {
  const auto ext = std::filesystem::path(path).extension();
  if (ext != ".svg" && ext != ".png") throw failure(path, "the plot must be a .svg or .png file");
  const surface_ptr scratch(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1), cairo_surface_destroy);
  const context_ptr measure(cairo_create(scratch.get()), cairo_destroy);
  cairo_select_font_face(measure.get(), "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  const chart c = layout(reports, measure.get());
  if (c.names.empty()) throw failure(path, "nothing to plot: no report quantized any tensor");

  sink out{io::output_file(path), nullptr};
  const int w = static_cast<int>(std::ceil(c.width)), h = static_cast<int>(std::ceil(c.height));
  const bool svg = ext == ".svg";
  surface_ptr surface(svg ? cairo_svg_surface_create_for_stream(&sink::write, &out, w, h)
                          : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h),
                      cairo_surface_destroy);
  {
    const context_ptr cr(cairo_create(surface.get()), cairo_destroy);
    draw(cr.get(), c, reports, labels);
    out.check(cairo_status(cr.get()), path);
  }
  if (svg)
    cairo_surface_finish(surface.get());  // the SVG surface writes its document here
  else
    out.check(cairo_surface_write_to_png_stream(surface.get(), &sink::write, &out), path);
  out.check(cairo_surface_status(surface.get()), path);
  out.file.commit();
}

#else

void plot_reports(const std::vector<quant_report>&, const std::vector<std::string>&, const std::string& path) {
  throw failure(path, "this qtl was built without cairo, so it cannot plot (install libcairo2-dev and rebuild)");
}

#endif

}  // namespace qtl::tool
