// Must not compile: a padding as large as the kernel.
#include <vae/vae.hpp>
int main() { return int(vae::net::Conv2d<1, 8, 8, 2, 3, 1, 3>::parameters); }
