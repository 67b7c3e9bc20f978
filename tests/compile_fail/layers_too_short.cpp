// Must not compile: a network needs at least an input and an output size.
#include <vae/vae.hpp>
int main() { vae::MlpVae<vae::Layers<784>> model; }
