#!/bin/sh
# End-to-end test of the qtl tool. Usage: qtl_tool.sh QTL MAKE_MODEL WORKDIR MINILM_DIR
set -u
qtl=$1 make_model=$2 work=$3 minilm=$4
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect STATUS COMMAND...: runs it (output in out.txt, err.txt), checks the exit status
expect() {
  want=$1; shift
  "$@" >out.txt 2>err.txt; got=$?
  [ "$got" -eq "$want" ] || { fail "exit $got, not $want: $*"; cat out.txt err.txt; }
}
contains() { grep -q -- "$2" "$1" || { fail "$1 lacks '$2'"; cat "$1"; }; }

expect 0 "$make_model" model.safetensors

# inspect lists every tensor, dtype and shape
expect 0 "$qtl" inspect model.safetensors
for t in model.embed_tokens.weight model.layers.0.mlp.up_proj.weight model.layers.0.self_attn.q_proj.weight; do
  contains out.txt "$t"
done
contains out.txt "BF16"
contains out.txt "5 tensors"

# q8_0 GGUF: quantized weights, kept norm/embedding/odd rows, SQNR > 30 dB by compare
expect 0 "$qtl" quantize model.safetensors -o q8.gguf --format q8_0 --threads 2 --report q8.json
[ -s q8.gguf ] || fail "q8.gguf missing"
contains out.txt "fewer than 2 dims"
contains out.txt "embedding, norm or bias"
contains out.txt "not a multiple of q8_0's block of 32"
contains q8.json '"compression_ratio"'
expect 0 "$qtl" inspect q8.gguf
contains out.txt "model.layers.0.mlp.up_proj.weight *q8_0"
contains out.txt "general.file_type = 7"
expect 0 "$qtl" compare model.safetensors q8.gguf --min-sqnr 30
contains out.txt "F32 -> q8_0"
# a 4-bit file does not reach 30 dB: --min-sqnr must notice (exit 2)
expect 0 "$qtl" quantize model.safetensors -o q4.gguf --format q4_0
expect 2 "$qtl" compare model.safetensors q4.gguf --min-sqnr 30
# the SIMD quantizers write the scalar reference's bytes
QTL_ARCH=scalar "$qtl" quantize model.safetensors -o q4_scalar.gguf --format q4_0 >/dev/null 2>&1 || fail "QTL_ARCH=scalar"
cmp -s q4.gguf q4_scalar.gguf || fail "q4_0 output differs between the selected arch and scalar"
expect 0 "$qtl" compare model.safetensors q4.gguf --min-sqnr 15
contains out.txt "F32 -> q4_0"

# nf4 safetensors in the transformers + bitsandbytes layout
expect 0 "$qtl" quantize model.safetensors -o nf4.safetensors --format nf4 --report nf4.json
expect 0 "$qtl" inspect nf4.safetensors
contains out.txt "model.layers.0.mlp.up_proj.weight *U8 *\[4096, 1\]"
contains out.txt "model.layers.0.mlp.up_proj.weight.absmax *F32 *\[128\]"
contains out.txt "model.layers.0.mlp.up_proj.weight.quant_map *F32 *\[16\]"
contains out.txt "up_proj.weight.quant_state.bitsandbytes__nf4 *U8"
contains nf4.safetensors '{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": \[64, 128\]}'

# compare decodes the nf4 layout: 4-bit quality, not 8-bit
expect 0 "$qtl" compare model.safetensors nf4.safetensors --min-sqnr 15
contains out.txt "F32 -> nf4"
expect 2 "$qtl" compare model.safetensors nf4.safetensors --min-sqnr 30

