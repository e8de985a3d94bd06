// qtl: inspect, quantize and compare model files (safetensors, GGUF) and plot the
// quantization reports. Parses the command line into the commands.hpp options and turns
// every error into one line "qtl: <file>: <problem>" and exit status 1.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "model_file.hpp"

int main(int argc, char** argv) {
  using namespace qtl::tool;
  CLI::App app{"qtl: inspect, quantize and compare safetensors and GGUF model files"};
  app.require_subcommand(1);

  inspect_options inspect;
  auto* inspect_cmd = app.add_subcommand("inspect", "list a file's tensors (name, dtype, shape, bytes) and metadata");
  inspect_cmd->add_option("file", inspect.input, "a .safetensors or .gguf file")->required();

  quantize_options quantize;
  auto* quantize_cmd = app.add_subcommand("quantize", "quantize a model's weights into a GGUF or safetensors file");
  quantize_cmd
      ->add_option("input", quantize.input,
                   "a .safetensors or .gguf file, or a Hugging Face model directory (converted to llama.cpp's GGUF)")
      ->required();
  quantize_cmd->add_option("-o,--output", quantize.output, "output file: .gguf (ggml formats) or .safetensors")
      ->required();
  quantize_cmd
      ->add_option("-f,--format", quantize.format,
                   "GGUF: llama-quantize's file types F32 F16 BF16 Q8_0 Q6_K Q5_K_M Q5_K_S Q4_K_M Q4_K_S Q3_K_L "
                   "Q3_K_M Q3_K_S Q2_K Q2_K_S Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL TQ1_0 TQ2_0 MXFP4_MOE (Q5_K, Q4_K, Q3_K: "
                   "the _M mixes), or mxfp4 everywhere; safetensors: nf4 fp4 int8 int4 fp8_e4m3; any case")
      ->required();
  quantize_cmd->add_option("--group-size", quantize.group_size,
                            "block/group size: nf4/fp4 (default 64), int4 (default 128), int8 (default: a row)");
  quantize_cmd->add_option("--scheme", quantize.scheme, "int8/int4: sym (default) or asym")
      ->check(CLI::IsMember({"sym", "asym"}));
  quantize_cmd->add_option("--imatrix", quantize.imatrix,
                           "importance matrix from llama-imatrix (GGUF or .dat), as llama-quantize's --imatrix");
  quantize_cmd->add_flag("--pure", quantize.pure, "GGUF: the file type's base type for every tensor (no mix rules)");
  quantize_cmd->add_option("--output-tensor-type", quantize.output_tensor_type, "GGUF: type of output.weight");
  quantize_cmd->add_option("--token-embedding-type", quantize.token_embedding_type,
                           "GGUF: type of token_embd.weight");
  quantize_cmd->add_option("--tensor-type", quantize.tensor_types,
                           "GGUF: REGEX=TYPE for the tensors whose names match (repeatable, first match wins)");
  quantize_cmd->add_flag("--leave-output-tensor", quantize.leave_output, "GGUF: keep output.weight as it is");
  quantize_cmd->add_flag("--allow-requantize", quantize.allow_requantize,
                         "GGUF: quantize tensors that already are ggml blocks again (the error compounds)");
  quantize_cmd->add_flag("--no-convert", quantize.no_convert,
                         "write a Hugging Face model's tensors under their own names, not as llama.cpp's GGUF");
  quantize_cmd->add_option("--original", quantize.original,
                           "the model the input was quantized from (e.g. the F32/BF16 model of an NF4 one): the "
                           "report adds each tensor's SQNR against it");
  quantize_cmd->add_option("--method", quantize.method,
                           "int8/int4 of a BERT model: rtn (default), gptq, awq or adaround, run on --calibration text")
      ->check(CLI::IsMember({"rtn", "gptq", "awq", "adaround"}));
  quantize_cmd->add_option("--calibration", quantize.calibration,
                           "plain text the --method runs the model on (split into sentences of 6 to 60 words)");
  quantize_cmd->add_option("--calibration-samples", quantize.calibration_samples,
                           "sentences of --calibration used (default 128)")
      ->check(CLI::PositiveNumber);
  quantize_cmd->add_option("--recipe", quantize.recipe, "JSON rules {\"rules\": [{\"match\": regex, \"format\": f}]}");
  quantize_cmd->add_option("--threads", quantize.threads, "threads per tensor (default: all)");
  quantize_cmd->add_option("--report", quantize.report, "also write the summary as JSON to this file");
  quantize_cmd->add_option("--warn-sqnr", quantize.warn_sqnr, "warn below this SQNR in dB (default by format)");

  compare_options compare;
  auto* compare_cmd = app.add_subcommand("compare", "per-tensor SQNR, cosine and max error between two files");
  compare_cmd->add_option("a", compare.a, "reference file")->required();
  compare_cmd->add_option("b", compare.b, "file to compare with it")->required();
  compare_cmd->add_option("--min-sqnr", compare.min_sqnr, "exit 2 if a tensor's SQNR (dB) is below this");

  report_options report;
  auto* report_cmd =
      app.add_subcommand("report", "print quantize --report files again and plot per-tensor SQNR and sizes");
  report_cmd->add_option("reports", report.reports, "one or more JSON reports (plotted side by side)")->required();
  report_cmd->add_option("--plot", report.plot, "draw the chart to this .svg or .png file");
  report_cmd->add_flag("--summary", report.summary, "print one line per report instead of its table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    fmt::print(stderr, "qtl: {} (see qtl --help)\n", e.what());
    return 1;
  }
  try {
    if (*inspect_cmd) return run_inspect(inspect);
    if (*quantize_cmd) return run_quantize(quantize);
    if (*compare_cmd) return run_compare(compare);
    return run_report(report);
  } catch (const failure& e) {
    fmt::print(stderr, "qtl: {}\n", e.what());
  } catch (const qtl::error& e) {
    fmt::print(stderr, "qtl: {}\n", problem_of(e));
  } catch (const std::exception& e) {
    fmt::print(stderr, "qtl: {}\n", e.what());
  }
  return 1;
}
