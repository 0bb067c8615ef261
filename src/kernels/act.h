/* act.h — the activation functions the kernels compute (elementwise, or fused into a
 * GEMM's epilogue); model/arch.c maps transformers' names onto them. */
#ifndef TL_KERNELS_ACT_H
#define TL_KERNELS_ACT_H

typedef enum tl_activation { TL_ACT_GELU, TL_ACT_GELU_TANH, TL_ACT_RELU, TL_ACT_SILU } tl_activation;

#endif