# int8 per channel, and a recipe that keeps q_proj and sends up_proj to q4_0
expect 0 "$qtl" quantize model.safetensors -o int8.safetensors --format int8
expect 0 "$qtl" inspect int8.safetensors
contains out.txt "model.layers.0.mlp.up_proj.weight_scale *F32 *\[64, 1\]"
expect 0 "$qtl" compare model.safetensors int8.safetensors --min-sqnr 30
contains out.txt "BF16 -> int8"
expect 0 "$qtl" quantize model.safetensors -o int8a.safetensors --format int8 --scheme asym
expect 0 "$qtl" compare model.safetensors int8a.safetensors --min-sqnr 30
contains out.txt "5 tensors compared, 0 not comparable"
# int8 per group; int4 in compressed-tensors' pack-quantized layout (groups of 128 by default)
expect 0 "$qtl" quantize model.safetensors -o int8g.safetensors --format int8 --group-size 32
expect 0 "$qtl" inspect int8g.safetensors
contains out.txt "model.layers.0.mlp.up_proj.weight_scale *F32 *\[64, 4\]"
expect 0 "$qtl" compare model.safetensors int8g.safetensors --min-sqnr 30
expect 0 "$qtl" quantize model.safetensors -o int4.safetensors --format int4
contains out.txt "kept: row of 64 is not a multiple of the group size 128"
expect 0 "$qtl" inspect int4.safetensors
contains out.txt "model.layers.0.mlp.up_proj.weight_packed *I32 *\[64, 16\]"
contains out.txt "model.layers.0.mlp.up_proj.weight_scale *F32 *\[64, 1\]"
contains out.txt "model.layers.0.mlp.up_proj.weight_shape *I64 *\[2\]"
expect 0 "$qtl" compare model.safetensors int4.safetensors --min-sqnr 15
contains out.txt "F32 -> int4"
expect 2 "$qtl" compare model.safetensors int4.safetensors --min-sqnr 30
expect 0 "$qtl" quantize model.safetensors -o int4a.safetensors --format int4 --scheme asym --group-size 32
expect 0 "$qtl" inspect int4a.safetensors
contains out.txt "model.layers.0.mlp.up_proj.weight_zero_point *I32 *\[8, 4\]"
contains out.txt "model.layers.0.self_attn.q_proj.weight_zero_point *I32 *\[4, 2\]"
expect 0 "$qtl" compare model.safetensors int4a.safetensors --min-sqnr 15
contains out.txt "BF16 -> int4"
expect 1 "$qtl" quantize model.safetensors -o g.gguf --format q8_0 --group-size 32
contains err.txt "group-size applies to nf4, fp4, int8 and int4 only"
expect 1 "$qtl" quantize model.safetensors -o q4a.gguf --format q4_0 --scheme asym
printf '{"rules": [{"match": "q_proj", "format": "keep"}, {"match": "up_proj", "format": "q4_0"}]}' >recipe.json
expect 0 "$qtl" quantize model.safetensors -o mixed.gguf --format q8_0 --recipe recipe.json
expect 0 "$qtl" inspect mixed.gguf
contains out.txt "self_attn.q_proj.weight *bf16"
contains out.txt "up_proj.weight *q4_0"

# K-quants: rows that are not whole 256-value blocks take llama-quantize's fallback type
# (q4_K -> q5_0, q6_K -> q8_0, q2_K -> q4_0); rows not whole 32-value blocks are kept.
# Format names in any case; Q4_K is llama-quantize's alias of the Q4_K_M mix (file type 15).
expect 0 "$qtl" quantize model.safetensors -o q4k.gguf --format Q4_K
contains out.txt "fallback to q5_0: row of 128 is not a multiple of q4_K's block of 256"
contains out.txt "odd_proj.weight .*kept: row of 40 is not a multiple of q4_K's block of 256, nor of its fallback q5_0's 32"
expect 0 "$qtl" inspect q4k.gguf
contains out.txt "model.layers.0.mlp.up_proj.weight *q5_0"
contains out.txt "general.file_type = 15"
expect 0 "$qtl" quantize model.safetensors -o q6k.gguf --format q6_K
expect 0 "$qtl" inspect q6k.gguf
contains out.txt "model.layers.0.mlp.up_proj.weight *q8_0"
contains out.txt "general.file_type = 18"
expect 0 "$qtl" quantize model.safetensors -o q2k.gguf --format q2_K
expect 0 "$qtl" inspect q2k.gguf
contains out.txt "model.layers.0.mlp.up_proj.weight *q4_0"
# an imatrix that is not one: one error line naming it, no output
printf 'GGUF' >not_an_imatrix.gguf
expect 1 "$qtl" quantize model.safetensors -o im.gguf --format q4_K --imatrix not_an_imatrix.gguf
contains err.txt "^qtl: .*not_an_imatrix.gguf"
[ -e im.gguf ] && fail "im.gguf left behind"
expect 1 "$qtl" quantize model.safetensors -o im.gguf --format q4_K --imatrix missing.dat
contains err.txt "^qtl: .*missing.dat"

