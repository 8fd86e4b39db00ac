// glibc's malloc tuning (mallopt), which Swift's Glibc module does not export.
#include <malloc.h>
/// Keep freed memory in the heap (no mmap per large block, no trimming): what MALLOC_MMAP_MAX_=0
/// MALLOC_TRIM_THRESHOLD_=<huge> MALLOC_TOP_PAD_=<pad> do from the environment.
static inline void sam_tune_malloc(int top_pad) {
#ifdef M_MMAP_MAX
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    mallopt(M_TOP_PAD, top_pad);
#endif
}
