"""Speed and memory: throughput, kernels, input pipelines, PyTorch, workers."""
