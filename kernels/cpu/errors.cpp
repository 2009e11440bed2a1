// rf_last_error and the thread-local message behind it.
#include "backend.h"

#include <cstdarg>
#include <cstdio>

namespace rf {

static thread_local char g_message[1024];

rf_status fail(rf_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_message, sizeof g_message, fmt, ap);
    va_end(ap);
    return status;
}

void clear_error() { g_message[0] = '\0'; }

}  // namespace rf

extern "C" RF_API const char *rf_last_error(void) { return rf::g_message; }
