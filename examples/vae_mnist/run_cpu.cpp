// vae_mnist's models on the CPU: every --hidden, --latent and --activation
// (the networks are shaped at run time).
#include "run.hpp"

namespace examples {

template int run<vae::Cpu>(const RunOptions&, const Data&);

void check_weight_files(const RunOptions& o) { check_weights_on_cpu(o); }

}  // namespace examples
