#pragma once
// Buffer<Cuda, S>: device memory with the semantics of Buffer<Cpu, S>. It
// grows on reserve(), never shrinks, and keeps nothing of its old contents
// when it grows, so a workspace stops allocating once it has seen its largest
// batch. Copies are deep (device to device), moves steal the pointer.

#include <cstddef>
#include <string>
#include <utility>

#include "vae/backend/backend.hpp"
#include "vae/backend/cuda/check.hpp"

namespace vae {

/// Device memory on the device current at allocation, freed with cudaFree.
template <class S>
class Buffer<Cuda, S> {
 public:
  Buffer() = default;

  /// n scalars, zeroed (like Buffer<Cpu, S>(n)).
  explicit Buffer(Index n) {
    allocate(n);
    if (size_ > 0) {
      detail::cuda_check(cudaMemset(data_, 0, bytes(size_)), "cudaMemset (Buffer)");
      detail::cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (Buffer)");
    }
  }

  /// A deep copy. Waits for all queued device work first, so the copy sees
  /// the source as the last queued operation left it, on any stream.
  Buffer(const Buffer& other) {
    allocate(other.size_);
    if (size_ > 0) {
      detail::cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (Buffer copy)");
      detail::cuda_check(cudaMemcpy(data_, other.data_, bytes(size_), cudaMemcpyDeviceToDevice), "cudaMemcpy (Buffer copy)");
      detail::cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (Buffer copy)");
    }
  }
  /// Takes the other's memory; the other is left empty.
  Buffer(Buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  /// A deep copy, as the copy constructor.
  Buffer& operator=(const Buffer& other) {
    if (this != &other) {
      Buffer copy(other);
      swap(copy);
    }
    return *this;
  }
  /// Frees this memory and takes the other's.
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      Buffer gone(std::move(*this));
      swap(other);
    }
    return *this;
  }
  ~Buffer() { free(); }

  /// Makes room for at least n scalars; keeps nothing of the old contents
  /// when it has to grow. cudaFree waits for queued work that may still use
  /// the old memory.
  void reserve(Index n) {
    if (n <= size_) return;
    free();
    allocate(n);
  }
  /// Capacity in scalars.
  Index size() const { return size_; }
  /// Device pointer to the first scalar (null when empty).
  S* data() { return data_; }
  /// Device pointer to the first scalar, read-only.
  const S* data() const { return data_; }

  /// Exchanges the memory of two buffers.
  void swap(Buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

 private:
  static std::size_t bytes(Index n) { return static_cast<std::size_t>(n) * sizeof(S); }

  void allocate(Index n) {
    if (n < 0) throw ShapeError("vae::Buffer<Cuda>: asked for " + std::to_string(n) + " scalars, expected >= 0");
    if (n == 0) return;
    void* p = nullptr;
    detail::cuda_check(cudaMalloc(&p, bytes(n)),
                       ("cudaMalloc of " + std::to_string(bytes(n)) + " bytes (Buffer)").c_str());
    data_ = static_cast<S*>(p);
    size_ = n;
  }

  void free() noexcept {
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }

  S* data_ = nullptr;
  Index size_ = 0;
};

}  // namespace vae
