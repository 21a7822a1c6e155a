// Exists only so that the target simscale_torch_pch compiles the precompiled <torch/torch.h>.
