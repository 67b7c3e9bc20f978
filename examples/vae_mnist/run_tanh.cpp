// vae_mnist's models with tanh hidden layers: every --hidden and --latent
// (one file per activation, so that they compile in parallel).
#include "run.hpp"

namespace examples {

template int run_activation<vae::Cpu, vae::Tanh>(const RunOptions&, const Data&);
template void check_weights_activation<vae::Tanh>(const RunOptions&);

}  // namespace examples
