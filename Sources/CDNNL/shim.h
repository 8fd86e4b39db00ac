// oneDNN (Debian libdnnl-dev 2.6, OpenMP runtime): the bf16 matrix products only; fp32 stays on OpenBLAS.
#include <oneapi/dnnl/dnnl.h>
// libgomp's per-thread team size: products are split into bands by SAMTensor itself, one thread per band.
void omp_set_num_threads(int n);
