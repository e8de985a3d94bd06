// `qtl report --plot`: one chart of one or more quantization reports (report.hpp), a row
// per quantized tensor with its SQNR bars (one per report) on the left and its size bars
// (before, and after per report) on the right. SVG or PNG by the path's extension, drawn
// with cairo; written atomically.
#pragma once

#include <string>
#include <vector>

#include "report.hpp"

namespace qtl::tool {

// Throws failure for an extension other than .svg/.png, no quantized tensor in any
// report, or a qtl built without cairo.
void plot_reports(const std::vector<quant_report>& reports, const std::vector<std::string>& labels,
                  const std::string& path);

}  // namespace qtl::tool
