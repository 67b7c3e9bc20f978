#pragma once
// Data-parallel training over MPI (target vae::mpi), with PyTorch DDP's
// contract:
//   - at start, rank 0's parameters (and optimizer state, when resuming) are
//     broadcast to every rank (broadcast_state);
//   - every epoch, every rank draws the same shuffle from the shared seed and
//     takes its own slice of each global batch (vae::Shard), and its own part
//     of the noise stream (Rng::share);
//   - after the backward pass the flat gradient buffer is all-reduced (summed)
//     in place in one call (DistributedOptimizer). The library's losses are
//     sums over the batch, so the summed gradient is the gradient of the
//     global batch: N ranks at batch b step like one process at batch N x b;
//   - the optimizer step then runs identically everywhere; the reported
//     losses and the test evaluation are summed across ranks
//     (distributed_options).
// Checkpoints, pictures and metrics are rank 0's business (the caller's).
//
// GPU ranks (vae::Cuda) all-reduce device memory directly when the MPI
// library is CUDA-aware (cuda_aware()), and through a host buffer otherwise.
// If a rank dies, mpirun ends the job and names the rank (docs/scaling.md).

#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "vae/backend/cpu.hpp"
#include "vae/core/error.hpp"
#include "vae/optim/adam.hpp"
#include "vae/serialization/checkpoint.hpp"
#include "vae/train/trainer.hpp"

namespace vae::mpi {

/// Throws vae::Error naming the call when an MPI call fails.
inline void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(std::string("vae::mpi: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

/// MPI_FLOAT or MPI_DOUBLE for S.
template <class S>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "vae::mpi: float or double only");
  return std::is_same_v<S, float> ? MPI_FLOAT : MPI_DOUBLE;
}

/// MPI for the lifetime of a program: initialises it (unless already done)
/// with errors returned rather than fatal, and finalises it on destruction.
class Session {
 public:
  /// Initialises MPI (MPI_THREAD_FUNNELED) unless the program already did; pass
  /// main's argc and argv.
  Session(int* argc, char*** argv) {
    int done = 0;
    MPI_Initialized(&done);
    if (!done) {
      int provided = 0;
      check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owner_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && !finalized) MPI_Finalize();
  }

 private:
  bool owner_ = false;
};

/// @{
/// This process's rank and the number of ranks in `comm`.
inline int rank(MPI_Comm comm = MPI_COMM_WORLD) {
  int r = 0;
  check(MPI_Comm_rank(comm, &r), "MPI_Comm_rank");
  return r;
}
inline int size(MPI_Comm comm = MPI_COMM_WORLD) {
  int n = 1;
  check(MPI_Comm_size(comm, &n), "MPI_Comm_size");
  return n;
}
/// @}
/// The rank among the processes of this machine (for choosing a GPU:
/// local_rank() % device count).
inline int local_rank(MPI_Comm comm = MPI_COMM_WORLD) {
  MPI_Comm node;
  check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank(comm), MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  const int r = rank(node);
  MPI_Comm_free(&node);
  return r;
}

/// The GPU a rank uses: local_rank() % device_count (ranks of one machine
/// spread over its devices). Make it current (cudaSetDevice) before creating
/// the rank's Cuda::Context and models.
inline int device_for_rank(int device_count, MPI_Comm comm = MPI_COMM_WORLD) {
  if (device_count < 1) throw Error("vae::mpi::device_for_rank: no CUDA device to choose from");
  return local_rank(comm) % device_count;
}

/// Whether the MPI library reads and writes GPU memory itself (Open MPI
/// built with CUDA support); false when it cannot say.
inline bool cuda_aware() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

/// Sums n doubles across the ranks of comm, in place.
inline void sum_in_place(double* values, int n, MPI_Comm comm = MPI_COMM_WORLD) {
  check(MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, comm), "MPI_Allreduce (losses)");
}

/// Sums a backend buffer of n scalars across ranks, in place, in one call:
/// directly on the CPU or with a CUDA-aware MPI, through `staging` otherwise.
template <class B, class S>
void sum_in_place(const typename B::Context& ctx, View<S> v, std::vector<S>& staging, MPI_Comm comm = MPI_COMM_WORLD) {
  const int n = static_cast<int>(v.size());
  if (std::is_same_v<B, Cpu> || cuda_aware()) {
    if constexpr (!std::is_same_v<B, Cpu>) ctx.synchronize();  // the gradients must be complete
    check(MPI_Allreduce(MPI_IN_PLACE, v.data, n, datatype<S>(), MPI_SUM, comm), "MPI_Allreduce (gradients)");
    return;
  }
  staging.resize(static_cast<std::size_t>(n));
  Ops<B, S>::download(ctx, v, staging.data());
  check(MPI_Allreduce(MPI_IN_PLACE, staging.data(), n, datatype<S>(), MPI_SUM, comm), "MPI_Allreduce (gradients)");
  Ops<B, S>::upload(ctx, staging.data(), v);
}

