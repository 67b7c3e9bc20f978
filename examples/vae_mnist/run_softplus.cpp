// vae_mnist's models with softplus hidden layers: every --hidden and --latent
// (one file per activation, so that they compile in parallel).
#include "run.hpp"

namespace examples {

template int run_activation<vae::Cpu, vae::Softplus>(const RunOptions&, const Data&);
template void check_weights_activation<vae::Softplus>(const RunOptions&);

}  // namespace examples
