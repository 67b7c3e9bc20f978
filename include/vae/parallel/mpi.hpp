#pragma once
// Data-parallel training over MPI (target vae::mpi), with PyTorch DDP's
// contract:
//   - at start, rank 0's parameters and objective (and optimizer state, when
//     resuming) are broadcast to every rank (broadcast_state);
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
// Failures (docs/scaling.md): a rank that throws must not leave the others
// blocked in their next collective call. Inside together(), every collective
// call of this header first agrees on whether any rank failed, so a throw on
// one rank becomes a RankFailure (with its message) on all the others. A
// failure anywhere else ends the job: the program's top-level catch calls
// MPI_Abort (vae_mnist does), and a Session left by an exception does so
// itself rather than finalise while the others wait.
//
// GPU ranks (vae::Cuda) all-reduce device memory directly when the MPI
// library is CUDA-aware (cuda_aware()), and through a host buffer otherwise.
// If a rank dies, mpirun ends the job and names the rank (docs/scaling.md).

#include <mpi.h>
#if __has_include(<mpi-ext.h>)
#include <mpi-ext.h>
#endif

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
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

/// Thrown on every rank but the failing one when a rank fails inside
/// together(): names that rank and carries its message.
class RankFailure : public Error {
 public:
  /// Rank `rank` of `ranks` failed with message `what`.
  RankFailure(int rank, int ranks, const std::string& what)
      : Error("vae::mpi: rank " + std::to_string(rank) + " of " + std::to_string(ranks) + " failed: " + what),
        rank_(rank) {}
  /// The rank that failed.
  int failed_rank() const { return rank_; }

 private:
  int rank_;
};

namespace detail {

/// `n` as the int count of one MPI call; throws Error naming `what` and n
/// when it does not fit (MPI-3 counts are int).
inline int count(long long n, const char* what) {
  if (n < 0 || n > INT_MAX)
    throw Error(std::string("vae::mpi: ") + what + " has " + std::to_string(n) +
                " values; one MPI call takes at most " + std::to_string(INT_MAX));
  return static_cast<int>(n);
}

/// One agreement step, a collective call of every rank of comm: each says
/// whether it failed (`failure`: its message, or null). Returns the lowest
/// failing rank and its message, or nothing when no rank failed.
inline std::optional<std::pair<int, std::string>> agree(MPI_Comm comm, const std::string* failure) {
  int me = 0, ranks = 1;
  check(MPI_Comm_rank(comm, &me), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &ranks), "MPI_Comm_size");
  const int mine = failure ? me : ranks;
  int first = ranks;
  check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce (failure agreement)");
  if (first == ranks) return std::nullopt;
  int length = me == first ? count(static_cast<long long>(failure->size()), "the failure message") : 0;
  check(MPI_Bcast(&length, 1, MPI_INT, first, comm), "MPI_Bcast (failure message length)");
  std::string what = me == first ? *failure : std::string(static_cast<std::size_t>(length), ' ');
  check(MPI_Bcast(what.data(), length, MPI_CHAR, first, comm), "MPI_Bcast (failure message)");
  return std::make_pair(first, std::move(what));
}

/// An agreement point before a collective call: throws RankFailure when
/// another rank failed (it is then in together()'s agreement).
inline void check_peers(MPI_Comm comm) {
  if (const auto failed = agree(comm, nullptr)) {
    int ranks = 1;
    MPI_Comm_size(comm, &ranks);
    throw RankFailure(failed->first, ranks, failed->second);
  }
}

}  // namespace detail

/// Runs f() on every rank of comm so that a throw on one rank reaches all of
/// them instead of leaving them blocked: the failing rank rethrows its
/// exception, every other rank throws RankFailure with its message, at its
/// next agreement point (each DistributedOptimizer step, each sum of
/// distributed_options, broadcast_state) or at the end of together(). Every
/// collective call inside f must be one of those; for any other, end the job
/// (MPI_Abort) instead. Costs one 1-int all-reduce per agreement point.
template <class F>
decltype(auto) together(F&& f, MPI_Comm comm = MPI_COMM_WORLD) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      f();
      detail::check_peers(comm);
    } else {
      auto result = f();
      detail::check_peers(comm);
      return result;
    }
  } catch (const RankFailure&) {
    throw;  // agreed on already
  } catch (const std::exception& e) {
    const std::string what = e.what();
    detail::agree(comm, &what);
    throw;
  } catch (...) {
    const std::string what = "an exception not derived from std::exception";
    detail::agree(comm, &what);
    throw;
  }
}

/// MPI_FLOAT or MPI_DOUBLE for S.
template <class S>
MPI_Datatype datatype() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "vae::mpi: float or double only");
  return std::is_same_v<S, float> ? MPI_FLOAT : MPI_DOUBLE;
}

/// Whether an MPI launcher started this process: mpirun or mpiexec (Open
/// MPI's, MPICH's Hydra) or Slurm's srun, which set one of
/// OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or PMI_SIZE for each rank.
inline bool launched() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

