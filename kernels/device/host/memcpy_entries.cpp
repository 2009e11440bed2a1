// rf_memcpy and rf_release_pages on a device backend: a copy is one command
// on the stream through the backend's Launch (launch.h), host to host a
// memmove after the stream's queued work.
#include "launch.h"
#include "../../cpu/host_pages.h"

using namespace rf::RF_DISPATCH_NS;

extern "C" {

RF_API rf_status rf_release_pages(const void *p, int64_t bytes) {
    RF_ENTRY({
        RF_CHECK(bytes >= 0, "rf_release_pages: negative size %lld", (long long)bytes);
        rf::release_pages(p, bytes);
        return RF_OK;
    });
}

RF_API rf_status rf_memcpy(void *dst, const void *src, int64_t bytes, int32_t kind, rf_stream s) {
    RF_ENTRY({
        RF_CHECK(bytes >= 0, "rf_memcpy: negative size %lld", (long long)bytes);
        RF_CHECK(kind >= RF_COPY_HOST_TO_DEVICE && kind <= RF_COPY_HOST_TO_HOST, "rf_memcpy: unknown kind %d", kind);
        if (bytes == 0) return RF_OK;
        RF_CHECK(dst != nullptr && src != nullptr, "rf_memcpy: NULL pointer");
        // Each side is what it is (a device block or host memory), whatever `kind` says,
        // like the CPU backend; the copy is one command on the stream (host ranges staged
        // or wrapped by the launch, see the backend's memory model).
        Block b;
        if (!find_block(src, &b) && !find_block(dst, &b)) {  // host to host: after the stream's work
            if (s) {
                if (rf_status st = stream_wait("rf_memcpy", s); st != RF_OK) return st;
            }
            std::memmove(dst, src, size_t(bytes));
            return RF_OK;
        }
        Launch l("rf_memcpy", s);
        const size_t n = size_t(bytes);
        int from = l.arg(src, n), to = l.arg(dst, n);
        rf_status st = l.bind();
        if (st != RF_OK) return st;
        st = l.copy(l.mem(from), l.offset(from), l.mem(to), l.offset(to), n);
        if (st != RF_OK) return st;
        return l.finish();
    });
}

}  // extern "C"
