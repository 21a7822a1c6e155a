// Exists only so that the target simscale_torch_pch_exe compiles the precompiled <torch/torch.h>
// with the flags of executables.
int main() { return 0; }
