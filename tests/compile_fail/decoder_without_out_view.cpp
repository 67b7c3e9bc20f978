// Must not compile: a decoder whose workspace has no out_view(batch), through
// which the model reads the decoder's output (vae/models/requirements.hpp).
#include <vae/vae.hpp>
struct NoOutView : vae::Decoder<2, 8, 16> {
  struct Workspace : vae::Decoder<2, 8, 16>::Workspace {
    void out_view() = delete;
  };
};
int main() { vae::AutoencoderOf<vae::Encoder<16, 8, 2>, NoOutView> model; }
