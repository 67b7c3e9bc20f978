// vae_mnist's models with elu hidden layers: every --hidden and --latent
// (one file per activation, so that they compile in parallel).
#include "run.hpp"

namespace examples {

template int run_activation<vae::Cpu, vae::Elu>(const RunOptions&, const Data&);
template void check_weights_activation<vae::Elu>(const RunOptions&);

}  // namespace examples
