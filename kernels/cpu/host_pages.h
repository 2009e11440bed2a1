// Reclaiming host pages that will not be read soon (rf_release_pages), shared
// by the CPU and OpenCL backends: whole pages only, contents never change.
#pragma once

#include <cstdint>
#include <sys/mman.h>
#include <unistd.h>

namespace rf {

/** madvise(MADV_PAGEOUT) on every page fully inside [p, p + bytes); a no-op where the OS lacks it. */
inline void release_pages(const void *p, int64_t bytes) {
#ifdef MADV_PAGEOUT
    if (p == nullptr || bytes <= 0) return;
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (uintptr_t(p) + page - 1) & ~(page - 1);
    const uintptr_t end = (uintptr_t(p) + uintptr_t(bytes)) & ~(page - 1);
    if (end > begin) (void)madvise(reinterpret_cast<void *>(begin), end - begin, MADV_PAGEOUT);
#else
    (void)p;
    (void)bytes;
#endif
}

}  // namespace rf