/// MPI for the lifetime of a program: initialises it (unless already done)
/// with errors returned rather than fatal, and finalises it on destruction.
/// Destroyed by an exception (one left its scope) with more than one rank,
/// it says so on stderr ("vae::mpi::Session: left by an exception on rank 1
/// of 2: ...") and calls MPI_Abort(MPI_COMM_WORLD, 1) instead: finalising
/// would leave the other ranks blocked in their next collective call. Catch
/// inside its scope to print the error first.
class Session {
 public:
  /// When to initialise MPI: always, or only when launched() (a program
  /// started on its own then runs as one process without MPI: Open MPI's
  /// start without a launcher spawns its run-time daemon, about 1.5 s).
  enum class Start { always, when_launched };

  /// Initialises MPI (MPI_THREAD_FUNNELED) unless the program already did, or
  /// unless `start` is when_launched and no launcher started this process;
  /// pass main's argc and argv.
  Session(int* argc, char*** argv, Start start = Start::always) {
    int done = 0;
    MPI_Initialized(&done);
    if (!done && start == Start::when_launched && !launched()) return;
    if (!done) {
      int provided = 0;
      check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owner_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    uncaught_ = std::uncaught_exceptions();
    active_ = true;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    if (!active_) return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!owner_ || finalized) return;
    int ranks = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (std::uncaught_exceptions() > uncaught_ && ranks > 1) {
      // Said here, by the rank that ends the job: the launcher's own report
      // of an abort is not always printed (Open MPI 4.1 can lose it).
      int r = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &r);
      std::fprintf(stderr, "vae::mpi::Session: left by an exception on rank %d of %d: MPI_Abort ends every rank\n", r,
                   ranks);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
  }

  /// Whether MPI is initialised for this program (false only for a
  /// when_launched Session of a process started on its own).
  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool owner_ = false;
  int uncaught_ = 0;
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
  const int n = detail::count(static_cast<long long>(v.size()), "the gradient buffer");
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
  /// inner's step. Every rank must call it the same number of times. An
  /// agreement point of together(): throws RankFailure when a rank failed.
  void step(View<S> params, ConstView<S> grads) {
    detail::check_peers(comm_);
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

namespace detail {

/// Makes every rank's objective rank 0's (a resumed checkpoint's, say):
/// reconstruction loss, KL form, beta, bound and samples.
template <class Model>
void broadcast_objective(Model& model, MPI_Comm comm) {
  using S = typename Model::Scalar;
  const Objective<S>& o = model.objective();
  // Every field is exact as a double: small enum values, beta (float or
  // double) and samples (at most 2^20).
  double fields[5] = {double(static_cast<int>(o.reconstruction)), double(static_cast<int>(o.kl)), double(o.beta),
                      double(static_cast<int>(o.bound)), double(o.samples)};
  check(MPI_Bcast(fields, 5, MPI_DOUBLE, 0, comm), "MPI_Bcast (objective)");
  Objective<S> r;
  r.reconstruction = static_cast<Reconstruction>(static_cast<int>(fields[0]));
  r.kl = static_cast<KlForm>(static_cast<int>(fields[1]));
  r.beta = static_cast<S>(fields[2]);
  r.bound = static_cast<Bound>(static_cast<int>(fields[3]));
  r.samples = static_cast<Index>(fields[4]);
  model.set_objective(r);
}

}  // namespace detail

/// Makes every rank hold rank 0's parameters and objective (loss, KL form,
/// beta, bound, samples) and, when given, its optimizer state (settings,
/// step count, moments) and training position. An agreement point of
/// together(): throws RankFailure when a rank failed before it (rank 0
/// reading a checkpoint, say).
template <class Model, class B = typename Model::Backend>
void broadcast_state(Model& model, Adam<typename Model::Scalar, B>* optimizer = nullptr,
                     io::TrainingPosition* position = nullptr, MPI_Comm comm = MPI_COMM_WORLD) {
  using S = typename Model::Scalar;
  detail::check_peers(comm);
  const MPI_Datatype type = datatype<S>();
  const int n = detail::count(static_cast<long long>(model.num_parameters()), "the model's parameters");
  Vector<S> params = model.parameters_host();
  check(MPI_Bcast(params.data(), n, type, 0, comm), "MPI_Bcast (parameters)");
  model.set_parameters(params);
  detail::broadcast_objective(model, comm);
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
/// sums across ranks (agreement points of together()), progress on rank 0
/// only. options.batch_size stays the per-rank batch, as in DDP.
inline TrainOptions distributed_options(TrainOptions options, MPI_Comm comm = MPI_COMM_WORLD) {
  options.shard = Shard{rank(comm), size(comm), /*pad=*/true};
  options.sum_across = [comm](double* values, int n) {
    detail::check_peers(comm);
    sum_in_place(values, n, comm);
  };
  if (rank(comm) != 0) options.progress = nullptr;
  return options;
}

}  // namespace vae::mpi