/// An optimizer that first sums the gradients across ranks (in place in the
/// model's gradient buffer, one all-reduce per step), then steps `inner`.
template <class Opt, class S, class B = Cpu>
class DistributedOptimizer {
 public:
  /// Wraps `inner` (not owned; it must outlive this), summing over the ranks of
  /// `comm` with the backend context `ctx`.
  DistributedOptimizer(Opt& inner, typename B::Context ctx = {}, MPI_Comm comm = MPI_COMM_WORLD)
      : inner_(&inner), ctx_(std::move(ctx)), comm_(comm) {}

  /// Sums grads across the ranks in place (the model's own buffer), then
  /// inner's step. Every rank must call it the same number of times.
  void step(View<S> params, ConstView<S> grads) {
    // The model's own gradient buffer, reduced where it lies (as DDP does).
    sum_in_place<B, S>(ctx_, View<S>{const_cast<S*>(grads.data), grads.rows, grads.cols, grads.ld}, staging_, comm_);
    inner_->step(params, grads);
  }
  /// The wrapped optimizer (its state, checkpoints).
  Opt& inner() { return *inner_; }

 private:
  Opt* inner_;
  typename B::Context ctx_;
  MPI_Comm comm_;
  std::vector<S> staging_;
};

/// Makes every rank hold rank 0's parameters and, when given, its optimizer
/// state (settings, step count, moments) and training position.
template <class Model, class B = typename Model::Backend>
void broadcast_state(Model& model, Adam<typename Model::Scalar, B>* optimizer = nullptr,
                     io::TrainingPosition* position = nullptr, MPI_Comm comm = MPI_COMM_WORLD) {
  using S = typename Model::Scalar;
  const MPI_Datatype type = datatype<S>();
  const int n = static_cast<int>(Model::parameter_count);
  Vector<S> params = model.parameters_host();
  check(MPI_Bcast(params.data(), n, type, 0, comm), "MPI_Bcast (parameters)");
  model.set_parameters(params);
  if (optimizer) {
    AdamOptions o = optimizer->options();
    double settings[6] = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.max_grad_norm};
    long long steps = optimizer->steps();
    check(MPI_Bcast(settings, 6, MPI_DOUBLE, 0, comm), "MPI_Bcast (optimizer settings)");
    check(MPI_Bcast(&steps, 1, MPI_LONG_LONG, 0, comm), "MPI_Bcast (optimizer steps)");
    Vector<S> m = Vector<S>::Zero(n), v = Vector<S>::Zero(n);
    if (optimizer->size() == n) optimizer->download_state(m.data(), v.data());
    check(MPI_Bcast(m.data(), n, type, 0, comm), "MPI_Bcast (first moment)");
    check(MPI_Bcast(v.data(), n, type, 0, comm), "MPI_Bcast (second moment)");
    optimizer->set_options({settings[0], settings[1], settings[2], settings[3], settings[4], settings[5]});
    if (steps > 0) optimizer->restore(n, m.data(), v.data(), steps);
  }
  if (position) {
    std::int64_t p[2] = {position->next_epoch, static_cast<std::int64_t>(position->seed)};
    check(MPI_Bcast(p, 2, MPI_INT64_T, 0, comm), "MPI_Bcast (training position)");
    *position = {p[0], static_cast<std::uint64_t>(p[1])};
  }
}

/// `options` for this rank: its shard of every epoch and of the noise, loss
/// sums across ranks, progress on rank 0 only. options.batch_size stays the
/// per-rank batch, as in DDP.
inline TrainOptions distributed_options(TrainOptions options, MPI_Comm comm = MPI_COMM_WORLD) {
  options.shard = Shard{rank(comm), size(comm), /*pad=*/true};
  options.sum_across = [comm](double* values, int n) { sum_in_place(values, n, comm); };
  if (rank(comm) != 0) options.progress = nullptr;
  return options;
}

}  // namespace vae::mpi
