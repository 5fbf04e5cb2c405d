/* The `cpu` backend: oneDNN primitives for convolutions, matrix products and pools (with fused
 * bias, residual add and activations), the reference kernels for every other node. */
#ifndef DYCL_BACKEND_CPU_CPU_H
#define DYCL_BACKEND_CPU_CPU_H

#include "backend/backend.h"

/* The backend, or NULL when dycl was built without oneDNN. */
const dycl_backend_t* dycl_backend_cpu(void);

#endif
