// qtl::cuda::device_buffer<T>: an owning array in device memory (cudaMalloc / cudaFree)
// with host copies in and out, for callers of the qtl/cuda/ kernels, their tests and bench.
#pragma once

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include <cuda_runtime.h>

#include "qtl/core/error.hpp"
#include "qtl/cuda/check.cuh"

namespace qtl::cuda {

template <class T>
class device_buffer {
 public:
  explicit device_buffer(std::size_t size) : size_(size) {
    check(cudaMalloc(reinterpret_cast<void**>(&data_), size * sizeof(T)), "device_buffer: cudaMalloc");
  }
  explicit device_buffer(std::span<const T> host) : device_buffer(host.size()) { upload(host); }
  explicit device_buffer(const std::vector<T>& host) : device_buffer(std::span<const T>(host)) {}
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  device_buffer& operator=(device_buffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  ~device_buffer() { cudaFree(data_); }  // no throw from a destructor: a failure here is lost

  T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

  // Copies host (at most size() values) to the start of the buffer; synchronous.
  void upload(std::span<const T> host) {
    check_room(size_, host.size(), "device_buffer::upload", "device buffer", "values");
    check(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice), "device_buffer::upload");
  }
  // The whole buffer on the host; synchronous (waits for the kernels before it).
  std::vector<T> download() const {
    std::vector<T> host(size_);
    check(cudaMemcpy(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost), "device_buffer::download");
    return host;
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace qtl::cuda
