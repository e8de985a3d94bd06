// GGUF, llama.cpp's model file: typed metadata and ggml tensors. Reading (parse a span,
// open a mapped file: zero-copy tensor views, every field checked) and writing (whole
// files, or streamed one tensor at a time). See docs/io.md.
#pragma once

#include "qtl/io/gguf/read.hpp"
#include "qtl/io/gguf/tensor.hpp"
#include "qtl/io/gguf/value.hpp"
#include "qtl/io/gguf/write.hpp"