# plain conversions (llama-quantize's F16 / BF16 / F32): every 2-D weight, rows of any length
expect 0 "$qtl" quantize model.safetensors -o f16.gguf --format F16
expect 0 "$qtl" inspect f16.gguf
contains out.txt "model.layers.0.odd_proj.weight *f16"
contains out.txt "general.file_type = 1$"
expect 0 "$qtl" compare model.safetensors f16.gguf --min-sqnr 60

# failures: one "qtl: <file>: ..." line, exit 1, no output file
head -c 200 model.safetensors >truncated.safetensors
expect 1 "$qtl" quantize truncated.safetensors -o bad.gguf --format q8_0
[ -e bad.gguf ] && fail "bad.gguf left behind"
contains err.txt "^qtl: truncated.safetensors: "
[ "$(wc -l <err.txt)" -eq 1 ] || fail "error is not one line"
expect 1 "$qtl" quantize model.safetensors -o no/such/dir/out.gguf --format q8_0
contains err.txt "^qtl: .*no/such/dir/out.gguf"
expect 1 "$qtl" quantize model.safetensors -o wrong.safetensors --format q8_0
contains err.txt "^qtl: wrong.safetensors: format q8_0"
[ -e wrong.safetensors ] && fail "wrong.safetensors left behind"
expect 1 "$qtl" quantize model.safetensors -o q.gguf --format q3_x
expect 1 "$qtl" quantize model.safetensors --format q8_0
contains err.txt "^qtl: .*--output"
expect 0 "$qtl" quantize --help
expect 1 "$qtl" inspect missing.gguf
contains err.txt "^qtl: missing.gguf"
# report: prints the quantize table again from the JSON, sums it up, plots it
expect 0 "$qtl" quantize model.safetensors -o q4r.gguf --format q4_0 --report q4.json
grep -v '^wrote ' out.txt >quantize_table.txt
expect 0 "$qtl" report q4.json
cmp -s out.txt quantize_table.txt || { fail "qtl report prints another table than quantize"; diff out.txt quantize_table.txt; }
expect 0 "$qtl" report q8.json q4.json --summary
contains out.txt "^q8.json  *q8_0   *2 of 5 "
contains out.txt "^q4.json  *q4_0   *2 of 5 "
# width and height of a PNG (big-endian words at bytes 16 and 20)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'; }
expect 0 "$qtl" report q8.json --plot one.png
expect 0 "$qtl" report q8.json q4.json nf4.json --plot three.png
contains out.txt "^wrote three.png"
[ "$(od -An -c -N4 three.png | tr -d ' ')" = "211PNG" ] || fail "three.png is not a PNG"
set -- $(png_size one.png) $(png_size three.png)
[ "$1" -gt 600 ] && [ "$2" -gt 100 ] || fail "one.png is $1 x $2"
[ "$4" -gt "$2" ] || fail "three reports must make a taller plot than one ($4 <= $2)"
expect 0 "$qtl" report q8.json q4.json --plot two.svg
contains two.svg "^<svg"
contains two.svg 'width="[0-9.]*pt" height="[0-9.]*pt"'
# bad reports and plot paths: one line naming the file, no plot left behind
expect 1 "$qtl" report q8.json --plot chart.pdf
contains err.txt "^qtl: chart.pdf: the plot must be a .svg or .png file"
[ -e chart.pdf ] && fail "chart.pdf left behind"
printf '{"tensors": [' >broken.json
expect 1 "$qtl" report broken.json --plot broken.png
contains err.txt "^qtl: broken.json: report is not valid JSON"
[ -e broken.png ] && fail "broken.png left behind"
printf '{"input": "a", "output": "b", "format": "q8_0", "tensors": [{"name": "w", "shape": [2, 32], "dtype": "F32", "format": "q8_0", "bytes_before": 256}]}' >short.json
expect 1 "$qtl" report short.json
contains err.txt "^qtl: short.json: tensor \"w\" has no \"bytes_after\""
printf '{"input": "a", "output": "b", "format": "q8_0", "tensors": [{"name": "w", "shape": [2, 32], "dtype": "F32", "format": "keep", "bytes_before": 256, "bytes_after": 256}]}' >kept.json
expect 1 "$qtl" report kept.json --plot kept.svg
contains err.txt "^qtl: kept.svg: nothing to plot"
expect 1 "$qtl" report missing.json
contains err.txt "^qtl: missing.json: cannot open the report"

