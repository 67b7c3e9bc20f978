// Must not compile: a type that does not meet the encoder requirements.
#include <vae/vae.hpp>
struct NotAnEncoder {};
int main() { vae::AutoencoderOf<NotAnEncoder, vae::Decoder<2, 8, 16>> model; }