# --method: the PTQ algorithms run the model (BERT) on calibration text; bad use first
printf 'The quick brown fox jumps over the lazy dog.\n' >one.txt
: >empty.txt
expect 1 "$qtl" quantize model.safetensors -o m.safetensors --format int4 --method gptq
contains err.txt "needs --calibration text"
expect 1 "$qtl" quantize model.safetensors -o m.gguf --format q4_0 --method gptq --calibration one.txt
contains err.txt "use --format int4 or int8"
expect 1 "$qtl" quantize model.safetensors -o m.safetensors --format int4 --calibration one.txt
contains err.txt "calibration is for --method"
expect 1 "$qtl" quantize model.safetensors -o m.safetensors --format int4 --method gptq --calibration one.txt
contains err.txt "give the model.safetensors of a Hugging Face BERT directory"
expect 1 "$qtl" quantize model.safetensors -o m.safetensors --format int4 --method gpt --calibration one.txt
contains err.txt "gpt not in {rtn,gptq,awq,adaround}"
# The demo's MiniLM, its first layer run (config.json of 1 layer): that layer's six
# linears by the method, every other tensor as round to nearest writes it.
mkdir bert1 && ln -s "$minilm/model.safetensors" bert1/model.safetensors && cp "$minilm/tokenizer.json" bert1/
sed 's/"num_hidden_layers": *6/"num_hidden_layers": 1/' "$minilm/config.json" >bert1/config.json
contains bert1/config.json '"num_hidden_layers": 1'
expect 1 "$qtl" quantize bert1/model.safetensors -o m.safetensors --format int4 --method gptq --calibration empty.txt
contains err.txt "has no sentence"
expect 0 "$qtl" quantize bert1/model.safetensors -o rtn.safetensors --format int4
calibration=/usr/share/common-licenses/GPL-3
for method in gptq awq; do
  expect 0 "$qtl" quantize bert1/model.safetensors -o $method.safetensors --format int4 --method $method \
    --calibration $calibration --calibration-samples 16
  for part in attention.self.query attention.self.key attention.self.value attention.output.dense intermediate.dense output.dense; do
    contains out.txt "encoder.layer.0.$part.weight .* $method\$"
  done
  grep -q "encoder.layer.1.attention.self.query.weight .* $method" out.txt && fail "layer 1 is not run: not $method"
  # the method's codes differ from round to nearest's where it ran, and nowhere else
  expect 0 "$qtl" compare rtn.safetensors $method.safetensors
  grep -q "encoder.layer.0.output.dense.weight .*int4 -> int4 *exact" out.txt && fail "$method wrote round to nearest"
  contains out.txt "encoder.layer.1.output.dense.weight .*int4 -> int4 *exact"
  contains out.txt "encoder.layer.0.output.dense.bias .*F32 -> F32 *exact"
  # AWQ folds its scales into value: its bias changes with them, the other methods keep it
  contains out.txt "encoder.layer.0.attention.self.value.bias .*F32 -> F32"
  if [ $method = awq ]; then
    grep -q "encoder.layer.0.attention.self.value.bias .*exact" out.txt && fail "awq did not fold into value's bias"
  else
    contains out.txt "encoder.layer.0.attention.self.value.bias .*F32 -> F32 *exact"
  fi
done

ls ./*qtl-tmp* >/dev/null 2>&1 && fail "temporary files left behind"

[ "$failures" -eq 0 ] && echo "all qtl tool checks passed"
exit "$failures"
